// Command s3sync copies a Mastodon server's media from one S3-compatible bucket to another,
// driven by the Mastodon database and a durable checkpoint. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/internal/text"
)

func main() {
	ctx, stop := context.WithCancel(context.Background())
	abort := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	var first atomic.Value // the first signal, for the exit code: 130 for SIGINT, 143 for SIGTERM
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		first.Store(sig) // before stop(): whoever sees the cancellation sees the signal
		stop()           // first signal: stop taking work, let in-flight objects finish
		<-sigs
		close(abort) // second: cancel in-flight work now
		fmt.Fprintln(os.Stderr, "second signal: stopping at once")
		time.AfterFunc(3*time.Second, func() { os.Exit(signalExitCode(sig)) })
	}()
	received := func() os.Signal {
		sig, _ := first.Load().(os.Signal)
		return sig
	}
	os.Exit(run(ctx, os.Args, env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, lookupEnv: os.LookupEnv, abort: abort, signal: received}))
}

// env is what a run gets from its process: tests pass buffers and their own environment.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	lookupEnv      func(string) (string, bool) // also tells set-but-empty; nil: set iff getenv is non-empty
	abort          <-chan struct{}             // closed on a second signal
	signal         func() os.Signal            // the first signal received, nil when none; nil = never signalled
}

// received returns the first signal the process received, nil when none.
func (e env) received() os.Signal {
	if e.signal == nil {
		return nil
	}
	return e.signal()
}

// globals are the flags every command shares, resolved before the command runs.
type globals struct {
	env
	args       []string // the command line, for hints
	configFlag string
	checkpoint string
	noProgress bool
	log        zerolog.Logger
	logSink    *logSink // stderr, or the progress bars while they run
	logFile    *os.File // --log-file, nil when none
	command    string   // the subcommand running, set before its action
	proxyNoted bool     // the proxy warning was considered (warnProxies)
	cfg        *Config  // the configuration config loaded; nil until then
}

// versionPrinter sets urfave/cli's version printer, a package variable, once.
var versionPrinter sync.Once

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	g := &globals{env: e, args: args}
	versionPrinter.Do(func() {
		// `s3sync --version` prints the same line as `s3sync version`.
		cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, versionLine()) }
	})
	app := &cli.App{
		Name:      "s3sync",
		Version:   versionString(), // --version prints versionLine
		Usage:     "copy a Mastodon server's media from one S3 bucket to another",
		UsageText: "s3sync COMMAND [options] [arguments]   (global options go before or after the command)",
		Description: "s3sync reads the Mastodon database to learn every object it references (plan), copies them\n" +
			"with a durable per-object status (copy, retry-failed), and tells what is left (report).\n" +
			"An interrupted copy continues with `s3sync copy --resume`; `s3sync copy --follow` keeps the\n" +
			"new bucket current while Mastodon runs, for a cutover without downtime.\n\n" +
			"Example:\n" +
			"  s3sync init --from-env /home/mastodon/live/.env.production   # then fill in [s3.destination]\n" +
			"  s3sync check && s3sync plan && s3sync copy --follow",
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		HideHelpCommand: true, // `s3sync help COMMAND` is read as `s3sync COMMAND --help` (normalizeArgs)
		// The completion scripts (s3sync completion) ask the binary what may come next.
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", TakesFile: true, Usage: "configuration `FILE` (env S3SYNC_CONFIG; CONFIG_FILE_NAME=x.ini means private/x.ini)", EnvVars: []string{"S3SYNC_CONFIG"}, Destination: &g.configFlag},
			&cli.StringFlag{Name: "checkpoint", TakesFile: true, Usage: "checkpoint `FILE` (default: [sync] checkpoint, else private/s3sync.db)", Destination: &g.checkpoint},
			&cli.StringFlag{Name: "log-format", Value: "console", Usage: "console or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-file", TakesFile: true, Usage: "also write the log to `FILE` (appended, created 0600)"},
			&cli.BoolFlag{Name: "no-progress", Usage: "no live progress bars on a terminal; log progress lines instead", Destination: &g.noProgress},
		},
		Before: func(c *cli.Context) error {
			if g.configFlag == "" && e.getenv("S3SYNC_CONFIG") != "" {
				g.configFlag = e.getenv("S3SYNC_CONFIG")
			}
			return g.setupLog(c.String("log-format"), c.String("log-level"), c.String("log-file"))
		},
		Commands: []*cli.Command{
			newInitCommand(g),
			newPlanCommand(g),
			newCopyCommand(g),
			newRetryFailedCommand(g),
			newReportCommand(g),
			newStatusCommand(g),
			newCheckCommand(g),
			newVerifyCommand(g),
			newUsageCommand(g),
			newOrphansCommand(g),
			newFixACLCommand(g),
			newCleanupUploadsCommand(g),
			newVersionCommand(g),
			newCompletionCommand(g),
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageErrorf("s3sync --help", "%v", err)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // exit codes are ours, below
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = func(c *cli.Context, err error, _ bool) error {
			return usageErrorf("s3sync "+c.Command.Name+" --help", "%v", err)
		}
		name, action := cmd.Name, cmd.Action
		cmd.Action = func(c *cli.Context) error {
			g.command = name // for the advice after an interruption, and the proxy warning
			return action(c)
		}
	}
	var err error
	if flag := valueMissing(app, args); flag != "" {
		err = usageErrorf("", "%s needs a value", flag)
	} else {
		err = app.RunContext(ctx, normalizeArgs(app, args))
	}
	if err != nil && isCLIUsage(err) {
		err = usageErrorf("s3sync --help", "%v", err)
	}
	code := exitCode(err, e.stderr, runInfo{command: g.command, args: args, signal: e.received()})
	if g.logFile != nil {
		// The file gets the outcome too, which otherwise only stderr shows.
		fileLog := zerolog.New(g.logFile).With().Timestamp().Logger()
		ev := fileLog.Info().Int("exit_code", code)
		if err != nil {
			ev = ev.Str("error", text.OneLine(err.Error()))
		}
		ev.Msg("exit")
		g.logFile.Close()
	}
	return code
}

// isCLIUsage recognises urfave/cli's own errors about the command line.
func isCLIUsage(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "flag provided but not defined") || strings.HasPrefix(msg, "No help topic") ||
		strings.Contains(msg, "Required flag")
}
