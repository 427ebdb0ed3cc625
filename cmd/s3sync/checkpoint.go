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
			return usageErrorf("use another --checkpoint for a different migration, or point the config back at "+have,
				"checkpoint %s was planned for %s %s, but [%s] now points at %s", db.Path(), key, have, section, want[key])
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
