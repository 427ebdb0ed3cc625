package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Object values in the "objects" bucket are encoded as:
//
//	byte     encoding version (1)
//	byte     status code (see statusCode)
//	byte     flags (bit 0: Remote; bit 1: Private; bit 2: NoStatus; bit 3: Found; the last three added later
//	         without a version change: values written before have the bits clear, which
//	         decodes as false)
//	uvarint  number of candidates, then the first candidate as a string and each later one as
//	         uvarint base (index of an earlier candidate), uvarint prefix length, uvarint suffix
//	         length, string middle: candidate = base[:prefix] + middle + base[len(base)-suffix:]
//	varint   Size
//	string   ContentType
//	uvarint  Attempts
//	string   Error
//	varint   Bytes
//	uvarint  SourceKey: 1 + the index of the candidate it equals, or 0 followed by string SourceKey
//	varint   CreatedAt, UnixNano (0 = zero time)
//	varint   UpdatedAt, UnixNano (0 = zero time)
//
// where string is a uvarint length followed by the bytes. Kind, RecordID, Attachment and Style
// are not stored: they are parsed from the key. Candidates share most of their text (the cache/
// flip and the .png variant of the computed key), hence the delta form.
const encodingVersion = 1

// maxCandidates bounds the candidate count a decoder accepts, so garbage cannot allocate much.
const maxCandidates = 1 << 10

var errDecode = errors.New("malformed object value")

// appendObject appends the encoding of o to b.
func appendObject(b []byte, o Object) []byte {
	code, _ := statusCode(o.Status)
	var flags byte
	if o.Remote {
		flags |= 1
	}
	if o.Private {
		flags |= 2
	}
	if o.NoStatus {
		flags |= 4
	}
	if o.Found {
		flags |= 8
	}
	b = append(b, encodingVersion, code, flags)
	b = binary.AppendUvarint(b, uint64(len(o.Candidates)))
	for i, c := range o.Candidates {
		if i == 0 {
			b = appendString(b, c)
			continue
		}
		base, p, s := bestBase(o.Candidates[:i], c)
		b = binary.AppendUvarint(b, uint64(base))
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(s))
		b = appendString(b, c[p:len(c)-s])
	}
	b = binary.AppendVarint(b, o.Size)
	b = appendString(b, o.ContentType)
	b = binary.AppendUvarint(b, uint64(max(o.Attempts, 0)))
	b = appendString(b, o.Error)
	b = binary.AppendVarint(b, o.Bytes)
	b = appendSourceKey(b, o)
	b = binary.AppendVarint(b, unixNano(o.CreatedAt))
	b = binary.AppendVarint(b, unixNano(o.UpdatedAt))
	return b
}

// encodedSizeHint is an upper bound of len(appendObject(nil, o)) for reasonable objects, so
// that encoding allocates once.
func encodedSizeHint(o Object) int {
	n := 64 + len(o.ContentType) + len(o.Error) + len(o.SourceKey)
	for _, c := range o.Candidates {
		n += len(c) + 12
	}
	return n
}

// bestBase picks the earlier candidate that leaves the shortest middle for c, and the common
// prefix and suffix lengths (which never overlap in either string).
func bestBase(prev []string, c string) (base, prefix, suffix int) {
	best := -1
	for i, p := range prev {
		n := commonPrefix(p, c)
		m := commonSuffix(p[n:], c[n:])
		if mid := len(c) - n - m; best < 0 || mid < best {
			best, base, prefix, suffix = mid, i, n, m
		}
	}
	return base, prefix, suffix
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func commonSuffix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[len(a)-1-i] != b[len(b)-1-i] {
			return i
		}
	}
	return n
}

// appendSourceKey writes SourceKey as 1 + the index of the candidate it equals, or as 0 and
// the key itself when it is none of them.
func appendSourceKey(b []byte, o Object) []byte {
	if o.SourceKey != "" {
		for i, c := range o.Candidates {
			if c == o.SourceKey {
				return binary.AppendUvarint(b, uint64(i+1))
			}
		}
	}
	b = binary.AppendUvarint(b, 0)
	return appendString(b, o.SourceKey)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decodeObject decodes the value v stored under key id; every string is copied out of v, so the
// result stays valid after the transaction ends. Its errors say what is wrong, not where: the
// caller wraps them in a RecordError (recordError).
func decodeObject(id, v []byte) (Object, error) {
	var o Object
	var err error
	o.Kind, o.RecordID, o.Attachment, o.Style, err = parseID(id)
	if err != nil {
		return Object{}, err
	}
	d := decoder{b: v}
	if ver := d.byte(); ver != encodingVersion && d.err == nil {
		return Object{}, fmt.Errorf("unknown encoding version %d", ver)
	}
	st, ok := statusFromCode(d.byte())
	if !ok && d.err == nil {
		d.err = errDecode
	}
	o.Status = st
	flags := d.byte()
	o.Remote = flags&1 != 0
	o.Private = flags&2 != 0
	o.NoStatus = flags&4 != 0
	o.Found = flags&8 != 0
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > maxCandidates {
			d.err = errDecode
		} else {
			o.Candidates = make([]string, 0, n)
			o.Candidates = append(o.Candidates, d.string())
			for i := uint64(1); i < n && d.err == nil; i++ {
				base, p, s := d.uvarint(), d.uvarint(), d.uvarint()
				mid := d.bytes()
				if d.err != nil {
					break
				}
				if base >= i {
					d.err = errDecode
					break
				}
				b := o.Candidates[base]
				if p > uint64(len(b)) || s > uint64(len(b))-p {
					d.err = errDecode
					break
				}
				c := make([]byte, 0, int(p)+len(mid)+int(s))
				c = append(c, b[:p]...)
				c = append(c, mid...)
				c = append(c, b[uint64(len(b))-s:]...)
				o.Candidates = append(o.Candidates, string(c))
			}
		}
	}
	o.Size = d.varint()
	o.ContentType = d.string()
	attempts := d.uvarint()
	o.Attempts = int(min(attempts, 1<<31-1))
	o.Error = d.string()
	o.Bytes = d.varint()
	if ref := d.uvarint(); ref == 0 {
		o.SourceKey = d.string()
	} else if ref <= uint64(len(o.Candidates)) {
		o.SourceKey = o.Candidates[ref-1]
	} else {
		d.fail()
	}
	o.CreatedAt = fromUnixNano(d.varint())
	o.UpdatedAt = fromUnixNano(d.varint())
	if d.err == nil && len(d.b) != 0 {
		d.err = errDecode
	}
	if d.err != nil {
		return Object{}, d.err
	}
	return o, nil
}

// decoder reads the encoding; after the first error every read returns a zero value.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a length-prefixed byte string aliasing the input.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// string returns a length-prefixed string copied out of the input.
func (d *decoder) string() string {
	return string(d.bytes())
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errDecode
	}
}
