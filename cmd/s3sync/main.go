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
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		stop() // first signal: stop taking work, let in-flight objects finish
		<-sigs
		close(abort) // second: cancel in-flight work now
		fmt.Fprintln(os.Stderr, "second signal: stopping at once")
		time.AfterFunc(3*time.Second, func() { os.Exit(exitInterrupted) })
	}()
	os.Exit(run(ctx, os.Args, env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, abort: abort}))
}

// env is what a run gets from its process: tests pass buffers and their own environment.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	abort          <-chan struct{} // closed on a second signal
}

// globals are the flags every command shares, resolved before the command runs.
type globals struct {
	env
	args       []string // the command line, for hints
	configFlag string
	checkpoint string
	log        zerolog.Logger
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	g := &globals{env: e, args: args}
	app := &cli.App{
		Name:      "s3sync",
		Usage:     "copy a Mastodon server's media from one S3 bucket to another",
		UsageText: "s3sync [global options] plan|copy|retry-failed|report [options]",
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
		},
		Before: func(c *cli.Context) error {
			if g.configFlag == "" && e.getenv("S3SYNC_CONFIG") != "" {
				g.configFlag = e.getenv("S3SYNC_CONFIG")
			}
			log, err := newLogger(e.stderr, c.String("log-format"), c.String("log-level"))
			g.log = log
			return err
		},
		Commands: []*cli.Command{
			newPlanCommand(g),
			newCopyCommand(g),
			newRetryFailedCommand(g),
			newReportCommand(g),
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
	}
	err := app.RunContext(ctx, args)
	if err != nil && isCLIUsage(err) {
		err = usageErrorf("s3sync --help", "%v", err)
	}
	return exitCode(err, e.stderr)
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

func newLogger(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), usageErrorf("--log-level info", "--log-level %q is not one of debug, info, warn, error", level)
	}
	switch format {
	case "json":
		return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
	case "console":
		f, isFile := w.(*os.File)
		color := isFile && isatty.IsTerminal(f.Fd())
		cw := zerolog.ConsoleWriter{Out: w, NoColor: !color, TimeFormat: "15:04:05"}
		return zerolog.New(cw).Level(lvl).With().Timestamp().Logger(), nil
	}
	return zerolog.Nop(), usageErrorf("--log-format console", "--log-format %q is not console or json", format)
}

// config loads the configuration file the global flags and environment point at.
func (g *globals) config() (*Config, error) {
	path, _ := configPath(g.configFlag, g.getenv)
	cfg, err := loadConfig(path, g.getenv)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		g.log.Warn().Msg(w)
	}
	return cfg, nil
}
