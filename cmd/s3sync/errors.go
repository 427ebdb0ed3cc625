package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/s3sync/s3sync/internal/text"
)

// Exit codes, as documented in the README.
const (
	exitOK          = 0   // complete, nothing failed
	exitError       = 1   // runtime error (database, S3, checkpoint I/O)
	exitUsage       = 2   // bad command line or configuration
	exitFailed      = 3   // finished with failed objects left
	exitInterrupted = 130 // interrupted by SIGINT (Ctrl-C), 128+2; resumable
	exitTerminated  = 143 // stopped by SIGTERM (systemd, Kubernetes, docker stop), 128+15; resumable
)

// signalExitCode is the exit code of a run stopped by sig: 128 + its number, the shell's
// convention (143 for SIGTERM); 130 when the signal is unknown.
func signalExitCode(sig os.Signal) int {
	if sig == syscall.SIGTERM {
		return exitTerminated
	}
	return exitInterrupted
}

// usageError is a mistake the user can fix by changing the command or the config; exit 2.
type usageError struct {
	msg  string
	hint string // printed as "Try: ..."
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(hint, format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...), hint: hint}
}

// errFailedObjects ends a run that finished but left failed objects; exit 3. msg, when set,
// replaces the default advice.
type failedObjectsError struct {
	n   int64
	msg string
}

func (e *failedObjectsError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("%d object(s) failed; see them with `s3sync report`, then run `s3sync retry-failed`", e.n)
}

// errInterrupted ends a run stopped by a signal; exit 130 (143 for SIGTERM). What is printed
// depends on the command: see interruptedAdvice.
var errInterrupted = errors.New("interrupted")

// runInfo is what exitCode needs to know about the run besides its error.
type runInfo struct {
	command string    // the subcommand that ran, "" when none started
	args    []string  // the command line, args[0] the program
	signal  os.Signal // the first signal received, nil when none
}

// exitCode maps an error returned by a command to the process exit code, and prints it.
func exitCode(err error, stderr io.Writer, ri runInfo) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var ce *configError
	var fe *failedObjectsError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "Error: %s\n", text.OneLine(ue.msg))
		if ue.hint != "" {
			fmt.Fprintf(stderr, "Try: %s\n", ue.hint)
		}
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "Error: config %s\n", text.OneLine(ce.Error()))
		return exitUsage
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "%s\n", fe.Error())
		return exitFailed
	case errors.Is(err, errInterrupted), errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s\n", interruptedAdvice(ri))
		return signalExitCode(ri.signal)
	}
	fmt.Fprintf(stderr, "Error: %s\n", text.OneLine(err.Error()))
	return exitError
}

// interruptedAdvice says how a run stopped by a signal ended and the command that continues it:
// copy → the same command with --resume; retry-failed → `s3sync copy --resume` (the objects
// it put back are pending; retry-failed has no --resume); plan → plan again (it merges).
func interruptedAdvice(ri runInfo) string {
	if len(ri.args) == 0 {
		ri.args = []string{"s3sync"}
	}
	what := "interrupted"
	if ri.signal == syscall.SIGTERM {
		what = "stopped by SIGTERM"
	}
	i := commandIndex(ri.args, ri.command)
	switch ri.command {
	case "copy":
		if following(ri.args, i) {
			return fmt.Sprintf("%s: stopped following; the checkpoint is saved. `%s` follows again; once Mastodon writes to the new bucket, `s3sync verify` checks the copy",
				what, commandLine(withResume(ri.args, i)))
		}
		return fmt.Sprintf("%s; the checkpoint is saved: run `%s` to continue", what, commandLine(withResume(ri.args, i)))
	case "retry-failed":
		return fmt.Sprintf("%s; the checkpoint is saved and the objects retry-failed put back are pending: run `%s` to continue",
			what, commandLine(retryAsCopy(ri.args, i)))
	case "plan":
		return fmt.Sprintf("%s; the pages plan read are saved in the checkpoint: run `%s` again to finish (plan merges: known objects keep their status, nothing is planned twice)",
			what, commandLine(ri.args))
	case "":
		return what
	}
	return fmt.Sprintf("%s: run `%s` again", what, commandLine(ri.args))
}

// following reports whether the command at i of args has --follow.
func following(args []string, i int) bool {
	for _, a := range args[max(i, 0)+1:] {
		if a == "--" {
			break
		}
		if a == "--follow" || a == "-follow" || strings.HasPrefix(a, "--follow=") && a != "--follow=false" {
			return true
		}
	}
	return false
}

// globalValueFlags are the global flags that take a value as the next argument.
var globalValueFlags = map[string]bool{"config": true, "checkpoint": true, "log-format": true, "log-level": true, "log-file": true}

// commandIndex is the index in args of the subcommand name, -1 when it is not found.
func commandIndex(args []string, command string) int {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == command {
			return i
		}
		if !strings.HasPrefix(a, "-") {
			return -1
		}
		if name := strings.TrimLeft(a, "-"); !strings.Contains(name, "=") && globalValueFlags[name] {
			i++ // its value
		}
	}
	return -1
}

// withResume is args with --resume after the subcommand at i, unless it is there already.
func withResume(args []string, i int) []string {
	if i < 0 {
		return []string{args[0], "copy", "--resume"}
	}
	for _, a := range args[i+1:] {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && name == "resume" {
			return args
		}
	}
	out := append([]string(nil), args[:i+1]...)
	out = append(out, "--resume")
	return append(out, args[i+1:]...)
}

// retryAsCopy turns a retry-failed command line (subcommand at i) into the `copy --resume`
// that continues it: every retry-failed flag is a copy flag, except --include-missing.
func retryAsCopy(args []string, i int) []string {
	if i < 0 {
		return []string{args[0], "copy", "--resume"}
	}
	out := append([]string(nil), args[:i]...)
	out = append(out, "copy", "--resume")
	for _, a := range args[i+1:] {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && name == "include-missing" {
			continue
		}
		out = append(out, a)
	}
	return out
}

// commandLine prints args as a shell command, "s3sync" first whatever args[0] is.
func commandLine(args []string) string {
	out := []string{"s3sync"}
	for _, a := range args[1:] {
		out = append(out, shellQuote(a))
	}
	return strings.Join(out, " ")
}

func joinArgs(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		s += shellQuote(a)
	}
	return s
}
