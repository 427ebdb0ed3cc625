package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// statement is one query as catalog sent it over the wire: the text of its Parse message and
// the parameters of the Bind that followed, byte for byte, so that EXPLAIN can run exactly it.
type statement struct {
	SQL     string
	OIDs    []uint32 // parameter types as Parse declared them (0 = let the server infer)
	Formats []int16  // per parameter: 0 text, 1 binary (Bind's rules: none = all text, one = all)
	Values  [][]byte // nil = NULL
}

// format returns the format code of parameter i.
func (s statement) format(i int) int16 {
	switch len(s.Formats) {
	case 0:
		return 0
	case 1:
		return s.Formats[0]
	}
	return s.Formats[i]
}

// Args renders the parameters for a reader: $1 = 1000, $2 = '2026-...'.
func (s statement) Args() string {
	var parts []string
	for i, v := range s.Values {
		val := "NULL"
		switch {
		case v == nil:
		case s.format(i) == 1 && len(v) == 8:
			val = strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10)
		case s.format(i) == 1 && len(v) == 4:
			val = strconv.FormatInt(int64(int32(binary.BigEndian.Uint32(v))), 10)
		case s.format(i) == 1:
			val = fmt.Sprintf("<%d bytes binary>", len(v))
		case i < len(s.OIDs) && (s.OIDs[i] == 20 || s.OIDs[i] == 21 || s.OIDs[i] == 23): // int8, int2, int4 as text
			val = string(v)
		default:
			val = "'" + string(v) + "'"
		}
		parts = append(parts, fmt.Sprintf("$%d = %s", i+1, val))
	}
	return strings.Join(parts, ", ")
}

// sniffer records the statements that connections it dialled send, while recording is on.
// It reads the frontend half of PostgreSQL's protocol (no TLS: the benchmark's server is
// local and reached with sslmode=disable) and changes nothing on the wire.
type sniffer struct {
	mu        sync.Mutex
	recording bool
	got       []statement
}

// dial is a catalog.DBConfig DialFunc.
func (s *sniffer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: s}, nil
}

// record starts recording and returns a function that stops it and returns what was sent.
func (s *sniffer) record() func() []statement {
	s.mu.Lock()
	s.recording, s.got = true, nil
	s.mu.Unlock()
	return func() []statement {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.recording = false
		return s.got
	}
}

type sniffConn struct {
	net.Conn
	s       *sniffer
	buf     []byte
	started bool       // past the untyped startup message
	parsed  *statement // the last Parse, waiting for its Bind
}

func (c *sniffConn) Write(b []byte) (int, error) {
	c.buf = append(c.buf, b...)
	c.consume()
	return c.Conn.Write(b)
}

// consume takes the complete messages off the front of c.buf.
func (c *sniffConn) consume() {
	for {
		if !c.started {
			// Untyped: length, then a code. SSLRequest and GSSENCRequest precede the startup message.
			if len(c.buf) < 8 {
				return
			}
			n := int(binary.BigEndian.Uint32(c.buf))
			if len(c.buf) < n {
				return
			}
			code := binary.BigEndian.Uint32(c.buf[4:])
			c.started = code != 80877103 && code != 80877104
			c.buf = c.buf[n:]
			continue
		}
		if len(c.buf) < 5 {
			return
		}
		n := int(binary.BigEndian.Uint32(c.buf[1:]))
		if len(c.buf) < 1+n {
			return
		}
		typ, body := c.buf[0], c.buf[5:1+n]
		switch typ {
		case 'P':
			c.parsed = parseMsg(body)
		case 'B':
			if c.parsed != nil {
				st := bindMsg(*c.parsed, body)
				c.s.mu.Lock()
				if c.s.recording {
					c.s.got = append(c.s.got, st)
				}
				c.s.mu.Unlock()
			}
		}
		c.buf = c.buf[1+n:]
	}
}

// reader walks a message body; a malformed body yields zero values rather than a panic.
type reader struct{ b []byte }

func (r *reader) cstring() string {
	for i, ch := range r.b {
		if ch == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	r.b = nil
	return ""
}

// take returns the next n bytes, or nil and the end of the body when fewer are left.
func (r *reader) take(n int) []byte {
	if n > len(r.b) {
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *reader) int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

// parseMsg reads Parse: statement name, query, parameter type OIDs.
func parseMsg(body []byte) *statement {
	r := &reader{body}
	r.cstring()
	st := &statement{SQL: r.cstring()}
	for n := r.int16(); n > 0; n-- {
		st.OIDs = append(st.OIDs, uint32(r.int32()))
	}
	return st
}

// bindMsg reads Bind: portal, statement, parameter formats, parameter values.
func bindMsg(p statement, body []byte) statement {
	r := &reader{body}
	r.cstring()
	r.cstring()
	st := statement{SQL: p.SQL, OIDs: p.OIDs}
	for n := r.int16(); n > 0; n-- {
		st.Formats = append(st.Formats, r.int16())
	}
	for n := r.int16(); n > 0; n-- {
		var v []byte // NULL (length -1) or a truncated body stays nil
		if l := r.int32(); l >= 0 {
			v = append([]byte(nil), r.take(int(l))...)
		}
		st.Values = append(st.Values, v)
	}
	return st
}
