package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Meta keys of a checkpoint's identity and run records; they are part of the file format.
const (
	metaSource      = "source"
	metaDestination = "destination"
	metaShard       = "shard"
	metaCopyRuns    = "copy_runs"
	metaPlannedAt   = "planned_at"
	metaWatermark   = "watermark/" // + kind
	metaFollowedAt  = "followed_at"
)

// ShardAll is the Identity.Shard of a checkpoint planned without sharding.
const ShardAll = "all"

// Identity is what a checkpoint belongs to. plan records it; every later command compares it
// with its configuration, so that a checkpoint is never used with other buckets or another
// shard. An empty field was never recorded.
type Identity struct {
	Source      string // the source bucket's location, as the caller renders it
	Destination string // the destination bucket's location
	Shard       string // "I/N", or ShardAll
}

// Identity returns the identity recorded in the checkpoint.
func (db *DB) Identity() (Identity, error) {
	var id Identity
	err := db.view(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		id = Identity{Source: string(m.Get([]byte(metaSource))), Destination: string(m.Get([]byte(metaDestination))),
			Shard: string(m.Get([]byte(metaShard)))}
		return nil
	})
	if err != nil {
		return Identity{}, fmt.Errorf("checkpoint: identity: %w", err)
	}
	return id, nil
}

// SetIdentity records the non-empty fields of id, in one transaction; the empty ones keep what
// the checkpoint holds.
func (db *DB) SetIdentity(id Identity) error {
	err := db.update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		for key, v := range map[string]string{metaSource: id.Source, metaDestination: id.Destination, metaShard: id.Shard} {
			if v == "" {
				continue
			}
			if err := m.Put([]byte(key), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint: set identity: %w", err)
	}
	return nil
}

// CopyRuns returns how many copy runs started on the checkpoint; a plain `copy` refuses a
// checkpoint that had one.
func (db *DB) CopyRuns() (int, error) {
	v, err := db.GetMeta(metaCopyRuns)
	if err != nil || v == "" {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w: meta %s is %q", ErrCorrupt, metaCopyRuns, v)
	}
	return n, nil
}

// AddCopyRun counts one more copy run.
func (db *DB) AddCopyRun() error {
	err := db.update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		n, _ := strconv.Atoi(string(m.Get([]byte(metaCopyRuns))))
		return m.Put([]byte(metaCopyRuns), []byte(strconv.Itoa(n+1)))
	})
	if err != nil {
		return fmt.Errorf("checkpoint: count copy run: %w", err)
	}
	return nil
}

// PlannedAt returns when plan last finished, the zero time when it never did.
func (db *DB) PlannedAt() (time.Time, error) { return db.timeMeta(metaPlannedAt) }

// timeMeta reads a time SetMeta stored as RFC 3339; the zero time when none is stored.
func (db *DB) timeMeta(key string) (time.Time, error) {
	v, err := db.GetMeta(key)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("checkpoint: %w: meta %s is %q", ErrCorrupt, key, v)
	}
	return t, nil
}

// SetPlannedAt records when plan finished (to the second, UTC).
func (db *DB) SetPlannedAt(t time.Time) error {
	return db.SetMeta(metaPlannedAt, t.UTC().Format(time.RFC3339))
}

// FollowedAt returns when `copy --follow` first ran on the checkpoint, the zero time when it
// never did. From then on Mastodon may write to the destination (the switch), so every copy
// asks the destination before writing.
func (db *DB) FollowedAt() (time.Time, error) { return db.timeMeta(metaFollowedAt) }

// SetFollowedAt records that following started at t (to the nanosecond: objects planned a
// moment before are older), unless an earlier start is recorded.
func (db *DB) SetFollowedAt(t time.Time) error {
	if have, err := db.FollowedAt(); err != nil || !have.IsZero() {
		return err
	}
	return db.SetMeta(metaFollowedAt, t.UTC().Format(time.RFC3339Nano))
}

// Watermark returns the position up to which `plan --changed` has read kind's records, in the
// catalog's own notation; "" when no plan recorded one.
func (db *DB) Watermark(kind string) (string, error) {
	return db.GetMeta(metaWatermark + kind)
}

// SetWatermark records kind's watermark.
func (db *DB) SetWatermark(kind, value string) error {
	return db.SetMeta(metaWatermark+kind, value)
}

// SetError says why a set of checkpoint files given together (the shards of one migration)
// cannot be used as one: Path and Other disagree on Field, holding Have and Want.
type SetError struct {
	Path, Other string
	Field       string // "file" (given twice), "shard" (the same shard twice) or "migration"
	Have, Want  string // Path's value and Other's
}

func (e *SetError) Error() string {
	switch e.Field {
	case "file":
		return fmt.Sprintf("checkpoint %s is given twice", e.Path)
	case "shard":
		return fmt.Sprintf("checkpoints %s and %s are both shard %s", e.Other, e.Path, e.Have)
	}
	return fmt.Sprintf("checkpoints %s and %s belong to different migrations (%s; %s)", e.Other, e.Path, e.Want, e.Have)
}

// FileError is an error of one file of a set (OpenSet).
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return "checkpoint " + e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// OpenSet opens the checkpoints at paths as one set: every file must exist, be given once,
// have been planned for the same buckets as the first, and hold a shard no other one holds.
// A file that cannot be opened is a *FileError. locate renders an Identity's buckets for
// SetError (the caller redacts there). The caller closes the returned checkpoints, also on error (those opened so far).
func OpenSet(paths []string, opts Options, locate func(Identity) string) ([]*DB, error) {
	var dbs []*DB
	seen := map[string]bool{}
	shards := map[string]string{}
	var first Identity
	for _, path := range paths {
		if seen[path] {
			return dbs, &SetError{Path: path, Field: "file"}
		}
		seen[path] = true
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return dbs, &FileError{path, ErrNotExist}
		}
		db, err := Open(path, opts)
		if err != nil {
			return dbs, &FileError{path, err}
		}
		dbs = append(dbs, db)
		id, err := db.Identity()
		if err != nil {
			return dbs, &FileError{path, err}
		}
		if len(dbs) == 1 {
			first = id
		} else if id.Source != first.Source || id.Destination != first.Destination {
			return dbs, &SetError{Path: path, Other: paths[0], Field: "migration", Have: locate(id), Want: locate(first)}
		}
		if id.Shard != "" && id.Shard != ShardAll {
			if other, dup := shards[id.Shard]; dup {
				return dbs, &SetError{Path: path, Other: other, Field: "shard", Have: id.Shard}
			}
			shards[id.Shard] = path
		}
	}
	return dbs, nil
}
