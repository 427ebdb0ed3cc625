// Package engine runs s3sync's stages — plan, copy, retry-failed and report — and the worker
// pool that joins them.
//
// The stages talk to each other only through the checkpoint: plan writes objects as pending,
// copy turns pending objects into done, failed or missing, retry-failed puts failed ones back,
// and report reads the result. An object becomes done only in a checkpoint transaction that
// commits after the destination accepted its body, so a run stopped at any moment leaves a
// checkpoint from which the next run continues.
//
// A copy keeps its live state in a Monitor (counts per kind and status, rates, recent
// failures) for progress bars and for the status server of package engine/statusserver.
//
// engine holds no Mastodon knowledge (that is package catalog's) and never imports the S3
// SDK (package storage classifies its errors).
package engine
