package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the checkpoint format this package writes, kept in meta "format". Version 2
// added the stale status and its index bucket; version 3 writes every object to its DestKey
// (see migrateV2). Older files are migrated when opened writable, and read as they are when
// opened ReadOnly.
const FormatVersion = "3"

// formatV1 is the format before the stale status; see migrateV1.
const formatV1 = "1"

// MetaFormat is the meta key holding the format version; SetMeta refuses to change it.
const MetaFormat = "format"

// DefaultTimeout is how long Open waits for the file lock when Options.Timeout is 0.
const DefaultTimeout = time.Second

var (
	// ErrLocked is returned (wrapped) by Open when another process holds the checkpoint's file lock.
	ErrLocked = errors.New("checkpoint is in use by another process (is another s3sync running?)")

	// ErrCorrupt is returned (wrapped) when the file is not a valid checkpoint: garbage, truncated,
	// damaged, or written in another format version.
	ErrCorrupt = errors.New("not a valid s3sync checkpoint")

	// ErrNotExist is returned (wrapped) by a ReadOnly Open of a file that does not exist; it wraps
	// os.ErrNotExist.
	ErrNotExist = fmt.Errorf("checkpoint not found, run `s3sync plan` first: %w", os.ErrNotExist)

	// ErrNotFound is returned (wrapped) by Apply for an ID the checkpoint does not hold.
	ErrNotFound = errors.New("object not in checkpoint")

	// ErrReadOnly is returned (wrapped) by a write on a checkpoint opened ReadOnly.
	ErrReadOnly = errors.New("checkpoint opened read-only")
)

// Bucket names; they are part of the file format.
var (
	bucketObjects  = []byte("objects")
	bucketCounters = []byte("counters")
	bucketMeta     = []byte("meta")
	statusBuckets  = [...][]byte{
		[]byte("status/" + Pending),
		[]byte("status/" + Done),
		[]byte("status/" + Failed),
		[]byte("status/" + Missing),
		[]byte("status/" + Stale), // since format 2
	}
)

func allBuckets() [][]byte {
	return append([][]byte{bucketObjects, bucketCounters, bucketMeta, bucketUploads}, statusBuckets[:]...)
}

// Options configures Open.
type Options struct {
	// ReadOnly opens the file with a shared lock and refuses writes; the file must exist.
	// Default false: the file is created if missing and locked exclusively.
	ReadOnly bool

	// Timeout is how long Open waits for the file lock before returning ErrLocked.
	// Zero means DefaultTimeout (1s).
	Timeout time.Duration
}

// DB is an open checkpoint; its methods are safe for concurrent use by multiple goroutines.
type DB struct {
	bolt     *bolt.DB
	path     string
	readOnly bool
}

// Open opens the checkpoint at path, creating it (mode 0600, with all buckets) unless
// opts.ReadOnly; an existing file is chmod'ed to 0600 when opened writable.
func Open(path string, opts Options) (*DB, error) {
	fail := func(err error) (*DB, error) { return nil, fmt.Errorf("checkpoint: open %s: %w", path, err) }

	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if opts.ReadOnly {
			return fail(ErrNotExist)
		}
	case err != nil:
		return fail(err)
	case info.IsDir():
		return fail(fmt.Errorf("is a directory"))
	case info.Size() == 0:
		// bbolt would silently initialize an empty file; an empty file we did not create is
		// more likely a checkpoint lost by a failed copy than a new one.
		return fail(fmt.Errorf("%w: empty file", ErrCorrupt))
	}

	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	bopts := &bolt.Options{
		Timeout:  timeout,
		ReadOnly: opts.ReadOnly,
		// The hashmap freelist is faster than the array one on large, fragmented files.
		FreelistType: bolt.FreelistMapType,
		// NoFreelistSync stays false: without a synced freelist bbolt rebuilds it on every
		// writable open by walking every page (cost proportional to the whole file), and that
		// walk panics in a goroutine of its own on a damaged file, which no recover can catch.
	}
	// Keep the file bbolt opens, to release it (and its lock) if bbolt panics inside Open.
	var file *os.File
	bopts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	var bdb *bolt.DB
	err = guard(func() error {
		var err error
		bdb, err = bolt.Open(path, 0o600, bopts)
		return err
	})
	if err != nil {
		if bdb == nil && file != nil && errors.Is(err, ErrCorrupt) {
			_ = file.Close() // bbolt closes it on the errors it returns, not on a panic
		}
		return fail(classifyOpenError(err))
	}
	db := &DB{bolt: bdb, path: path, readOnly: opts.ReadOnly}
	if !opts.ReadOnly {
		if err := os.Chmod(path, 0o600); err != nil {
			_ = bdb.Close()
			return fail(err)
		}
	}
	if err := db.init(); err != nil {
		_ = bdb.Close()
		return fail(err)
	}
	return db, nil
}

// classifyOpenError maps bbolt's open errors onto ErrLocked and ErrCorrupt.
func classifyOpenError(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: %v", ErrLocked, err)
	case errors.Is(err, ErrCorrupt):
		return err
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), strings.Contains(err.Error(), "file size too small"):
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return err
}

// init checks an existing checkpoint (format version, buckets, size) and initializes a new one.
func (db *DB) init() error {
	fresh, migrate, migrate2 := false, false, false
	err := db.view(func(tx *bolt.Tx) error {
		if fi, err := os.Stat(db.path); err != nil {
			return err
		} else if tx.Size() > fi.Size() {
			return fmt.Errorf("%w: file truncated (%d bytes, want at least %d)", ErrCorrupt, fi.Size(), tx.Size())
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			// A bbolt file without any bucket is one whose creation never committed.
			k, _ := tx.Cursor().First()
			if k != nil || db.readOnly {
				return fmt.Errorf("%w: no format version", ErrCorrupt)
			}
			fresh = true
			return nil
		}
		v := string(meta.Get([]byte(MetaFormat)))
		if v != FormatVersion && v != formatV2 && v != formatV1 {
			return fmt.Errorf("%w: format version %q, this s3sync reads %q to %q", ErrCorrupt, v, formatV1, FormatVersion)
		}
		migrate = v == formatV1
		migrate2 = v == formatV1 || v == formatV2
		for _, name := range allBuckets() {
			if migrate && bytes.Equal(name, statusBuckets[indexOf(Stale)]) {
				continue
			}
			if migrate2 && bytes.Equal(name, bucketUploads) {
				continue // since format 3
			}
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, name)
			}
		}
		// Touch the first object so that damage to the pages near the root shows up now, not
		// mid-run (bbolt panics on it; guard makes that ErrCorrupt). A record whose value does
		// not decode is damage to that record alone: it is reported where it is read, as a
		// RecordError, and SetAsideCorrupt, which needs the file open, moves it aside.
		tx.Bucket(bucketObjects).Cursor().First()
		return nil
	})
	if err != nil {
		return err
	}
	if migrate && !db.readOnly {
		if err := db.migrateV1(); err != nil {
			return err
		}
	}
	if migrate2 && !db.readOnly {
		return db.migrateV2()
	}
	if !fresh {
		return nil
	}
	return db.update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put([]byte(MetaFormat), []byte(FormatVersion))
	})
}

// Close releases the file lock and closes the file.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("checkpoint: close %s: %w", db.path, err)
	}
	return nil
}

// Path returns the path the checkpoint was opened with.
func (db *DB) Path() string { return db.path }

// GetMeta returns the metadata value stored under key, "" if absent.
func (db *DB) GetMeta(key string) (string, error) {
	var v string
	err := db.view(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bucketMeta).Get([]byte(key)))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("checkpoint: get meta %s: %w", key, err)
	}
	return v, nil
}

// SetMeta stores value under key in its own transaction ("" stores an empty value); the key
// must be non-empty and not MetaFormat.
func (db *DB) SetMeta(key, value string) error {
	if key == "" || key == MetaFormat {
		return fmt.Errorf("checkpoint: set meta %q: reserved or empty key", key)
	}
	err := db.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), []byte(value))
	})
	if err != nil {
		return fmt.Errorf("checkpoint: set meta %s: %w", key, err)
	}
	return nil
}

// view runs fn in a read transaction, turning a panic or memory fault (a damaged file) into ErrCorrupt.
func (db *DB) view(fn func(*bolt.Tx) error) error {
	return guard(func() error { return db.bolt.View(fn) })
}

// update runs fn in a write transaction, turning a panic or memory fault into ErrCorrupt; bbolt
// rolls the transaction back before the panic reaches guard.
func (db *DB) update(fn func(*bolt.Tx) error) error {
	if db.readOnly {
		return ErrReadOnly
	}
	return guard(func() error { return db.bolt.Update(fn) })
}

// guard runs fn and converts a panic, or a fault on the memory-mapped file (SIGBUS on a
// truncated file), into an error wrapping ErrCorrupt: bbolt panics on some damaged pages.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}
