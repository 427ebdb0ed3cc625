package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// completionFlag is the hidden flag urfave/cli answers with completions; it must stay last.
const completionFlag = "--generate-bash-completion"

// normalizeArgs puts a command line in the order urfave/cli parses, so that flags may be given
// anywhere, as admins type them: global flags after the command (`s3sync report --config
// FILE`) move before it, and the command's flags after its arguments (`report --merge a.db
// b.db --format csv`) move before those. A flag's value stays with its flag; "--" ends the
// flags; an unknown command or flag is left where it is, for cli to name in its error. `help
// COMMAND` becomes `COMMAND --help`.
func normalizeArgs(app *cli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == completionFlag || valueMissing(app, args) != "" {
		return args
	}
	if args[1] == "help" || args[1] == "h" { // `s3sync help copy`: the command's --help
		return append(append([]string{args[0]}, args[2:]...), "--help")
	}
	global := flagArity(app.Flags)
	out := []string{args[0]}
	i := 1
	for ; i < len(args) && isFlagArg(args[i]); i++ {
		if args[i] == "--" {
			return args
		}
		out = append(out, args[i])
		if global[flagName(args[i])] && !strings.Contains(args[i], "=") && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args
	}
	local := flagArity(cmd.Flags)
	local["help"], local["h"] = false, false
	var globals, flags, positional []string
	for j := i + 1; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			positional = append(positional, args[j:]...)
			break
		}
		if !isFlagArg(a) {
			positional = append(positional, a)
			continue
		}
		name := flagName(a)
		takes, isLocal := local[name]
		dst := &flags
		if !isLocal {
			if t, isGlobal := global[name]; isGlobal {
				takes, dst = t, &globals
			}
		}
		*dst = append(*dst, a)
		if takes && !strings.Contains(a, "=") && j+1 < len(args) {
			j++
			*dst = append(*dst, args[j])
		}
	}
	out = append(out, globals...)
	out = append(out, args[i])
	out = append(out, flags...)
	return append(out, positional...)
}

// valueMissing returns the last argument when it is a flag that takes a value and has none
// (`s3sync report --config`), else "": moved, it would take the next word as its value.
func valueMissing(app *cli.App, args []string) string {
	last := args[len(args)-1]
	if !isFlagArg(last) || last == "--" || strings.Contains(last, "=") {
		return ""
	}
	takes := flagArity(app.Flags)
	for _, cmd := range app.Commands {
		for name, t := range flagArity(cmd.Flags) {
			takes[name] = takes[name] || t
		}
	}
	if takes[flagName(last)] {
		return last
	}
	return ""
}

// flagArity maps every name of flags to whether the flag takes a value (all but booleans).
func flagArity(flags []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		_, boolean := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !boolean
		}
	}
	return m
}

// isFlagArg reports whether a is a flag (or "--"); a lone "-" is an argument (stdout).
func isFlagArg(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagName is a flag argument's name, without dashes or "=value".
func flagName(a string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return name
}
