package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
)

// Status is the snapshot a running copy keeps beside its checkpoint, so that `report` can
// answer while the checkpoint file is locked.
type Status struct {
	PID       int               `json:"pid"`
	Command   string            `json:"command"`
	Running   bool              `json:"running"`
	StartedAt time.Time         `json:"started_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Counts    checkpoint.Counts `json:"counts"`
	// StatusAddr is the host:port of the copy's status server, "" when it has none.
	StatusAddr string `json:"status_addr,omitempty"`
}

// StatusPath is where the status snapshot of the checkpoint at path lives.
func StatusPath(checkpointPath string) string { return checkpointPath + ".status.json" }

// WriteStatus replaces the status file atomically (write, then rename).
func WriteStatus(path string, st Status) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadStatus reads a status file; os.ErrNotExist when there is none.
func ReadStatus(path string) (Status, error) {
	var st Status
	data, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("status file %s: %w", path, err)
	}
	return st, nil
}

// Alive reports whether the process that wrote st still runs.
func (st Status) Alive() bool {
	if !st.Running || st.PID <= 0 {
		return false
	}
	err := syscall.Kill(st.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func pid() int { return os.Getpid() }
