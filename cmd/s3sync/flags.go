package main

import (
	"strconv"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/internal/human"
	"github.com/s3sync/s3sync/storage"
)

// Bounds of the limit flags. A value outside them is a usage error naming the flag and the
// range: NaN, infinities, negative, tiny or huge values would otherwise make a limiter that
// never lets a request through (--max-rps 1e-300, or 1e300 whose burst overflows), or
// silently no limit at all (--bwlimit 1e-300 rounds to 0).
const (
	// maxConcurrency is the bound of [sync] concurrency and of --concurrency.
	maxConcurrency = 10000
	// minMaxRPS and maxMaxRPS bound --max-rps, requests per second per side (0 = no limit).
	// Below one request a second a migration of millions of objects takes months; above a
	// million no provider answers that fast.
	minMaxRPS = 1
	maxMaxRPS = 1_000_000
	// minBWLimit and maxBWLimit bound --bwlimit, bytes per second: 1k to 1024G (1 TiB/s).
	// Below 1 KiB/s one avatar takes minutes (--bwlimit 10 is more likely a forgotten M).
	minBWLimit = 1 << 10
	maxBWLimit = 1 << 40
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
	if err := checkConcurrencyFlag(o.concurrency); err != nil {
		return l, err
	}
	if err := checkRequestRate("--max-rps", o.maxRPS); err != nil {
		return l, err
	}
	l.maxRPS = o.maxRPS
	if o.bwlimit != "" {
		if l.bwlimit, err = parseBandwidth(o.bwlimit); err != nil {
			return l, err
		}
	}
	return l, nil
}

// checkConcurrencyFlag checks --concurrency against the bound of [sync] concurrency; 0 (no
// flag) takes the config's value.
func checkConcurrencyFlag(n int) error {
	if n != 0 && (n < 1 || n > maxConcurrency) {
		return usageErrorf("--concurrency 64", "--concurrency %d is not a whole number from 1 to %d (the bound of [sync] concurrency)", n, maxConcurrency)
	}
	return nil
}

// checkRequestRate checks a requests-per-second flag: 0 (no limit), or from minMaxRPS to
// maxMaxRPS. It is written so that NaN, which compares false with everything, is refused too.
func checkRequestRate(flag string, v float64) error {
	if v != 0 && !(v >= minMaxRPS && v <= maxMaxRPS) {
		return usageErrorf(flag+" 100", "%s %s is not a number of requests per second from %d to %d (0: no limit)",
			flag, strconv.FormatFloat(v, 'g', -1, 64), minMaxRPS, maxMaxRPS)
	}
	return nil
}

// parseBandwidth reads --bwlimit as engine.ParseBytes does (k, M, G powers of 1024, an
// optional B, i or /s) and checks it is a finite rate from 1k to 1024G.
func parseBandwidth(s string) (int64, error) {
	bad := usageErrorf("--bwlimit 50M",
		"--bwlimit %q is not a rate from 1k to 1024G bytes per second (e.g. 50M or 800k; k, M, G are powers of 1024; no flag: no limit)", s)
	v, err := human.ParseBytesFloat(s)
	if err != nil || !(v >= minBWLimit && v <= maxBWLimit) {
		return 0, bad
	}
	n := int64(v)
	return n, nil
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

// shardFlag is --shard of plan, copy and retry-failed.
func shardFlag(dst *string) cli.Flag {
	return &cli.StringFlag{Name: "shard", Usage: "work on shard `I/N` only (0 <= I < N): the objects whose ID hashes to I mod N, in their own checkpoint (<checkpoint>-I-of-N.db)", DefaultText: "none", Destination: dst}
}

// parseShardFlag parses --shard as a usage error.
func parseShardFlag(s string) (engine.Shard, error) {
	sh, err := engine.ParseShard(s)
	if err != nil {
		return sh, usageErrorf("--shard 0/4", "--shard: %v", err)
	}
	return sh, nil
}

// mergeFlag is --merge of usage and verify (report declares its own).
func mergeFlag(command string, dst *bool) cli.Flag {
	return &cli.BoolFlag{Name: "merge", Usage: "combine the checkpoints given as arguments (shards): " + command + " --merge a.db b.db …", Destination: dst}
}

func changedFlag(o *planDeltaOptions) cli.Flag {
	return &cli.BoolFlag{Name: "changed", Usage: "read only records added or given a new file since the last plan (fast; deleted records are found by a full plan)", Destination: &o.changed}
}

func skipRemoteCacheFlag(o *planDeltaOptions) cli.Flag {
	return &cli.BoolFlag{Name: "skip-remote-cache", Usage: "leave cached remote media (the cache/ tree) out; Mastodon can fetch it again from its origin ([sync] remote_cache = skip)", Destination: &o.skipRemoteCache}
}

// kindNamesOf parses --only into kind names; "" gives nil (all).
func kindNamesOf(only string) ([]string, error) {
	if only == "" {
		return nil, nil
	}
	kinds, err := catalog.ParseKinds(only)
	if err != nil {
		return nil, usageErrorf("--only "+kindList(), "--only: %v", err)
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return names, nil
}

func kindList() string {
	s := ""
	for i, k := range catalog.AllKinds {
		if i > 0 {
			s += ","
		}
		s += string(k)
	}
	return s
}
