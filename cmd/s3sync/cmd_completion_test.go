package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/internal/testio"
)

// runPlain runs s3sync in-process without a config and returns its exit code and output.
func runPlain(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"s3sync"}, args...), env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

// Every command's --help ends with an example, and every command is in it.
func TestEveryHelpHasAnExample(t *testing.T) {
	code, out, _ := runPlain("--help")
	if code != exitOK {
		t.Fatalf("--help: exit %d", code)
	}
	for _, c := range []string{"init", "plan", "copy", "retry-failed", "report", "status", "check", "verify", "usage", "orphans",
		"fix-acl", "cleanup-uploads", "version", "completion"} {
		if !strings.Contains(out, "   "+c) {
			t.Errorf("s3sync --help does not list %s", c)
		}
		code, help, errs := runPlain(c, "--help")
		if code != exitOK || !strings.Contains(help, "Example:") || !strings.Contains(help, "s3sync "+c) {
			t.Errorf("s3sync %s --help (exit %d) has no example:\n%s%s", c, code, help, errs)
		}
	}
}

// The completion scripts are valid for their shell, and the binary answers what they ask:
// the commands, then a command's flags.
func TestCompletion(t *testing.T) {
	_, bash, _ := runPlain("completion", "bash")
	if !strings.Contains(bash, "complete ") || !strings.Contains(bash, completionFlag) {
		t.Errorf("bash script:\n%s", bash)
	}
	check := exec.Command("bash", "-n")
	check.Stdin = strings.NewReader(bash)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
	// Autoloaded from $fpath, the file's body runs on the first TAB and must complete then;
	// sourced, it registers the function.
	if _, zsh, _ := runPlain("completion", "zsh"); !strings.HasPrefix(zsh, "#compdef s3sync") ||
		!strings.Contains(zsh, `if [[ "${funcstack[1]}" == "_s3sync" ]]; then`) || !strings.Contains(zsh, `_s3sync "$@"`) ||
		!strings.Contains(zsh, "compdef _s3sync s3sync") {
		t.Errorf("zsh script:\n%s", zsh)
	} else if _, err := exec.LookPath("zsh"); err != nil {
		testio.Missing(t, "no zsh to check the zsh script with: run `make test` (scripts/test-services.sh installs it)")
	} else {
		check := exec.Command("zsh", "-n")
		check.Stdin = strings.NewReader(zsh)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, out)
		}
	}
	if _, fish, _ := runPlain("completion", "fish"); !strings.Contains(fish, "complete -c s3sync") || !strings.Contains(fish, "follow") {
		t.Errorf("fish script lacks s3sync's commands or flags:\n%.400s", fish)
	}
	if code, _, errs := runPlain("completion", "tcsh"); code != exitUsage || !strings.Contains(errs, "bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d %s", code, errs)
	}

	// What the scripts ask: the binary itself, as the shell runs it.
	cmds, err := exec.Command(binary, completionFlag).Output()
	if err != nil || !strings.Contains(string(cmds), "\ncopy\n") || !strings.Contains(string(cmds), "\nretry-failed\n") {
		t.Errorf("commands: %v\n%s", err, cmds)
	}
	flags, err := exec.Command(binary, "copy", "--fol", completionFlag).Output()
	if err != nil || !strings.Contains(string(flags), "--follow") {
		t.Errorf("copy's flags: %v\n%s", err, flags)
	}
}
