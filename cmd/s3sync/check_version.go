package main

import (
	"context"

	"github.com/s3sync/s3sync/catalog"
)

// checkVersion is check's "database version" item: the Mastodon release the latest applied
// migration belongs to. An unknown version is a warning, not a failure: plan still reads
// whatever columns the tables have.
func checkVersion(ctx context.Context, k *checker, reader *catalog.Reader) {
	v, err := reader.Version(ctx)
	switch {
	case err != nil:
		k.warn("database version", oneLineErr(err), "")
	case v.Mastodon == "":
		k.warn("database version", v.String()+"; plan reads the columns the tables have", "")
	default:
		k.ok("database version", v.String())
	}
}
