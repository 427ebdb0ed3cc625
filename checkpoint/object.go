package checkpoint

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is where an object stands in the copy.
type Status string

// The statuses an object can have.
const (
	Pending Status = "pending" // not copied yet (new, or put back by Requeue)
	Done    Status = "done"    // copied; the destination accepted the body
	Failed  Status = "failed"  // the last attempt failed; Object.Error says why
	Missing Status = "missing" // none of the candidate keys exists at the source
	Stale   Status = "stale"   // no longer referenced (record deleted, file replaced): never copied
)

// Statuses lists the statuses of the copy in report order; Stale, outside the copy, is in AllStatuses.
var Statuses = []Status{Pending, Done, Failed, Missing}

// AllStatuses lists every status an object can have, in the order of their stored codes.
var AllStatuses = []Status{Pending, Done, Failed, Missing, Stale}

// statusCode is the byte a status is stored as; the values are part of the file format.
func statusCode(s Status) (byte, bool) {
	switch s {
	case Pending:
		return 0, true
	case Done:
		return 1, true
	case Failed:
		return 2, true
	case Missing:
		return 3, true
	case Stale:
		return 4, true
	}
	return 0, false
}

// statusFromCode is the inverse of statusCode.
func statusFromCode(c byte) (Status, bool) {
	if int(c) < len(AllStatuses) {
		return AllStatuses[c], true
	}
	return "", false
}

// valid reports whether s is one of Statuses.
func (s Status) valid() bool {
	_, ok := statusCode(s)
	return ok
}

// ParseStatuses parses a comma-separated list such as "failed,missing" (case and spaces are
// ignored, duplicates dropped, "" gives nil); an unknown name is an error naming it and the valid ones.
func ParseStatuses(s string) ([]Status, error) {
	var out []Status
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" {
			continue
		}
		st := Status(part)
		if !st.valid() {
			return nil, fmt.Errorf("invalid status %q (valid: %s)", part, validStatuses())
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out, nil
}

func validStatuses() string {
	names := make([]string, len(AllStatuses))
	for i, s := range AllStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// checkStatuses returns list without duplicates, or an error if it holds an unknown status.
func checkStatuses(list []Status) ([]Status, error) {
	var out []Status
	for _, s := range list {
		if !s.valid() {
			return nil, fmt.Errorf("invalid status %q (valid: %s)", s, validStatuses())
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Object is one file to copy, as stored in the checkpoint.
type Object struct {
	Kind        string    // table the record comes from, e.g. "media_attachments"; no "/" or NUL
	RecordID    int64     // the record's primary key
	Attachment  string    // e.g. "file", "avatar"; no "/" or NUL
	Style       string    // e.g. "original", "small"; no "/" or NUL
	Candidates  []string  // candidate source keys in order (relative to the bucket's key prefix)
	Size        int64     // size in bytes the database knows, 0 = unknown
	ContentType string    // content type the database knows, "" = unknown
	Remote      bool      // a cached copy of remote media (cache/ tree)
	Private     bool      // owned by a suspended account: Mastodon keeps it private (plan sets it; false in checkpoints older than the flag)
	NoStatus    bool      // media of no status, which tootctl cannot fetch again (plan sets it; false in checkpoints older than the flag)
	Status      Status    // where the copy stands; Merge ignores it and the fields below (new objects start Pending)
	Attempts    int       // copy attempts made so far (all runs, retries included)
	Error       string    // last error, "" when none
	Bytes       int64     // bytes written to the destination (done objects)
	SourceKey   string    // the candidate the copy read at the source (DestKey is where it wrote), "" until known
	Found       bool      // done without a copy: the destination already held the object (Mastodon wrote it there after the switch); Apply sets it
	CreatedAt   time.Time // when Merge first stored the object (UTC)
	UpdatedAt   time.Time // when Apply or Requeue last changed its status fields (UTC)
}

// DestKey is the key the object has at the destination: the first candidate, the key the
// database's Mastodon asks for, whichever candidate the copy found at the source. "" for an
// object without candidates.
func (o Object) DestKey() string {
	if len(o.Candidates) == 0 {
		return ""
	}
	return o.Candidates[0]
}

// ID returns the object's unique identity, kind/record id (20 digits)/attachment/style, which
// sorts by kind, then record id.
func (o Object) ID() string {
	return string(appendID(make([]byte, 0, len(o.Kind)+len(o.Attachment)+len(o.Style)+23), o))
}

// appendID appends o.ID() to b; it is what fmt.Sprintf("%s/%020d/%s/%s", ...) gives, faster.
func appendID(b []byte, o Object) []byte {
	if o.RecordID < 0 {
		return fmt.Appendf(b, "%s/%020d/%s/%s", o.Kind, o.RecordID, o.Attachment, o.Style)
	}
	b = append(b, o.Kind...)
	b = append(b, '/')
	var digits [20]byte
	num := strconv.AppendInt(digits[:0], o.RecordID, 10)
	for i := len(num); i < 20; i++ {
		b = append(b, '0')
	}
	b = append(b, num...)
	b = append(b, '/')
	b = append(b, o.Attachment...)
	b = append(b, '/')
	b = append(b, o.Style...)
	return b
}

// idWidth is the width of the record id field in an ID.
const idWidth = 20

// parseID splits an ID into kind, record id, attachment and style.
func parseID(id []byte) (kind string, recordID int64, attachment, style string, err error) {
	i := indexByte(id, '/')
	if i <= 0 || len(id) < i+1+idWidth+1 || id[i+1+idWidth] != '/' {
		return "", 0, "", "", errMalformedID
	}
	kind = string(id[:i])
	recordID, err = strconv.ParseInt(string(id[i+1:i+1+idWidth]), 10, 64)
	if err != nil {
		return "", 0, "", "", errMalformedID
	}
	rest := id[i+1+idWidth+1:]
	j := indexByte(rest, '/')
	if j <= 0 || j == len(rest)-1 {
		return "", 0, "", "", errMalformedID
	}
	return kind, recordID, string(rest[:j]), string(rest[j+1:]), nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// validateIdentity checks the fields that make up the ID.
func (o Object) validateIdentity() error {
	for _, f := range []struct{ name, v string }{{"kind", o.Kind}, {"attachment", o.Attachment}, {"style", o.Style}} {
		if f.v == "" {
			return fmt.Errorf("object %s/%d: empty %s", o.Kind, o.RecordID, f.name)
		}
		if strings.ContainsAny(f.v, "/\x00") {
			return fmt.Errorf("object %s/%d: %s %q contains '/' or NUL", o.Kind, o.RecordID, f.name, f.v)
		}
	}
	return nil
}

// countBytes is what the object adds to its counter's bytes: the bytes written when done, else
// the size the database knows.
func (o Object) countBytes() int64 {
	if o.Status == Done {
		return o.Bytes
	}
	return o.Size
}

// kindPrefix is the ID prefix shared by every object of kind.
func kindPrefix(kind string) string { return kind + "/" }

// errMalformedID is parseID's error: the key is no kind/record id/attachment/style.
var errMalformedID = errors.New("malformed object id")

// errKindInvalid is returned for a kind filter that could never match.
var errKindInvalid = errors.New("invalid kind")
