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

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
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
	os.Exit(run(ctx, os.Args, env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, abort: abort, signal: received}))
}

// env is what a run gets from its process: tests pass buffers and their own environment.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	abort          <-chan struct{}  // closed on a second signal
	signal         func() os.Signal // the first signal received, nil when none; nil = never signalled
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
	proxyNoted bool     // the proxy warning was considered (proxy.go)
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	g := &globals{env: e, args: args}
	app := &cli.App{
		Name:      "s3sync",
		Version:   versionString(), // --version prints versionLine (version.go)
		Usage:     "copy a Mastodon server's media from one S3 bucket to another",
		UsageText: "s3sync [global options] plan|copy|retry-failed|report|status [options]",
		Description: "s3sync reads the Mastodon database to learn every object it references (plan), copies them\n" +
			"with a durable per-object status (copy, retry-failed), and tells what is left (report).\n" +
			"An interrupted copy continues with `s3sync copy --resume`.",
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "configuration `FILE` (env S3SYNC_CONFIG; CONFIG_FILE_NAME=x.ini means private/x.ini)", EnvVars: []string{"S3SYNC_CONFIG"}, Destination: &g.configFlag},
			&cli.StringFlag{Name: "checkpoint", Usage: "checkpoint `FILE` (default: [sync] checkpoint, else private/s3sync.db)", Destination: &g.checkpoint},
			&cli.StringFlag{Name: "log-format", Value: "console", Usage: "console or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-file", Usage: "also write the log to `FILE` (appended, created 0600)"},
			&cli.BoolFlag{Name: "no-progress", Usage: "no live progress bars on a terminal; log progress lines instead", Destination: &g.noProgress},
		},
		Before: func(c *cli.Context) error {
			if g.configFlag == "" && e.getenv("S3SYNC_CONFIG") != "" {
				g.configFlag = e.getenv("S3SYNC_CONFIG")
			}
			return g.setupLog(c.String("log-format"), c.String("log-level"), c.String("log-file"))
		},
		Commands: []*cli.Command{
			newPlanCommand(g),
			newCopyCommand(g),
			newRetryFailedCommand(g),
			newReportCommand(g),
			newStatusCommand(g),
			newCheckCommand(g),
			newVerifyCommand(g),         // issue 7: cmd_verify.go
			newUsageCommand(g),          // cmd_usage.go
			newOrphansCommand(g),        // cmd_orphans.go
			newFixACLCommand(g),         // cmd_fix_acl.go
			newCleanupUploadsCommand(g), // cmd_cleanup_uploads.go
			newVersionCommand(g),        // version.go
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
	err := app.RunContext(ctx, args)
	if err != nil && isCLIUsage(err) {
		err = usageErrorf("s3sync --help", "%v", err)
	}
	code := exitCode(err, e.stderr, runInfo{command: g.command, args: args, signal: e.received()})
	if g.logFile != nil {
		// The file gets the outcome too, which otherwise only stderr shows.
		fileLog := zerolog.New(g.logFile).With().Timestamp().Logger()
		ev := fileLog.Info().Int("exit_code", code)
		if err != nil {
			ev = ev.Str("error", oneLine(err.Error()))
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

// setupLog builds g.log: zerolog lines to stderr (through g.logSink, which progress bars
// redirect while they run) and, with --log-file, to that file as well.
func (g *globals) setupLog(format, level, file string) error {
	g.logSink = &logSink{w: g.stderr}
	log, err := newLogger(g.logSink, isTerminal(g.stderr), format, level)
	g.log = log
	if err != nil || file == "" {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return usageErrorf("", "--log-file: %v", err)
	}
	g.logFile = f
	g.log = log.Output(zerolog.MultiLevelWriter(logWriter(g.logSink, isTerminal(g.stderr), format), logWriter(f, false, format)))
	return nil
}

func newLogger(w io.Writer, color bool, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), usageErrorf("--log-level info", "--log-level %q is not one of debug, info, warn, error", level)
	}
	if format != "json" && format != "console" {
		return zerolog.Nop(), usageErrorf("--log-format console", "--log-format %q is not console or json", format)
	}
	return zerolog.New(logWriter(w, color, format)).Level(lvl).With().Timestamp().Logger(), nil
}

// logWriter formats log events for w: one JSON object per line, or readable console lines.
func logWriter(w io.Writer, color bool, format string) io.Writer {
	if format == "json" {
		return w
	}
	return zerolog.ConsoleWriter{Out: w, NoColor: !color, TimeFormat: "15:04:05"}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// logSink passes log lines to a writer that can be swapped: stderr, or the progress bars'
// container while bars run, so that lines print above the bars instead of through them.
type logSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// set makes w the destination and returns the previous one; it waits for a write in progress.
func (s *logSink) set(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.w
	s.w = w
	return prev
}

// s3Config loads the configuration of a command that talks to both buckets.
func (g *globals) s3Config() (*Config, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	if err := cfg.requireS3(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// config loads the configuration file the global flags and environment point at. It also
// refuses a checkpoint path that is a dangling symlink (checkpoint.go), and for commands
// that talk to S3 warns once when a proxy from the environment carries their requests
// (proxy.go).
func (g *globals) config() (*Config, error) {
	path, _ := configPath(g.configFlag, g.getenv)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, usageErrorf("copy private/config.sample.ini to "+shellQuote(path)+" and fill it in, or pass --config FILE",
			"config file %s not found", path)
	}
	cfg, err := loadConfig(path, g.getenv)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		g.log.Warn().Msg(w)
	}
	if err := checkCheckpointPath(cfg.checkpointPath(g.checkpoint)); err != nil {
		return nil, err
	}
	if !g.proxyNoted && talksToS3[g.command] {
		g.proxyNoted = true
		warnProxies(g.log, cfg)
	}
	return cfg, nil
}
