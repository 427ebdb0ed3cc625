package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The completion scripts ask s3sync itself what may come next: urfave/cli answers the words
// typed so far followed by completionFlag with the commands, or with the flags when the word
// being completed starts with a dash. New commands and flags complete without a new script.
const bashCompletion = `# bash completion for s3sync; load it with: source <(s3sync completion bash)
_s3sync_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local -a typed=("${COMP_WORDS[@]:0:COMP_CWORD}")
  [[ "$cur" == -* ]] && typed+=("$cur")
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$("${typed[@]}" ` + completionFlag + ` 2>/dev/null)" -- "$cur"))
}
complete -o bashdefault -o default -F _s3sync_complete s3sync
`

const zshCompletion = `#compdef s3sync
# zsh completion for s3sync; install it as _s3sync in a directory of $fpath (autoloaded by
# compinit), or load it with: source <(s3sync completion zsh) after compinit
_s3sync() {
  local cur=${words[CURRENT]}
  local -a typed=(${words[1,CURRENT-1]})
  [[ $cur == -* ]] && typed+=($cur)
  local -a choices=(${(f)"$(${typed[@]} ` + completionFlag + ` 2>/dev/null)"})
  if (( ${#choices} )); then
    compadd -a choices
  else
    _files
  fi
}
if [[ "${funcstack[1]}" == "_s3sync" ]]; then
  _s3sync "$@"
else
  compdef _s3sync s3sync
fi
`

func newCompletionCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "Prints a script that completes s3sync's commands and flags in the shell.\n\n" +
			"Example:\n" +
			"  source <(s3sync completion bash)                           # this shell; add it to ~/.bashrc to keep it\n" +
			"  s3sync completion zsh > \"${fpath[1]}/_s3sync\"              # then start a new zsh\n" +
			"  s3sync completion fish > ~/.config/fish/completions/s3sync.fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErrorf("s3sync completion bash", "completion takes one shell: bash, zsh or fish")
			}
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := fmt.Fprint(g.stdout, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(g.stdout, zshCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(g.stdout, script)
				return err
			default:
				return usageErrorf("s3sync completion bash", "completion for %q is not available: bash, zsh or fish", shell)
			}
		},
	}
}
