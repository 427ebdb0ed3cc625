package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog/pgtest"
)

func TestNormalizeArgs(t *testing.T) {
	app := &cli.App{
		Flags: []cli.Flag{&cli.StringFlag{Name: "config"}, &cli.StringFlag{Name: "log-level"}, &cli.BoolFlag{Name: "no-progress"}},
		Commands: []*cli.Command{{Name: "report", Flags: []cli.Flag{
			&cli.StringFlag{Name: "format"}, &cli.BoolFlag{Name: "merge"}, &cli.StringFlag{Name: "output", Aliases: []string{"o"}},
		}}},
	}
	for in, want := range map[string]string{
		// Already in order: unchanged.
		"s3sync --config c.ini report --format csv": "s3sync --config c.ini report --format csv",
		// Global flags after the command move before it, with their values.
		"s3sync report --format csv --config c.ini":           "s3sync --config c.ini report --format csv",
		"s3sync report --config=c.ini --no-progress":          "s3sync --config=c.ini --no-progress report",
		"s3sync --log-level debug report --config c.ini a.db": "s3sync --log-level debug --config c.ini report a.db",
		// The command's flags after its arguments move before them.
		"s3sync report --merge a.db b.db --format csv": "s3sync report --merge --format csv a.db b.db",
		"s3sync report a.db --output - b.db":           "s3sync report --output - a.db b.db",
		"s3sync report a.db -o out.csv b.db --help":    "s3sync report -o out.csv --help a.db b.db",
		"s3sync report a.db -- --format":               "s3sync report a.db -- --format",
		// Unknown commands and flags stay for cli to name.
		"s3sync frobnicate --config c.ini": "s3sync frobnicate --config c.ini",
		"s3sync report a.db --bogus b.db":  "s3sync report --bogus a.db b.db",
		"s3sync report " + completionFlag:  "s3sync report " + completionFlag,
	} {
		if got := strings.Join(normalizeArgs(app, strings.Fields(in)), " "); got != want {
			t.Errorf("normalizeArgs(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// Through the command line, on the real services: global flags after the command, and flags
// after a command's arguments, as the admin typed them.
func TestFlagsAnywhere(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	runArgs := func(args ...string) result {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"s3sync"}, args...), env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
		return result{code, out.String(), errb.String()}
	}
	if r := runArgs("plan", "--config", s.config, "--log-level", "warn"); r.code != exitOK {
		t.Fatalf("plan --config after the command: %s", r)
	}
	r := runArgs("report", "--format", "csv", "--config", s.config, "--status", "pending")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "kind,record_id,") || strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("report --format csv --config FILE: %s", r)
	}
	r = runArgs("--config", s.config, "report", "--merge", s.checkpoint, "--format", "csv", "--status", "pending")
	if r.code != exitOK || strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("report --merge a.db --format csv: %s", r)
	}
}

// A value flag with nothing after it is named, not fed the command as its value; `help
// COMMAND` is COMMAND --help.
func TestFlagWithoutValueAndHelpCommand(t *testing.T) {
	for _, args := range [][]string{{"report", "--config"}, {"--config"}, {"copy", "--only"}} {
		code, out, errs := runPlain(args...)
		if code != exitUsage || !strings.Contains(errs, args[len(args)-1]+" needs a value") || out != "" {
			t.Errorf("s3sync %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	code, out, _ := runPlain("help", "report")
	if code != exitOK || !strings.Contains(out, "s3sync report - ") {
		t.Errorf("s3sync help report: exit %d\n%s", code, out)
	}
}
