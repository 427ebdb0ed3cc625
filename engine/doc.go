// Package engine runs s3sync's stages — plan, copy, follow, retry-failed, verify, fix-acl and
// report.
//
// The stages talk to each other only through the checkpoint: plan writes objects as pending,
// copy turns pending objects into done, failed or missing, retry-failed puts failed ones back,
// and report reads the result. An object becomes done only in a checkpoint transaction that
// commits after the destination accepted its body, so a run stopped at any moment leaves a
// checkpoint from which the next run continues.
//
// Follow (copy --follow) repeats the two while Mastodon runs: every pass plans what changed
// since the last one (new ids through the primary key; replaced files now and then) and copies
// it. Once following has begun, Mastodon may be writing to the destination (the switch), so
// the copier asks it first: an object it already holds is done ("found"), never overwritten
// by an older one from the source.
//
// A copy keeps its live state in a Monitor (counts per kind and status, rates, recent
// failures) for progress bars and for the status server of package engine/statusserver.
//
// Concurrency and retries each have one place. runPool runs every worker pool: one producer,
// N workers, an unbuffered channel between them, all ended before it returns. retryPolicy
// retries every single request to a bucket — a copy attempt, verify's HEADs, fix-acl's
// PutObjectAcl, the server-side probe, the listing of incomplete uploads — with exponential
// backoff and jitter, for the errors storage calls retryable (throttling, 5xx, broken
// connections), never after cancellation.
//
// engine holds no Mastodon knowledge (that is package catalog's) and never imports the S3
// SDK (package storage classifies its errors).
package engine
