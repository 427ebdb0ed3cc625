package main

import (
	"io"
	"os"
	"sync"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

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
