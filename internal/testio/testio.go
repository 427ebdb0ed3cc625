// Package testio holds what tests share: a buffer to watch a process or a goroutine write, and
// the rule for a missing prerequisite (a service, a tool, root).
package testio

import (
	"bytes"
	"os"
	"sync"
	"testing"
)

// Missing ends a test whose prerequisite is missing: under CI=true, where `make test` provides
// every one, it fails; elsewhere (a bare `go test`) it skips, saying what to run.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing prerequisite fails, never skips)")
	}
	t.Skip(msg)
}

// Buffer is a bytes.Buffer that a process or goroutines may write to while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
