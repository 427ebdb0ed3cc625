package main

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/storage"
)

// copyLimits are copy's and retry-failed's --shard, --server-side, --max-rps and --bwlimit.
type copyLimits struct {
	shard   engine.Shard
	maxRPS  float64 // requests per second per side, 0 = no limit
	bwlimit int64   // bytes per second streamed, 0 = no limit
}

// parseLimitFlags checks the flags as usage errors.
func parseLimitFlags(o copyOptions) (copyLimits, error) {
	var l copyLimits
	var err error
	if l.shard, err = parseShardFlag(o.shard); err != nil {
		return l, err
	}
	switch o.serverSide {
	case engine.ServerSideAuto, engine.ServerSideAlways, engine.ServerSideNever, "":
	default:
		return l, usageErrorf("--server-side auto", "--server-side %q is not auto, always or never", o.serverSide)
	}
	if o.maxRPS < 0 {
		return l, usageErrorf("--max-rps 100", "--max-rps must not be negative")
	}
	l.maxRPS = o.maxRPS
	if o.bwlimit != "" {
		if l.bwlimit, err = engine.ParseBytes(o.bwlimit); err != nil {
			return l, usageErrorf("--bwlimit 50M", "--bwlimit: %v", err)
		}
	}
	return l, nil
}

// apply gives each side its own request limiter and both the AIMD throttle, which it returns.
func (l copyLimits) apply(src, dst *storage.Config, concurrency int, log zerolog.Logger) *engine.Throttle {
	src.Limiter = engine.NewRequestLimiter(l.maxRPS)
	dst.Limiter = engine.NewRequestLimiter(l.maxRPS)
	t := engine.NewThrottle(concurrency, log)
	src.Observer = engine.Observers(src.Observer, t)
	dst.Observer = engine.Observers(dst.Observer, t)
	return t
}

// printCopyMode says after the summary whether the copy ran server-side or streamed, and
// whether throttling shrank the concurrency.
func printCopyMode(g *globals, mode string, t *engine.Throttle) {
	fmt.Fprintf(g.stdout, "mode: %s\n", mode)
	if lowest, cuts := t.Lowest(); cuts > 0 {
		fmt.Fprintf(g.stdout, "throttled by the provider: concurrency went down to %d (%d time(s)), ended at %d\n", lowest, cuts, t.Limit())
		st := t.Stats()
		fmt.Fprintf(g.stdout, "objects in flight: up to %d before throttling, up to %d while throttled (%d object(s) started then)\n",
			st.PeakBefore, st.PeakThrottled, st.Throttled)
	}
}
