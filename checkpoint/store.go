package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fillPercent packs index and object pages tighter than bbolt's default 0.5: keys mostly arrive
// in ascending order (plan pages, copy order), where half-full pages would double the file.
const fillPercent = 0.9

// eachChunk is how many objects Each reads per read transaction.
const eachChunk = 1000

// requeueChunk is how many objects Requeue moves per write transaction.
const requeueChunk = 10000

// writer holds the buckets of one write transaction and the counter changes it has made.
type writer struct {
	tx      *bolt.Tx
	objects *bolt.Bucket
	index   [len(statusBuckets)]*bolt.Bucket
	counter *bolt.Bucket
	deltas  map[countKey]*[2]int64
	now     time.Time
	// buf holds the encoded values put in this transaction, one allocation for many objects;
	// bbolt keeps referring to a value until the transaction ends, so bytes once handed out
	// are never overwritten (append may move on to a new array, leaving the old one intact).
	buf []byte
}

// countKey is a kind × status counter in the writer's deltas, stored as counterKey.
type countKey struct {
	kind   string
	status Status
}

func newWriter(tx *bolt.Tx) *writer {
	w := &writer{
		tx:      tx,
		objects: tx.Bucket(bucketObjects),
		counter: tx.Bucket(bucketCounters),
		deltas:  make(map[countKey]*[2]int64),
		now:     time.Now().UTC(),
	}
	w.objects.FillPercent = fillPercent
	for i, name := range statusBuckets {
		w.index[i] = tx.Bucket(name)
		w.index[i].FillPercent = fillPercent
	}
	return w
}

func indexOf(s Status) int {
	c, _ := statusCode(s)
	return int(c)
}

// count adds objs objects and n bytes to the kind × status counter.
func (w *writer) count(kind string, s Status, objs, n int64) {
	key := countKey{kind, s}
	d := w.deltas[key]
	if d == nil {
		d = new([2]int64)
		w.deltas[key] = d
	}
	d[0] += objs
	d[1] += n
}

// put stores o under key.
func (w *writer) put(key []byte, o Object) error {
	start := len(w.buf)
	w.buf = appendObject(w.buf, o)
	return w.objects.Put(key, w.buf[start:len(w.buf):len(w.buf)])
}

// reserve makes room in buf for about n more bytes of values, so that the puts of a
// transaction share one allocation.
func (w *writer) reserve(n int) {
	if cap(w.buf)-len(w.buf) < n {
		w.buf = make([]byte, 0, n)
	}
}

// setStatus stores o, the new state of old under key, moving the key between status indexes
// and adjusting the counters when the status or the counted bytes changed.
func (w *writer) setStatus(key []byte, old, o Object) error {
	if old.Status != o.Status {
		if err := w.index[indexOf(old.Status)].Delete(key); err != nil {
			return err
		}
		if err := w.index[indexOf(o.Status)].Put(key, []byte{}); err != nil {
			return err
		}
	}
	if old.Status != o.Status || old.countBytes() != o.countBytes() {
		w.count(old.Kind, old.Status, -1, -old.countBytes())
		w.count(o.Kind, o.Status, 1, o.countBytes())
	}
	if err := w.indexFound(key, old, o); err != nil {
		return err
	}
	return w.put(key, o)
}

// indexFound keeps bucket found listing the objects that are done and Found, created on
// first use: FoundCounts reads it instead of every object.
func (w *writer) indexFound(key []byte, old, o Object) error {
	was, is := old.Status == Done && old.Found, o.Status == Done && o.Found
	if was == is {
		return nil
	}
	if is {
		b, err := w.tx.CreateBucketIfNotExists(bucketFound)
		if err != nil {
			return err
		}
		return b.Put(key, []byte{})
	}
	if b := w.tx.Bucket(bucketFound); b != nil {
		return b.Delete(key)
	}
	return nil
}

// flush writes the counter changes; a counter that reaches zero is deleted.
func (w *writer) flush() error {
	for key, d := range w.deltas {
		if d[0] == 0 && d[1] == 0 {
			continue
		}
		k := []byte(counterKey(key.kind, key.status))
		objs, n := decodeCounter(w.counter.Get(k))
		objs += d[0]
		n += d[1]
		if objs == 0 && n == 0 {
			if err := w.counter.Delete(k); err != nil {
				return err
			}
			continue
		}
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v[:8], uint64(objs))
		binary.BigEndian.PutUint64(v[8:], uint64(n))
		if err := w.counter.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

func counterKey(kind string, s Status) string { return kind + "\x00" + string(s) }

func decodeCounter(v []byte) (objs, n int64) {
	if len(v) != 16 {
		return 0, 0
	}
	return int64(binary.BigEndian.Uint64(v[:8])), int64(binary.BigEndian.Uint64(v[8:]))
}

// Merge stores the objects plan found, in one transaction: new IDs arrive Pending with
// CreatedAt = UpdatedAt = now (an ID SetAsideCorrupt set aside is then no longer set aside);
// known IDs keep their status fields and timestamps and get
// Candidates, Size, ContentType, Remote, Private and NoStatus refreshed; duplicate IDs in objs count once (the last wins).
// Exceptions (see refresh): a Stale object found again is Pending again, and an object whose
// file name changed (the record got a new file) starts over as Pending, a Done one leaving a
// Stale object behind for the old file.
func (db *DB) Merge(objs []Object) (added, known int, err error) {
	if len(objs) == 0 {
		return 0, 0, nil
	}
	type item struct {
		key []byte
		obj *Object
	}
	items := make([]item, len(objs))
	keyBytes, valueBytes := 0, 0
	for i := range objs {
		keyBytes += len(objs[i].Kind) + len(objs[i].Attachment) + len(objs[i].Style) + 23
		valueBytes += encodedSizeHint(objs[i])
	}
	keys := make([]byte, 0, keyBytes) // one allocation for every key
	for i := range objs {
		if err := objs[i].validateIdentity(); err != nil {
			return 0, 0, fmt.Errorf("checkpoint: merge: %w", err)
		}
		start := len(keys)
		keys = appendID(keys, objs[i])
		items[i] = item{keys[start:len(keys):len(keys)], &objs[i]}
	}
	// Ascending keys make bbolt's work sequential; stable so that the last duplicate wins below.
	// Plan's pages usually arrive sorted already.
	byKey := func(a, b item) int { return bytes.Compare(a.key, b.key) }
	if !slices.IsSortedFunc(items, byKey) {
		slices.SortStableFunc(items, byKey)
	}
	uniq := items[:0]
	for i, it := range items {
		if i+1 < len(items) && bytes.Equal(it.key, items[i+1].key) {
			continue
		}
		uniq = append(uniq, it)
	}

	err = db.update(func(tx *bolt.Tx) error {
		added, known = 0, 0
		w := newWriter(tx)
		w.reserve(valueBytes)
		// Keys past the largest stored one are new without a lookup: a first plan only appends.
		maxKey, _ := w.objects.Cursor().Last()
		maxKey = slices.Clone(maxKey)
		// A record set aside as unreadable that is planned again is no longer set aside.
		corrupt := tx.Bucket(bucketCorrupt)
		if corrupt != nil {
			if k, _ := corrupt.Cursor().First(); k == nil {
				corrupt = nil
			}
		}
		for _, it := range uniq {
			in := it.obj
			var v []byte
			if maxKey != nil && bytes.Compare(it.key, maxKey) <= 0 {
				v = w.objects.Get(it.key)
			}
			if v == nil {
				o := Object{
					Kind: in.Kind, RecordID: in.RecordID, Attachment: in.Attachment, Style: in.Style,
					Candidates: in.Candidates, Size: in.Size, ContentType: in.ContentType, Remote: in.Remote, Private: in.Private, NoStatus: in.NoStatus,
					Status: Pending, CreatedAt: w.now, UpdatedAt: w.now,
				}
				if err := w.put(it.key, o); err != nil {
					return err
				}
				if err := w.index[indexOf(Pending)].Put(it.key, []byte{}); err != nil {
					return err
				}
				w.count(o.Kind, Pending, 1, o.Size)
				if corrupt != nil {
					if err := corrupt.Delete(it.key); err != nil {
						return err
					}
				}
				added++
				continue
			}
			known++
			old, err := decodeObject(it.key, v)
			if err != nil {
				return recordError(it.key, err)
			}
			if slices.Equal(old.Candidates, in.Candidates) && old.Size == in.Size &&
				old.ContentType == in.ContentType && old.Remote == in.Remote && old.Private == in.Private &&
				old.NoStatus == in.NoStatus && old.Status != Stale {
				continue
			}
			o := old
			o.Candidates, o.Size, o.ContentType, o.Remote = in.Candidates, in.Size, in.ContentType, in.Remote
			o.Private, o.NoStatus = in.Private, in.NoStatus
			if err := w.refresh(it.key, old, &o); err != nil { // stale.go: a replaced file starts over
				return err
			}
			if err := w.setStatus(it.key, old, o); err != nil {
				return err
			}
		}
		return w.flush()
	})
	if err != nil {
		return 0, 0, fmt.Errorf("checkpoint: merge: %w", err)
	}
	return added, known, nil
}

// Update is one object's new state after a copy attempt.
type Update struct {
	ID        string // Object.ID of an object in the checkpoint
	Status    Status // new status, one of Statuses
	Error     string // replaces Object.Error ("" clears it)
	Bytes     int64  // replaces Object.Bytes
	SourceKey string // replaces Object.SourceKey
	Attempts  int    // added to Object.Attempts
	Found     bool   // replaces Object.Found: done because the destination already held the object
}

// Apply writes all updates in one transaction (status, indexes, counters and UpdatedAt = now
// together), durable when it returns nil; an unknown ID (ErrNotFound) or status applies nothing,
// and applying the same update twice changes nothing but Attempts and UpdatedAt.
func (db *DB) Apply(updates []Update) error {
	if len(updates) == 0 {
		return nil
	}
	type item struct {
		key []byte
		u   *Update
	}
	items := make([]item, len(updates))
	for i := range updates {
		u := &updates[i]
		if !u.Status.valid() {
			return fmt.Errorf("checkpoint: apply %s: invalid status %q (valid: %s)", u.ID, u.Status, validStatuses())
		}
		items[i] = item{[]byte(u.ID), u}
	}
	// Ascending keys for locality; stable, so several updates of one ID apply in their order.
	sort.SliceStable(items, func(i, j int) bool { return bytes.Compare(items[i].key, items[j].key) < 0 })

	err := db.update(func(tx *bolt.Tx) error {
		w := newWriter(tx)
		for _, it := range items {
			v := w.objects.Get(it.key)
			if v == nil {
				return fmt.Errorf("%q: %w", it.key, ErrNotFound)
			}
			old, err := decodeObject(it.key, v)
			if err != nil {
				return recordError(it.key, err)
			}
			o := old
			o.Status = it.u.Status
			o.Error = it.u.Error
			o.Bytes = it.u.Bytes
			o.SourceKey = it.u.SourceKey
			o.Found = it.u.Found
			o.Attempts += it.u.Attempts
			o.UpdatedAt = w.now
			if err := w.setStatus(it.key, old, o); err != nil {
				return err
			}
		}
		return w.flush()
	})
	if err != nil {
		return fmt.Errorf("checkpoint: apply: %w", err)
	}
	return nil
}

// Get returns the object with the given ID; ok is false if the checkpoint does not hold it.
func (db *DB) Get(id string) (obj Object, ok bool, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketObjects).Get([]byte(id))
		if v == nil {
			return nil
		}
		obj, err = decodeObject([]byte(id), v)
		if err != nil {
			return recordError([]byte(id), err)
		}
		ok = true
		return nil
	})
	if err != nil {
		return Object{}, false, fmt.Errorf("checkpoint: get %s: %w", id, err)
	}
	return obj, ok, nil
}

// prefixes turns a kind filter into sorted, distinct ID prefixes; nil means every ID ([""]).
func prefixes(kinds []string) ([]string, error) {
	if len(kinds) == 0 {
		return []string{""}, nil
	}
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if k == "" || strings.ContainsAny(k, "/\x00") {
			return nil, fmt.Errorf("%w %q", errKindInvalid, k)
		}
		out = append(out, kindPrefix(k))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// scan calls fn for up to n keys of b with the given prefix that are > after, in order, and
// returns how many it visited; fn's key and value are only valid inside the transaction.
func scan(b *bolt.Bucket, prefix, after string, n int, fn func(k, v []byte) error) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	c := b.Cursor()
	var k, v []byte
	if after >= prefix {
		k, v = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
	} else {
		k, v = c.Seek([]byte(prefix))
	}
	seen := 0
	for ; k != nil && seen < n && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return seen, err
		}
		seen++
	}
	return seen, nil
}

// NextPending returns up to n pending objects with ID > after, in ID order, of the given kinds
// (nil or empty = all); it seeks the pending index, so its cost follows n and len(kinds).
func (db *DB) NextPending(after string, kinds []string, n int) ([]Object, error) {
	pfx, err := prefixes(kinds)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: next pending: %w", err)
	}
	var out []Object
	err = db.view(func(tx *bolt.Tx) error {
		out = nil
		objects := tx.Bucket(bucketObjects)
		idx := tx.Bucket(statusBuckets[indexOf(Pending)])
		for _, p := range pfx {
			_, err := scan(idx, p, after, n-len(out), func(k, _ []byte) error {
				o, err := getObject(objects, k)
				if err != nil {
					return err
				}
				out = append(out, o)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: next pending: %w", err)
	}
	return out, nil
}

// getObject reads the object an index entry points at.
func getObject(objects *bolt.Bucket, key []byte) (Object, error) {
	v := objects.Get(key)
	if v == nil {
		return Object{}, recordError(key, errors.New("a status index lists it, but there is no such record"))
	}
	o, err := decodeObject(key, v)
	if err != nil {
		return Object{}, recordError(key, err)
	}
	return o, nil
}

// Filter selects objects for Each.
type Filter struct {
	Kinds    []string // kinds to include; empty = all
	Statuses []Status // statuses to include; empty = all
}

// Each calls fn for every object matching f — per status in the order given (all objects at once
// when f.Statuses is empty), in ID order — reading in short transactions of 1,000 objects and
// calling fn outside any transaction; fn's error stops the walk and is returned as is.
func (db *DB) Each(f Filter, fn func(Object) error) error {
	statuses, err := checkStatuses(f.Statuses)
	if err != nil {
		return fmt.Errorf("checkpoint: each: %w", err)
	}
	pfx, err := prefixes(f.Kinds)
	if err != nil {
		return fmt.Errorf("checkpoint: each: %w", err)
	}
	if len(statuses) == 0 {
		return db.walk(bucketObjects, pfx, fn)
	}
	for _, s := range statuses {
		if err := db.walk(statusBuckets[indexOf(s)], pfx, fn); err != nil {
			return err
		}
	}
	return nil
}

// walk calls fn for the objects whose IDs are keys of bucket (the objects bucket or a status
// index) under the given prefixes, in chunks of short read transactions.
func (db *DB) walk(bucket []byte, pfx []string, fn func(Object) error) error {
	chunk := make([]Object, 0, eachChunk)
	isObjects := bytes.Equal(bucket, bucketObjects)
	for _, p := range pfx {
		after, last := "", ""
		for {
			chunk = chunk[:0]
			err := db.view(func(tx *bolt.Tx) error {
				objects := tx.Bucket(bucketObjects)
				b := tx.Bucket(bucket)
				if b == nil { // the stale index of a format 1 file opened ReadOnly
					return nil
				}
				_, err := scan(b, p, after, eachChunk, func(k, v []byte) error {
					var o Object
					var err error
					if isObjects {
						if o, err = decodeObject(k, v); err != nil {
							return recordError(k, err)
						}
					} else if o, err = getObject(objects, k); err != nil {
						return err
					}
					chunk = append(chunk, o)
					last = string(k)
					return nil
				})
				return err
			})
			if err != nil {
				return fmt.Errorf("checkpoint: each: %w", err)
			}
			for _, o := range chunk {
				if err := fn(o); err != nil {
					return err
				}
			}
			if len(chunk) < eachChunk {
				break
			}
			after = last
		}
	}
	return nil
}

// Requeue moves the objects of the given statuses (Pending is skipped) and kinds (empty = all)
// back to Pending with Error cleared, committing every 10,000 objects, and returns how many
// moved; after an error the chunks already committed stay moved.
func (db *DB) Requeue(statuses []Status, kinds []string) (int, error) {
	statuses, err := checkStatuses(statuses)
	if err != nil {
		return 0, fmt.Errorf("checkpoint: requeue: %w", err)
	}
	if len(statuses) == 0 {
		return 0, fmt.Errorf("checkpoint: requeue: no statuses given")
	}
	pfx, err := prefixes(kinds)
	if err != nil {
		return 0, fmt.Errorf("checkpoint: requeue: %w", err)
	}
	moved := 0
	for _, s := range statuses {
		if s == Pending {
			continue
		}
		for _, p := range pfx {
			after := ""
			for {
				n := 0
				err := db.update(func(tx *bolt.Tx) error {
					n = 0
					w := newWriter(tx)
					idx := w.index[indexOf(s)]
					var keys [][]byte
					_, err := scan(idx, p, after, requeueChunk, func(k, _ []byte) error {
						keys = append(keys, slices.Clone(k))
						return nil
					})
					if err != nil {
						return err
					}
					for _, k := range keys {
						old, err := getObject(w.objects, k)
						if err != nil {
							return err
						}
						o := old
						o.Status = Pending
						o.Error = ""
						o.UpdatedAt = w.now
						if err := w.setStatus(k, old, o); err != nil {
							return err
						}
					}
					if len(keys) > 0 {
						after = string(keys[len(keys)-1])
					}
					n = len(keys)
					return w.flush()
				})
				if err != nil {
					return moved, fmt.Errorf("checkpoint: requeue: %w", err)
				}
				moved += n
				if n < requeueChunk {
					break
				}
			}
		}
	}
	return moved, nil
}

// Counts returns kind → status → Count from the counters the write transactions keep, reading
// only those (cost: kinds × statuses); pairs with no objects are absent.
func (db *DB) Counts() (Counts, error) {
	out := Counts{}
	err := db.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(v) != 16 || !Status(k[i+1:]).valid() {
				return fmt.Errorf("%w: malformed counter %q", ErrCorrupt, k)
			}
			objs, n := decodeCounter(v)
			out.add(string(k[:i]), Status(k[i+1:]), Count{objs, n})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: counts: %w", err)
	}
	return out, nil
}

// Recount computes what Counts returns by scanning every object, in one read transaction so the
// result is a consistent snapshot; its cost is the whole catalog, so it is for checks and tests.
func (db *DB) Recount() (Counts, error) {
	var out Counts
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		out, err = recount(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: recount: %w", err)
	}
	return out, nil
}

func recount(tx *bolt.Tx) (Counts, error) {
	out := Counts{}
	err := tx.Bucket(bucketObjects).ForEach(func(k, v []byte) error {
		o, err := decodeObject(k, v)
		if err != nil {
			return recordError(k, err)
		}
		out.add(o.Kind, o.Status, Count{1, o.countBytes()})
		return nil
	})
	return out, err
}

// Verify checks, in one read transaction over the whole file, that every object decodes and
// sits in exactly the index of its status, that the indexes hold nothing else, and that the
// counters equal a recount; a mismatch is an error wrapping ErrCorrupt.
func (db *DB) Verify() error {
	err := db.view(func(tx *bolt.Tx) error {
		objects := tx.Bucket(bucketObjects)
		var idx [len(statusBuckets)]*bolt.Bucket
		for i, name := range statusBuckets {
			idx[i] = tx.Bucket(name)
		}
		counts := Counts{}
		err := objects.ForEach(func(k, v []byte) error {
			o, err := decodeObject(k, v)
			if err != nil {
				return recordError(k, err)
			}
			if id := o.ID(); id != string(k) {
				return recordError(k, fmt.Errorf("its key reads as %q", id))
			}
			for i, b := range idx {
				if b == nil { // the stale index of a format 1 file opened ReadOnly
					continue
				}
				kk, _ := b.Cursor().Seek(k)
				in := kk != nil && bytes.Equal(kk, k)
				if want := i == indexOf(o.Status); in != want {
					return recordError(k, fmt.Errorf("it is %s but index %s has it: %t", o.Status, AllStatuses[i], in))
				}
			}
			counts.add(o.Kind, o.Status, Count{1, o.countBytes()})
			return nil
		})
		if err != nil {
			return err
		}
		for i, b := range idx {
			if b == nil {
				continue
			}
			err := b.ForEach(func(k, _ []byte) error {
				if objects.Get(k) == nil {
					return recordError(k, fmt.Errorf("index %s lists it, but there is no such record", AllStatuses[i]))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		kept := Counts{}
		err = tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(v) != 16 {
				return fmt.Errorf("%w: malformed counter %q", ErrCorrupt, k)
			}
			objs, n := decodeCounter(v)
			kept.add(string(k[:i]), Status(k[i+1:]), Count{objs, n})
			return nil
		})
		if err != nil {
			return err
		}
		if !equalCounts(kept, counts) {
			return fmt.Errorf("%w: counters %v differ from recount %v", ErrCorrupt, kept, counts)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint: verify: %w", err)
	}
	return nil
}

// equalCounts reports whether a and b hold exactly the same pairs.
func equalCounts(a, b Counts) bool {
	if len(a) != len(b) {
		return false
	}
	for k, am := range a {
		bm, ok := b[k]
		if !ok || len(am) != len(bm) {
			return false
		}
		for s, c := range am {
			if bm[s] != c {
				return false
			}
		}
	}
	return true
}
