package main

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/s3sync/s3sync/catalog/pgtest"
)

// cursorUp is how the bars redraw themselves: cursor up N lines, erase to the end.
var cursorUp = regexp.MustCompile(`\x1b\[\d+A\x1b\[J`)

// colors are the console log's color codes.
var colors = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// runOnTTY runs the s3sync binary with a terminal of 40×160 as its standard streams and
// returns everything it wrote there, without color codes.
func (s *sandbox) runOnTTY(args ...string) (string, error) {
	s.t.Helper()
	cmd := exec.Command(binary, append([]string{"--config", s.config}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + s.dir, "TERM=xterm"}
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		s.t.Fatal(err)
	}
	defer tty.Close()
	var out bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, tty)
		copied <- err
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-waited:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		s.t.Fatalf("s3sync %s did not finish; output so far:\n%s", strings.Join(args, " "), out.String())
	}
	// The terminal reports EIO once the process closed its side and the output was read.
	select {
	case err := <-copied:
		if err != nil && !errors.Is(err, syscall.EIO) {
			s.t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		s.t.Fatal("the terminal's output did not end")
	}
	return colors.ReplaceAllString(out.String(), ""), runErr
}

// On a terminal, plan and copy draw live progress bars (per kind and a total, with counts,
// rate, ETA, failed and missing); with --no-progress the same terminal gets plain log lines.
func TestProgressBarsOnTTY(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 80)
	s.removeSource("preview_cards/images/000/000/045/original/card45.jpg")
	slowSource(s, 40*time.Millisecond)

	out, err := s.runOnTTY("plan")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`preview_cards +80 records \[=+\] 80 objects, 80 new +done`).MatchString(out) {
		t.Errorf("plan bars:\n%q", out)
	}

	// Half the objects with --no-progress: log lines, no bars.
	out, err = s.runOnTTY("--no-progress", "copy", "--concurrency", "2", "--limit", "40")
	if err != nil {
		t.Fatalf("copy --no-progress: %v\n%s", err, out)
	}
	if cursorUp.MatchString(out) || strings.Contains(out, "[==") {
		t.Errorf("--no-progress drew bars:\n%q", out)
	}
	for _, want := range []string{"copy started", "copying", "objects=0/40", "copied 40 object(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("--no-progress output lacks %q:\n%s", want, out)
		}
	}

	// The rest with bars.
	out, err = s.runOnTTY("copy", "--resume", "--concurrency", "2")
	if err != nil {
		t.Fatalf("copy: %v\n%s", err, out)
	}
	if n := len(cursorUp.FindAllString(out, -1)); n < 3 {
		t.Errorf("the bars were redrawn %d times:\n%q", n, out)
	}
	// The last frame: the kind's bar and the total, complete, with the missing object.
	frames := cursorUp.Split(out, -1)
	last := frames[len(frames)-1]
	for _, re := range []string{
		`preview_cards +40/40 +[\d.]+ [KM]iB +\[=+\] +100% +done +failed 0 missing 1`,
		`total +40/40 +[\d.]+ [KM]iB +\[=+\] +\d+\.\d obj/s .*/s +done +failed 0 missing 1`,
		`copied 39 object\(s\)`,
	} {
		if !regexp.MustCompile(re).MatchString(last) {
			t.Errorf("the last frame lacks %s:\n%s", re, last)
		}
	}
	// While copying, a frame showed a rate and an ETA.
	if !regexp.MustCompile(`total +\d+/40 .* \d+\.\d obj/s .* ETA \d+s`).MatchString(out) {
		t.Errorf("no frame shows the rate and ETA:\n%s", out)
	}
	// Log lines print above the bars, never inside a bar line.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "copy started") && strings.Contains(line, "[") && strings.Contains(line, "obj/s") {
			t.Errorf("a log line runs into a bar: %q", line)
		}
	}
}
