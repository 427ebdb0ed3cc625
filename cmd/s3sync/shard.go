package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

// metaShard records which shard ("I/N", or "all") a checkpoint was planned for.
const metaShard = "shard"

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

// shardCheckpointPath is the checkpoint of shard s: --checkpoint when given, else the configured
// (or default) checkpoint with "-I-of-N" before its extension, in the same directory
// (private/s3sync.db → private/s3sync-0-of-4.db).
func shardCheckpointPath(cfg *Config, flag string, s engine.Shard) string {
	path := cfg.checkpointPath(flag)
	if flag != "" || !s.Sharded() {
		return path
	}
	return shardName(path, s)
}

// shardName puts "-I-of-N" before the extension of path.
func shardName(path string, s engine.Shard) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + fmt.Sprintf("-%d-of-%d", s.I, s.N) + ext
}

// checkShard makes sure a checkpoint is used with the shard it was planned for. plan records
// the shard in a checkpoint that has none yet (record); copy and retry-failed refuse a
// mismatch only when --shard was given.
func checkShard(db *checkpoint.DB, s engine.Shard, record bool) error {
	want := "all"
	if s.Sharded() {
		want = s.String()
	}
	have, err := db.GetMeta(metaShard)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	switch {
	case have == "" && record:
		if err := db.SetMeta(metaShard, want); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		return nil
	case have == "" || have == want:
		return nil
	case !record && !s.Sharded():
		return nil // copy --checkpoint s3sync-1-of-4.db without --shard: the file says which shard
	}
	hint := "--shard " + have
	if have == "all" {
		hint = "no --shard (or another --checkpoint)"
	}
	return usageErrorf(hint, "checkpoint %s holds shard %s, not %s", db.Path(), have, want)
}
