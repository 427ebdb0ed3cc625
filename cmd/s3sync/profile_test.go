package main

import "testing"

func TestCopyMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		workers int
		want    int64
	}{
		{1, 96 << 20},
		{256, 96 << 20},
		{1024, 384 << 20},
	} {
		if got := copyMemoryLimit(c.workers); got != c.want {
			t.Errorf("copyMemoryLimit(%d) = %d MiB, want %d MiB", c.workers, got>>20, c.want>>20)
		}
	}
}
