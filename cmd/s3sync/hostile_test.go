package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage/s3test"
)

// The hostile-source suite: a proxy in front of the real S3 server redirects, trickles, sends
// short bodies whose Content-Length matches them, empty 200s, no Content-Length, wrong ETags
// and broken XML. In every case no object is done unless the destination holds the source's
// exact bytes, nothing wrong is stored at all, and each object ends either copied right (after
// retries) or failed with a message that says what happened.

// hostileCards inserts n preview cards (ids 1..n) whose image_file_size is the size of the
// object uploaded for them (2 KiB and up), plus card n+1, which the database references but
// the source does not hold. It returns the bodies by key.
func hostileCards(s *sandbox, n int) map[string][]byte {
	s.t.Helper()
	objs := make([]sourceObject, n)
	for i := range objs {
		id := i + 1
		objs[i] = sourceObject{cardKey(id), 2048 + id*512, "image/jpeg", "", ""}
	}
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type, image_file_size)
		SELECT i, 'https://news.example/' || i, 'card' || i || '.jpg', 'image/jpeg', 2048 + i*512 FROM generate_series(1, $1) AS i`, n+1)
	return s.upload(objs...)
}

func cardKey(id int) string {
	return fmt.Sprintf("preview_cards/images/%s/original/card%d.jpg", partition(id), id)
}

// hostileRule returns a rule that applies fault(name, attempt) to the GETs of card objects,
// name being the file name ("card3.jpg") and attempt counting that name's GETs from 1.
func hostileRule(fault func(name string, attempt int) s3test.Fault) func(*http.Request) s3test.Fault {
	var mu sync.Mutex
	gets := map[string]int{}
	return func(r *http.Request) s3test.Fault {
		name := path.Base(r.URL.Path)
		if r.Method != http.MethodGet || !strings.HasPrefix(name, "card") {
			return s3test.Pass()
		}
		mu.Lock()
		gets[name]++
		n := gets[name]
		mu.Unlock()
		return fault(name, n)
	}
}

// hostileSandbox is a sandbox with n cards (hostileCards), a fault proxy in front of the
// source, 2 retries, and a per-attempt bound of 2 s plus the size at 1 KiB/s.
func hostileSandbox(t *testing.T, n int, extra string) (*sandbox, map[string][]byte, *s3test.FaultProxy) {
	t.Helper()
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := hostileCards(s, n)
	proxy := s3test.NewFaultProxy(t, s.s3.Endpoint)
	s.srcURL, s.retries = proxy.URL, 2
	s.extra = "min_time = 2s\nmin_rate = 1K\n" + extra
	s.writeConfig()
	s.must(exitOK, "plan")
	return s, bodies, proxy
}

// assertNothingWrong checks that every done object is at the destination with the source's
// bytes, and that the destination holds nothing but right bytes; it returns the checkpoint's
// objects by file name.
func (s *sandbox) assertNothingWrong(bodies map[string][]byte) map[string]checkpoint.Object {
	s.t.Helper()
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	held := map[string]bool{}
	for _, k := range s.dstServer().Keys(s.t, s.dst) {
		held[k] = true
		got, _ := s.dstServer().GetObject(s.t, s.dst, k)
		if want, ok := bodies[k]; !ok || !bytes.Equal(got, want) {
			s.t.Errorf("the destination holds %d wrong bytes under %s (the source has %d)", len(got), k, len(want))
		}
	}
	out := map[string]checkpoint.Object{}
	err = db.Each(checkpoint.Filter{}, func(o checkpoint.Object) error {
		out[path.Base(o.DestKey())] = o
		if o.Status == checkpoint.Done && !held[o.DestKey()] {
			s.t.Errorf("%s is done but not at the destination", o.DestKey())
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// expect checks one object's status and that its error says each of says.
func expect(t *testing.T, objs map[string]checkpoint.Object, name string, status checkpoint.Status, says ...string) {
	t.Helper()
	o, ok := objs[name]
	if !ok {
		t.Errorf("%s: not in the checkpoint", name)
		return
	}
	if o.Status != status {
		t.Errorf("%s: %s after %d attempt(s), want %s: %s", name, o.Status, o.Attempts, status, o.Error)
		return
	}
	for _, want := range says {
		if !strings.Contains(o.Error, want) {
			t.Errorf("%s: error does not say %q: %s", name, want, o.Error)
		}
	}
}

// elsewhereServer is another HTTP server, the target of hostile redirects: it answers every
// request with a body of its own and counts what it received.
type elsewhereServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	auth     []string
}

func newElsewhereServer(t *testing.T) *elsewhereServer {
	e := &elsewhereServer{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.requests++
		e.auth = append(e.auth, r.Header.Get("Authorization"))
		e.mu.Unlock()
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef-3"`)
		_, _ = io.WriteString(w, "not the object: another host's body")
	}))
	t.Cleanup(e.Close)
	return e
}

// Redirects are not followed: to another host name, to the same IP on another port (where Go
// would forward the signed Authorization header), or for an object absent at the source.
// Each such object fails, saying where it was sent; the others are copied; the other host
// hears nothing. A 301 (PermanentRedirect, a bucket in another region) stops the run instead,
// as an error every object would get.
func TestHostileRedirects(t *testing.T) {
	other := newElsewhereServer(t)
	byName := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	s, bodies, proxy := hostileSandbox(t, 4, "")
	proxy.SetRule(hostileRule(func(name string, _ int) s3test.Fault {
		switch name {
		case "card1.jpg":
			return s3test.Redirect(http.StatusTemporaryRedirect, byName+"/evil/card1.jpg")
		case "card2.jpg":
			return s3test.Redirect(http.StatusFound, other.URL+"/evil/card2.jpg")
		case "card5.jpg": // not at the source
			return s3test.Redirect(http.StatusTemporaryRedirect, other.URL+"/evil/card5.jpg")
		}
		return s3test.Pass()
	}))
	r := s.must(exitFailed, "copy")
	objs := s.assertNothingWrong(bodies)
	expect(t, objs, "card1.jpg", checkpoint.Failed, "HTTP 307", "redirected to "+byName+"/evil/card1.jpg", "does not follow")
	expect(t, objs, "card2.jpg", checkpoint.Failed, "HTTP 302", "redirected to "+other.URL+"/evil/card2.jpg", "does not follow")
	expect(t, objs, "card5.jpg", checkpoint.Failed, "HTTP 307", "does not follow")
	expect(t, objs, "card3.jpg", checkpoint.Done)
	expect(t, objs, "card4.jpg", checkpoint.Done)
	if objs["card1.jpg"].Attempts != 1 {
		t.Errorf("a redirect was retried: %d attempts", objs["card1.jpg"].Attempts)
	}
	if other.requests != 0 {
		t.Errorf("the other host received %d request(s), Authorization %q", other.requests, other.auth)
	}
	if !strings.Contains(r.stdout, "failed 3") {
		t.Errorf("summary:\n%s", r.stdout)
	}

	// 301 PermanentRedirect on every object: the run stops (exit 1), nothing becomes done.
	s, bodies, proxy = hostileSandbox(t, 3, "")
	proxy.SetRule(hostileRule(func(string, int) s3test.Fault {
		f := s3test.Status(http.StatusMovedPermanently, "PermanentRedirect")
		f.Message = "The bucket you are attempting to access must be addressed using the specified endpoint."
		f.Location = other.URL + "/"
		return f
	}))
	r = s.must(exitError, "copy")
	if !strings.Contains(r.stderr, "every object would fail the same way") || !strings.Contains(r.stderr, "another endpoint") {
		t.Errorf("301: %s", r)
	}
	s.assertNothingWrong(bodies)
	if c := s.counts(); c[checkpoint.Done] != 0 || c[checkpoint.Failed] != 0 {
		t.Errorf("301: counts %v, want all pending", c)
	}
	if other.requests != 0 {
		t.Errorf("the other host received %d request(s)", other.requests)
	}
}

// A server that sends a byte every 300 ms (which no idle timeout catches) or never answers is
// cut after min_time plus the size at min_rate, and retried: an object slow once is copied on
// its next attempt, one slow every time fails saying it was too slow.
func TestHostileTrickle(t *testing.T) {
	s, bodies, proxy := hostileSandbox(t, 4, "")
	proxy.SetRule(hostileRule(func(name string, attempt int) s3test.Fault {
		switch {
		case name == "card1.jpg":
			return s3test.Trickle(300*time.Millisecond, 1)
		case name == "card2.jpg" && attempt == 1:
			return s3test.Trickle(300*time.Millisecond, 1)
		case name == "card3.jpg":
			return s3test.Delay(time.Hour) // never answers
		}
		return s3test.Pass()
	}))
	start := time.Now()
	s.must(exitFailed, "copy")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("copy took %s", d)
	}
	objs := s.assertNothingWrong(bodies)
	expect(t, objs, "card1.jpg", checkpoint.Failed, "gave up after 3 attempts", "timed out", "slower than the minimum of 1.0 KiB/s", "min_rate")
	expect(t, objs, "card2.jpg", checkpoint.Done)
	expect(t, objs, "card3.jpg", checkpoint.Failed, "gave up after 3 attempts", "timed out: the source had not answered", "min_time")
	expect(t, objs, "card4.jpg", checkpoint.Done)
	if a := objs["card2.jpg"].Attempts; a != 2 {
		t.Errorf("card2 took %d attempts, want 2", a)
	}
}

// Short bodies with a consistent Content-Length, and empty 200s, under an ETag that is not an
// MD5 (a multipart upload's) or with content_md5 = false: the database's size for the
// original is the witness. A short answer once is retried and copied whole; a short answer
// every time fails saying how many bytes the source holds and the database records.
func TestHostileShortBodies(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		etag        string // replaces the source's ETag; "" keeps it (a plain MD5)
	}{
		{"multipart ETag", "", "0123456789abcdef0123456789abcdef-2"},
		{"content_md5 = false", "content_md5 = false\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, bodies, proxy := hostileSandbox(t, 4, tc.extra)
			proxy.SetRule(hostileRule(func(name string, attempt int) s3test.Fault {
				f := s3test.WithETag(tc.etag)
				switch {
				case name == "card1.jpg":
					f.Short, f.ShortLen = true, 1000
				case name == "card2.jpg":
					f.Short, f.ShortLen = true, 0
				case name == "card3.jpg" && attempt == 1:
					f.Short, f.ShortLen = true, 100
				}
				return f
			}))
			s.must(exitFailed, "copy")
			objs := s.assertNothingWrong(bodies)
			expect(t, objs, "card1.jpg", checkpoint.Failed, "gave up after 3 attempts", "the source holds 1000 bytes", "the database records 2560", "image_file_size")
			expect(t, objs, "card2.jpg", checkpoint.Failed, "gave up after 3 attempts", "the source holds 0 bytes", "the database records 3072")
			expect(t, objs, "card3.jpg", checkpoint.Done)
			expect(t, objs, "card4.jpg", checkpoint.Done)
		})
	}
}

// No Content-Length (a chunked answer), whole or short, is retried and then fails saying so;
// an ETag that is not the body's MD5 makes the destination refuse the body (BadDigest) every
// time, and the object fails with the content_md5 hint; a multipart ETag on a whole body is
// copied.
func TestHostileLengthsAndETags(t *testing.T) {
	s, bodies, proxy := hostileSandbox(t, 5, "")
	other := md5.Sum([]byte("some other body"))
	proxy.SetRule(hostileRule(func(name string, _ int) s3test.Fault {
		switch name {
		case "card1.jpg":
			return s3test.Chunked()
		case "card2.jpg":
			return s3test.Fault{Chunked: true, Short: true, ShortLen: 10}
		case "card3.jpg":
			return s3test.WithETag(hex.EncodeToString(other[:]))
		case "card4.jpg":
			return s3test.WithETag("0123456789abcdef0123456789abcdef-7")
		}
		return s3test.Pass()
	}))
	s.must(exitFailed, "copy")
	objs := s.assertNothingWrong(bodies)
	expect(t, objs, "card1.jpg", checkpoint.Failed, "gave up after 3 attempts", "no Content-Length")
	expect(t, objs, "card2.jpg", checkpoint.Failed, "gave up after 3 attempts", "no Content-Length")
	expect(t, objs, "card3.jpg", checkpoint.Failed, "BadDigest", "content_md5 = false")
	expect(t, objs, "card4.jpg", checkpoint.Done)
	expect(t, objs, "card5.jpg", checkpoint.Done)
}

// Error answers whose XML is broken, or HTML, classify by their status: a 503 is retried and
// the object copied, a 500 every time fails after the retries with the status, a 404 is
// missing. A listing (orphans) whose XML is broken is a one-line error, exit 1, no panic.
func TestHostileBrokenXML(t *testing.T) {
	s, bodies, proxy := hostileSandbox(t, 4, "")
	proxy.SetRule(hostileRule(func(name string, attempt int) s3test.Fault {
		switch {
		case name == "card1.jpg" && attempt == 1:
			return s3test.Raw(http.StatusServiceUnavailable, "application/xml", "<Error><Code>SlowDown</Co")
		case name == "card2.jpg":
			return s3test.Raw(http.StatusInternalServerError, "text/html", "<html><body>Bad Gateway</body>")
		case name == "card3.jpg":
			return s3test.Raw(http.StatusNotFound, "application/xml", "<?xml version=\"1.0\"?><Error><Code>NoSuchK")
		}
		return s3test.Pass()
	}))
	s.must(exitFailed, "copy")
	objs := s.assertNothingWrong(bodies)
	expect(t, objs, "card1.jpg", checkpoint.Done)
	expect(t, objs, "card2.jpg", checkpoint.Failed, "gave up after 3 attempts", "HTTP 500")
	expect(t, objs, "card3.jpg", checkpoint.Missing)
	expect(t, objs, "card4.jpg", checkpoint.Done)

	proxy.SetRule(func(r *http.Request) s3test.Fault {
		if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
			return s3test.Raw(http.StatusOK, "application/xml", "<?xml version=\"1.0\"?><ListBucketResult><Contents><Key>preview_cards/")
		}
		return s3test.Pass()
	})
	r := s.run("orphans", "--output", s.dir+"/orphans.csv")
	if r.code != exitError || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 || strings.Contains(r.stderr, "panic") ||
		!strings.HasPrefix(r.stderr, "Error: s3 list") || !strings.Contains(r.stderr, "could not be read") {
		t.Errorf("orphans over a broken listing: %s", r)
	}
	t.Logf("orphans over a broken listing: %s", strings.TrimSpace(r.stderr))
}

// A password in an endpoint (user:pass@host) is a config error naming the key (exit 2) for
// every command, and no output, log or file repeats it; nothing is planned with it.
func TestEndpointPasswordNeverPrinted(t *testing.T) {
	const password = "Endpoint-Pass-41c7-do-not-print"
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	for _, side := range []string{"source", "destination"} {
		for _, endpoint := range []string{
			"http://s3sync:" + password + "@127.0.0.1:7070",
			"http://s3sync:" + password + "%zz@127.0.0.1:7070",   // does not parse
			"http://s3sync:" + password + "@127.0.0.1:99999",     // a bad port too
			"ftp://s3sync:" + password + "@127.0.0.1:7070/?x=1",  // a bad scheme too
			"s3sync:" + password + "@127.0.0.1:7070",             // no scheme
			"http://s3sync:" + password + "/x@127.0.0.1:7070",    // a slash in the password
			"http://s3sync:" + password + "@127.0.0.1:7070/path", // a path
		} {
			srcURL, dstURL := s.s3.Endpoint, s.s3.Endpoint
			if side == "source" {
				srcURL = endpoint
			} else {
				dstURL = endpoint
			}
			s.srcURL, s.dstURL = srcURL, dstURL
			s.writeConfig()
			for _, args := range [][]string{{"plan"}, {"copy"}, {"copy", "--resume"}, {"usage"}, {"check"}, {"verify"}, {"report"}, {"retry-failed"}} {
				for _, format := range []string{"console", "json"} {
					r := s.run(append([]string{"--log-format", format, "--log-level", "debug"}, args...)...)
					if r.code != exitUsage || !strings.Contains(r.stderr, "[s3."+side+"] endpoint_url") {
						t.Errorf("%s %s with %s: want exit 2 naming [s3.%s] endpoint_url, got %s", side, strings.Join(args, " "), endpoint, side, r)
					}
					if strings.Contains(r.stdout+r.stderr, password) || strings.Contains(r.stdout+r.stderr, "Endpoint-Pass") {
						t.Errorf("%s %s printed the password: %s", side, strings.Join(args, " "), r)
					}
				}
			}
		}
	}
	if _, err := os.Stat(s.checkpoint); err == nil {
		data, _ := os.ReadFile(s.checkpoint)
		if bytes.Contains(data, []byte(password)) {
			t.Error("the checkpoint holds the password")
		}
	}
}
