package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

// Checkpoint metadata keys.
const (
	metaSource      = "source"
	metaDestination = "destination"
	metaCopyRuns    = "copy_runs"
	metaPlannedAt   = "planned_at"
)

// openCheckpoint opens the checkpoint at path, explaining a lock held by another s3sync.
func openCheckpoint(path string, readOnly bool) (*checkpoint.DB, error) {
	if err := checkCheckpointPath(path); err != nil {
		return nil, err
	}
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: readOnly, Timeout: time.Second})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, checkpoint.ErrLocked):
		if st, serr := engine.ReadStatus(engine.StatusPath(path)); serr == nil && st.Alive() {
			return nil, fmt.Errorf("checkpoint %s is in use by a running `s3sync %s` (pid %d); wait for it, or stop it with Ctrl-C (it can be resumed)", path, st.Command, st.PID)
		}
		return nil, fmt.Errorf("checkpoint %s is in use by another s3sync process", path)
	case errors.Is(err, os.ErrNotExist):
		return nil, usageErrorf("s3sync plan", "checkpoint %s does not exist yet", path)
	}
	return nil, fmt.Errorf("checkpoint %s: %w", path, err)
}

// checkLocations makes sure a checkpoint is only ever used with the buckets it was planned
// for; a checkpoint that has none yet takes the configured ones.
func checkLocations(db *checkpoint.DB, cfg *Config, record bool) error {
	want := map[string]string{metaSource: location(cfg.Source), metaDestination: location(cfg.Destination)}
	for _, key := range []string{metaSource, metaDestination} {
		have, err := db.GetMeta(key)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if have == "" {
			if !record {
				return usageErrorf("s3sync plan", "checkpoint %s has no plan yet", db.Path())
			}
			if err := db.SetMeta(key, want[key]); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
			continue
		}
		if have != want[key] {
			section := "s3." + key
			// A checkpoint of an older s3sync may hold an endpoint with a password in it.
			return usageErrorf("use another --checkpoint for a different migration, or point the config back at "+redactLocation(have),
				"checkpoint %s was planned for %s %s, but [%s] now points at %s", db.Path(), key, redactLocation(have), section, redactLocation(want[key]))
		}
	}
	return nil
}

// writeRunning records that a command holds the checkpoint, for `report` to explain the lock.
func (g *globals) writeRunning(path, command string) { g.writeRunningAt(path, command, "") }

// writeRunningAt is writeRunning that also records where the command's status server listens
// ("" = none), for `report` and `status` to ask it.
func (g *globals) writeRunningAt(path, command, statusAddr string) {
	st := engine.Status{PID: os.Getpid(), Command: command, Running: true, StartedAt: time.Now(), UpdatedAt: time.Now(), StatusAddr: statusAddr}
	if err := engine.WriteStatus(engine.StatusPath(path), st); err != nil {
		g.log.Warn().Err(err).Msg("cannot write the status file")
	}
}

// writeStopped marks the status file as no longer running, keeping the last counts.
func (g *globals) writeStopped(path string, db *checkpoint.DB) {
	st, _ := engine.ReadStatus(engine.StatusPath(path))
	st.Running, st.UpdatedAt = false, time.Now()
	if counts, err := db.Counts(); err == nil {
		st.Counts = counts
	}
	if err := engine.WriteStatus(engine.StatusPath(path), st); err != nil {
		g.log.Warn().Err(err).Msg("cannot write the status file")
	}
}

// checkCheckpointPath refuses a checkpoint path that is a symlink to nothing (a target that
// does not exist, or a loop): opening it for writing would create the target, wherever the
// link points. A symlink to an existing file, and a path that does not exist, pass.
func checkCheckpointPath(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		target, _ := os.Readlink(path)
		why := "which does not exist"
		if !errors.Is(err, os.ErrNotExist) {
			why = fmt.Sprintf("which cannot be followed (%v)", errors.Unwrap(err))
		}
		return usageErrorf("point the link at an existing checkpoint, or remove it (rm "+shellQuote(path)+") so that plan creates the checkpoint there",
			"checkpoint %s is a symlink to %s, %s; s3sync does not create a checkpoint through a dangling symlink", path, target, why)
	}
	return nil
}

// checkpointHeld reports whether another process holds the checkpoint at path open for
// writing, as a running copy does: a shared (read-only) open of it times out. A checkpoint
// that does not exist, or cannot be opened for another reason, is not held.
func checkpointHeld(path string) bool {
	if checkCheckpointPath(path) != nil {
		return false
	}
	db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if err == nil {
		db.Close()
		return false
	}
	return errors.Is(err, checkpoint.ErrLocked)
}
