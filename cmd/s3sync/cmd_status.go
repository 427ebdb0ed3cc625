package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
	"github.com/s3sync/s3sync/internal/human"
)

type statusOptions struct {
	addr     string
	json     bool
	failures int
}

func newStatusCommand(g *globals) *cli.Command {
	var o statusOptions
	return &cli.Command{
		Name:  "status",
		Usage: "print the live status of a running copy, from its status server",
		Description: "Asks the status server of a running `s3sync copy` (started with --status-addr or [sync]\n" +
			"status_addr) for its progress. Without --addr it finds the server through the status file\n" +
			"beside the checkpoint, else [sync] status_addr. The token comes from [sync] status_token or\n" +
			"S3SYNC_STATUS_TOKEN.\n\n" +
			"Example:\n  s3sync status\n  s3sync status --addr 127.0.0.1:5555 --json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "the status server's `HOST:PORT`", DefaultText: "the running copy's", Destination: &o.addr},
			&cli.BoolFlag{Name: "json", Usage: "print the /api/status document as it is", Destination: &o.json},
			&cli.IntFlag{Name: "failures", Value: 5, Usage: "show the `N` most recent failures", Destination: &o.failures},
		},
		Action: func(c *cli.Context) error { return runStatus(c, g, o) },
	}
}

func runStatus(c *cli.Context, g *globals, o statusOptions) error {
	addr, token, err := g.findStatusServer(o.addr)
	if err != nil {
		return err
	}
	st, err := statusserver.NewClient(addr, token).Status(c.Context)
	if err != nil {
		return statusServerError(addr, err)
	}
	if o.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return writeLiveStatus(g.stdout, st, o.failures)
}

// statusServerError explains what a status server's answer asks of the user.
func statusServerError(addr string, err error) error {
	if errors.Is(err, statusserver.ErrUnauthorized) {
		return usageErrorf("S3SYNC_STATUS_TOKEN=... s3sync status", "the status server at %s wants its token: set [sync] status_token or S3SYNC_STATUS_TOKEN", addr)
	}
	return err
}

// findStatusServer resolves the status server's address and token: --addr, else the running
// command's status file, else [sync] status_addr. No config file is needed with --addr. The
// status file's address is used only when a running copy holds the checkpoint and the
// address is on this machine (statusFileAddr): the token is never sent elsewhere.
func (g *globals) findStatusServer(flag string) (addr, token string, err error) {
	token = g.getenv("S3SYNC_STATUS_TOKEN")
	cfg, err := g.optionalConfig()
	if err != nil {
		return "", "", err
	}
	if cfg != nil {
		token = cfg.StatusToken
	}
	if flag != "" {
		listen, _, err := statusserver.ListenAddr(flag)
		if err != nil {
			return "", "", usageErrorf("s3sync status --addr 127.0.0.1:5555", "--addr: %v", err)
		}
		return dialable(listen), token, nil
	}
	cp := cfg.checkpointPath(g.checkpoint)
	st, err := engine.ReadStatus(engine.StatusPath(cp))
	switch {
	case err == nil && st.Alive() && st.StatusAddr != "":
		addr, err := statusFileAddr(cp, st)
		if err != nil {
			return "", "", err
		}
		return addr, token, nil
	case err == nil && st.Alive():
		return "", "", usageErrorf("s3sync copy --resume --status-addr 127.0.0.1:5555",
			"the running `s3sync %s` (pid %d) has no status server; `s3sync report` shows its counts, and the next copy can have one with --status-addr", st.Command, st.PID)
	case cfg != nil && cfg.StatusAddr != "":
		listen, _, _ := statusserver.ListenAddr(cfg.StatusAddr)
		return dialable(listen), token, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", "", err
	}
	return "", "", fmt.Errorf("no copy is running on checkpoint %s; `s3sync report` shows where it stands", cp)
}

// statusFileAddr returns the status server address the status file of checkpoint cp names,
// once it is believable: a running copy holds the checkpoint (its lock, not only a live pid:
// a pid can be reused, a file forged), and the address is a loopback one. s3sync status and
// report send the status token there, so a status file that anyone able to write beside the
// checkpoint could have forged must not pick where it goes; --addr names any server.
func statusFileAddr(cp string, st engine.Status) (string, error) {
	if !checkpointHeld(cp) {
		return "", fmt.Errorf("no s3sync holds checkpoint %s, yet its status file %s names a running `s3sync %s` (pid %d) with a status server at %s: the file is stale or forged, so s3sync does not contact that address; pass --addr HOST:PORT to ask a status server you know",
			cp, engine.StatusPath(cp), st.Command, st.PID, st.StatusAddr)
	}
	addr := dialable(st.StatusAddr)
	if !isLoopbackAddr(addr) {
		return "", fmt.Errorf("the status file %s names the status server %s, which is not a loopback address: s3sync does not contact it (the token would go there); pass --addr %s if that server is yours",
			engine.StatusPath(cp), st.StatusAddr, st.StatusAddr)
	}
	return addr, nil
}

// isLoopbackAddr reports whether host:port names this machine's loopback interface:
// 127.0.0.0/8, ::1 or localhost.
func isLoopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dialable turns a listen address into one to connect to: a wildcard host means this machine.
func dialable(listen string) string {
	for _, wild := range []string{"0.0.0.0:", "[::]:"} {
		if strings.HasPrefix(listen, wild) {
			return "127.0.0.1:" + strings.TrimPrefix(listen, wild)
		}
	}
	return listen
}

// writeLiveStatus prints a status document for people: a headline, copy --follow's state when
// the copy follows, a table per kind and the most recent failures.
func writeLiveStatus(w io.Writer, st statusserver.Status, failures int) error {
	r := st.Run
	pct := 100.0
	if r.Total.Objects > 0 {
		pct = 100 * float64(r.Processed()) / float64(r.Total.Objects)
	}
	fmt.Fprintf(w, "s3sync %s (pid %d): %s, %s elapsed, as of %s\n", st.Command, st.PID, st.Phase,
		human.ETA(st.ElapsedSeconds), st.UpdatedAt.Local().Format(time.TimeOnly))
	if st.Error != "" {
		fmt.Fprintf(w, "error: %s\n", st.Error)
	}
	eta := human.ETA(st.ETASeconds)
	if !st.Running() {
		eta = "-"
	}
	fmt.Fprintf(w, "%d/%d objects (%.1f%%), %s written; %.1f obj/s, %s/s; ETA %s; in flight %d; retries %d\n",
		r.Processed(), r.Total.Objects, pct, human.Bytes(r.Done.Bytes), st.ObjectsPerSec,
		human.Bytes(int64(st.BytesPerSec)), eta, st.InFlight, st.Retries)
	if st.Follow != nil {
		writeFollowStatus(w, st)
	}
	fmt.Fprintln(w)

	// Numbers align right; kind names are padded so they read left-aligned (as in report).
	width := len("total")
	for _, k := range st.Kinds {
		width = max(width, len(k.Kind))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tPROGRESS\tDONE\tFAILED\tMISSING\tLEFT\tWRITTEN\t\n", width, "KIND")
	row := func(name string, p engine.Progress) {
		fmt.Fprintf(tw, "%-*s\t%d/%d\t%d\t%d\t%d\t%d\t%s\t\n", width, name, p.Processed(), p.Total.Objects,
			p.Done.Objects, p.Failed.Objects, p.Missing.Objects, p.Left(), human.Bytes(p.Done.Bytes))
	}
	for _, k := range st.Kinds {
		row(k.Kind, k.Run)
	}
	row("total", r)
	if err := tw.Flush(); err != nil {
		return err
	}
	if failures > 0 && len(st.RecentFailures) > 0 {
		fmt.Fprintf(w, "\nrecent failures (newest first):\n")
		for i, f := range st.RecentFailures {
			if i == failures {
				break
			}
			fmt.Fprintf(w, "  %s  %-7s  %s\n           %s\n", f.Time.Local().Format(time.TimeOnly), f.Status, f.Key, f.Error)
		}
	}
	return nil
}

// writeFollowStatus prints copy --follow's state: where it is between passes, what the passes
// found, and whether it may be stopped. Times to come and past are counted from the server's
// updated_at, so that the clocks of the two machines need not agree.
func writeFollowStatus(w io.Writer, st statusserver.Status) {
	f := st.Follow
	now := st.UpdatedAt
	clock := func(t time.Time) string {
		return fmt.Sprintf("%s (%s ago)", t.Local().Format(time.TimeOnly), human.ETA(max(now.Sub(t).Seconds(), 0)))
	}
	fmt.Fprintf(w, "\nfollowing: %s\n", followPhase(st))
	last := "none yet"
	if !f.LastPassAt.IsZero() {
		last = clock(f.LastPassAt)
	}
	rescan := "not yet"
	if !f.LastRescanAt.IsZero() {
		rescan = clock(f.LastRescanAt)
	}
	lag := "none"
	if f.Pending > 0 || f.LagSeconds > 0 {
		lag = human.ETA(f.LagSeconds)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  last pass\t%s\n", last)
	fmt.Fprintf(tw, "  passes\t%d\n", f.Passes)
	fmt.Fprintf(tw, "  records seen\t%d\n", f.RecordsSeen)
	fmt.Fprintf(tw, "  objects added\t%d (%d in the last pass)\n", f.ObjectsAdded, f.LastAdded)
	fmt.Fprintf(tw, "  pending\t%d, lag %s\n", f.Pending, lag)
	fmt.Fprintf(tw, "  last rescan\t%s\n", rescan)
	if f.QuietPasses > 0 {
		quiet := fmt.Sprintf("nothing new for %s", passCount(f.QuietPasses))
		if f.ReadyToStop {
			quiet += ": ready to stop"
		} else if f.QuietPasses >= engine.QuietToStop {
			quiet += " (ready to stop after the next rescan)"
		}
		fmt.Fprintf(tw, "  quiet\t%s\n", quiet)
	}
	_ = tw.Flush()
}

// followPhase says where copy --follow is: waiting for its next pass, in a pass, or stopped.
func followPhase(st statusserver.Status) string {
	f := st.Follow
	switch st.Phase {
	case engine.PhaseFollowing:
		switch {
		case f.NextPassAt.IsZero():
			return "no further pass"
		case f.NextPassAt.After(st.UpdatedAt):
			return "next pass in " + human.ETA(f.NextPassAt.Sub(st.UpdatedAt).Seconds())
		default:
			return fmt.Sprintf("pass %d is reading the database", f.Passes+1)
		}
	case engine.PhaseStarting, engine.PhaseCopying:
		return fmt.Sprintf("pass %d is copying", f.Passes+1)
	case engine.PhaseStopping:
		return "stopping"
	}
	return "stopped after " + passCount(f.Passes)
}

// passCount is "1 pass" or "n passes".
func passCount(n int) string {
	if n == 1 {
		return "1 pass"
	}
	return fmt.Sprintf("%d passes", n)
}
