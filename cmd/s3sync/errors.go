package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit codes, as documented in the README.
const (
	exitOK          = 0   // complete, nothing failed
	exitError       = 1   // runtime error (database, S3, checkpoint I/O)
	exitUsage       = 2   // bad command line or configuration
	exitFailed      = 3   // finished with failed objects left
	exitInterrupted = 130 // interrupted by a signal; resumable
)

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

// errInterrupted ends a run stopped by a signal; exit 130.
var errInterrupted = errors.New("interrupted; the checkpoint is saved: run the same command with --resume to continue")

// exitCode maps an error returned by a command to the process exit code, and prints it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var ce *configError
	var fe *failedObjectsError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "Error: %s\n", oneLine(ue.msg))
		if ue.hint != "" {
			fmt.Fprintf(stderr, "Try: %s\n", ue.hint)
		}
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "Error: config %s\n", oneLine(ce.Error()))
		return exitUsage
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "%s\n", fe.Error())
		return exitFailed
	case errors.Is(err, errInterrupted), errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s\n", errInterrupted.Error())
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "Error: %s\n", oneLine(err.Error()))
	return exitError
}

// oneLine keeps error output to a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
