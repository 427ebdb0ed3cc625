package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
)

// refetchChunk bounds the record ids per printed command line.
const refetchChunk = 200

// writeRefetchable lists, after the table report, the missing objects that are cached copies
// of remote media (Object.Remote): Mastodon can fetch them again from their origin. The
// checkpoint knows record ids, not usernames or statuses, so each command reads those from the
// database with psql and feeds tootctl: `tootctl media refresh --status ID --force` (--force
// because the records still name a file, which refresh otherwise skips) for media_attachments,
// `tootctl accounts refresh USERNAME@DOMAIN` for avatars and headers. Media of no status
// (Object.NoStatus) cannot be refreshed by status: they are counted and listed apart. Other
// kinds have no tootctl command (Mastodon fetches custom emojis and preview cards again when
// it sees them) and are left out. It then says what holds for every re-fetch: Mastodon stores
// a re-fetched file under a new name (plan must run again before copy --resume), and it never
// fetches media of domains blocked with reject_media. Nothing is printed when no such object
// is missing. Like the rest of the per-object detail, it is not part of `report --merge`.
func writeRefetchable(w io.Writer, db *checkpoint.DB, kinds []string) error {
	ids := map[string][]int64{}
	objs := map[string]int64{}
	var noStatus []int64 // media records of no status, in id order
	var noStatusObjs int64
	err := db.Each(checkpoint.Filter{Kinds: kinds, Statuses: []checkpoint.Status{checkpoint.Missing}}, func(o checkpoint.Object) error {
		if !o.Remote || refetchCommand(o.Kind, nil) == "" {
			return nil
		}
		if o.NoStatus && catalog.Kind(o.Kind) == catalog.MediaAttachments {
			noStatusObjs++
			if len(noStatus) == 0 || noStatus[len(noStatus)-1] != o.RecordID { // Each goes in record id order
				noStatus = append(noStatus, o.RecordID)
			}
			return nil
		}
		objs[o.Kind]++
		if l := ids[o.Kind]; len(l) == 0 || l[len(l)-1] != o.RecordID {
			ids[o.Kind] = append(l, o.RecordID)
		}
		return nil
	})
	if err != nil || (len(objs) == 0 && noStatusObjs == 0) {
		return err
	}
	total := noStatusObjs
	names := make([]string, 0, len(objs))
	for k, n := range objs {
		total += n
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "\n%d missing object(s) are cached remote media Mastodon can fetch again from their origin:\n", total)
	for _, k := range names {
		fmt.Fprintf(w, "  %s: %d object(s) of %d record(s)\n", k, objs[k], len(ids[k]))
	}
	if noStatusObjs > 0 {
		fmt.Fprintf(w, "  media_attachments of no status: %d object(s) of %d record(s), out of reach of tootctl media refresh --status\n",
			noStatusObjs, len(noStatus))
	}
	for _, k := range names {
		for chunk := range slices.Chunk(ids[k], refetchChunk) {
			if line := refetchCommand(k, chunk); line != "" {
				fmt.Fprintln(w, line)
			}
		}
	}
	if len(noStatus) > 0 {
		fmt.Fprintln(w, "Media of no status (an upload never posted, or the media of a deleted or scheduled status), by record id;")
		fmt.Fprintln(w, "only `tootctl media refresh --account USER@DOMAIN --force` reaches them, with every other file of that account:")
		for chunk := range slices.Chunk(noStatus, refetchChunk) {
			fmt.Fprintln(w, "  "+joinIDs(chunk, " "))
		}
	}
	fmt.Fprintln(w, "Mastodon stores a file it fetches again under a new file name: afterwards run `s3sync plan`, then `s3sync copy --resume`.")
	fmt.Fprintln(w, "Mastodon never fetches media from domains blocked with reject_media; their media stays missing. They are:")
	fmt.Fprintln(w, `psql -Atc "SELECT domain FROM domain_blocks WHERE reject_media"`)
	return nil
}

// joinIDs formats ids joined by sep.
func joinIDs(ids []int64, sep string) string {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(list, sep)
}

// refetchCommand is the shell line that makes Mastodon fetch the records of kind again, or ""
// when tootctl has no command for the kind.
func refetchCommand(kind string, ids []int64) string {
	in := joinIDs(ids, ",")
	switch catalog.Kind(kind) {
	case catalog.MediaAttachments:
		return `psql -Atc "SELECT DISTINCT status_id FROM media_attachments WHERE id IN (` + in +
			`) AND status_id IS NOT NULL" | xargs -rn1 tootctl media refresh --force --status`
	case catalog.Accounts:
		return `psql -Atc "SELECT username || '@' || domain FROM accounts WHERE id IN (` + in +
			`) AND domain IS NOT NULL" | xargs -rn1 tootctl accounts refresh`
	}
	return ""
}
