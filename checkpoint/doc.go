// Package checkpoint is s3sync's durable queue and record: a bbolt file holding every object to
// copy, its status (pending, done, failed, missing), an index per status, per kind × status
// counters, and small run metadata.
//
// Contract:
//
//   - One writer. Open takes bbolt's file lock (exclusive when writable, shared when ReadOnly),
//     so a second s3sync on the same file fails fast with ErrLocked after Options.Timeout. Note
//     that a ReadOnly open is refused too while a writer holds the file. Within one process a
//     *DB is safe for concurrent use by several goroutines; write transactions are serialized.
//   - Writes are batched by the caller: Merge and Apply each commit one transaction (with an
//     fsync) for the whole slice they are given, so callers pass pages or batches, not single
//     objects. Requeue commits in chunks of its own.
//   - Durability: once Merge, Apply, Requeue or SetMeta returns nil, the change is on disk; an
//     object recorded done by Apply stays done after a crash.
//   - Cost follows the request, not the catalog: NextPending and Each with a status filter walk
//     the status indexes; Counts reads the counters, which every write transaction keeps in step
//     with the objects it changes. Only Recount and Verify scan all objects.
//   - No long read transactions: Each reads in short chunks and calls its function outside any
//     transaction, so a long report neither blocks the writer nor bloats the file.
//   - Corruption is an error, never a panic: a file that is not a valid checkpoint (garbage,
//     truncated, another format version) makes Open, or the first operation that touches the
//     damage, return an error wrapping ErrCorrupt. Damage confined to object records (a value
//     that does not decode, an index entry without its record) is a *RecordError naming the
//     record, still wrapping ErrCorrupt; Open does not refuse the file for it, and
//     SetAsideCorrupt moves such records into the "corrupt" bucket and mends the indexes and
//     counters around them.
//
// Layout: bucket "objects" maps Object.ID to a compact binary encoding of the object (its kind,
// record id, attachment and style are recovered from the key); buckets "status/<status>" hold
// the IDs of the objects in that status with empty values; bucket "counters" maps
// kind + "\x00" + status to 16 bytes (objects, bytes; big-endian); bucket "meta" holds string
// key/values, among them "format" (FormatVersion), which Open checks; bucket "corrupt", when
// present, holds the unreadable records SetAsideCorrupt set aside, by their key; bucket "found",
// when present, lists the done objects the copy found at the destination instead of copying
// them (Object.Found), for FoundCounts.
package checkpoint
