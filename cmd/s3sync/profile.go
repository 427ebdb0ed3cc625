package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
)

// copyGCPercent is the garbage collector's target while copying. A copy's live heap is only a
// few MB per 100 workers (buffers, connections), so Go's default of 100 collects every few MB
// allocated, and each collection scans the stacks of every worker and connection goroutine:
// about a fifth of the copy's CPU on small objects. 400 collects a quarter as often
// (BENCHMARKS.md, "Where the time goes").
const copyGCPercent = 400

// copyMemoryLimit is the soft limit that keeps copyGCPercent from letting the heap grow to five
// times a large live heap (hundreds of workers): 96 MiB, or 384 KiB per worker above 256.
func copyMemoryLimit(workers int) int64 {
	return max(96<<20, int64(workers)*384<<10)
}

// tuneGC sets copyGCPercent and copyMemoryLimit for a copy with this many workers, unless
// GOGC or GOMEMLIMIT is set in the environment: those keep the last word.
func tuneGC(workers int) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(copyGCPercent)
	debug.SetMemoryLimit(copyMemoryLimit(workers))
}

// startProfiles starts a CPU profile into cpuFile and arranges a heap profile into memFile
// ("" = none of that kind); the returned stop writes and closes them and is safe to call once.
func startProfiles(cpuFile, memFile string) (stop func(), err error) {
	var cpu *os.File
	if cpuFile != "" {
		if cpu, err = os.Create(cpuFile); err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memFile != "" {
			if f, err := os.Create(memFile); err == nil {
				runtime.GC()
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}, nil
}
