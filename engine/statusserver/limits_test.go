package statusserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
)

// manyFailures is a checkpoint of n objects in two kinds where two of every three are failed
// or missing (the third done), and a status server reading it. It returns the server's URL and
// the IDs of the failed and missing objects in ID order.
func manyFailures(t *testing.T, n int) (*statusserver.Server, string, []string) {
	t.Helper()
	db, err := checkpoint.Open(filepath.Join(t.TempDir(), "c.db"), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var failing []string
	for first := 0; first < n; first += 5000 {
		var objs []checkpoint.Object
		var updates []checkpoint.Update
		for i := first; i < min(first+5000, n); i++ {
			kind := "media_attachments"
			if i%2 == 1 {
				kind = "accounts"
			}
			o := checkpoint.Object{Kind: kind, RecordID: int64(i), Attachment: "file", Style: "original",
				Candidates: []string{fmt.Sprintf("%s/files/%09d/original/f.png", kind, i)}, Size: 10}
			objs = append(objs, o)
			u := checkpoint.Update{ID: o.ID(), Attempts: 1}
			switch i % 3 {
			case 0:
				u.Status, u.Bytes = checkpoint.Done, 10
			case 1:
				u.Status, u.Error = checkpoint.Failed, "s3 get: AccessDenied (HTTP 403)"
				failing = append(failing, o.ID())
			case 2:
				u.Status, u.Error = checkpoint.Missing, "not found at the source"
				failing = append(failing, o.ID())
			}
			updates = append(updates, u)
		}
		if _, _, err := db.Merge(objs); err != nil {
			t.Fatal(err)
		}
		if err := db.Apply(updates); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(failing)
	srv := statusserver.New(statusserver.Options{Monitor: engine.NewMonitor(), DB: db, Command: "copy"})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts.URL, failing
}

// getJSON fetches url and decodes a JSON answer into a map; it returns the status code too.
func getJSON(t *testing.T, u string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("GET %s: %s: not JSON: %s", u, resp.Status, body)
	}
	return resp.StatusCode, doc, resp.Header
}

func keysOf(doc map[string]any) []string {
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rowID is the checkpoint ID of a row of /api/failures.
func rowID(row any) string {
	m := row.(map[string]any)
	o := checkpoint.Object{Kind: m["kind"].(string), RecordID: int64(m["record_id"].(float64)),
		Attachment: m["attachment"].(string), Style: m["style"].(string)}
	return o.ID()
}

// /api/failures pages by cursor: following next_after from the first page lists every failed
// and missing object exactly once, in ID order, whatever the filters.
func TestFailuresPageByCursor(t *testing.T) {
	_, base, failing := manyFailures(t, 3000)
	walk := func(query url.Values) []string {
		t.Helper()
		var got []string
		limit := statusserver.DefaultFailuresLimit
		if v := query.Get("limit"); v != "" {
			fmt.Sscan(v, &limit)
		}
		for pages := 0; ; pages++ {
			if pages > 10000 {
				t.Fatal("the cursor does not advance")
			}
			code, doc, _ := getJSON(t, base+"/api/failures?"+query.Encode())
			if code != http.StatusOK {
				t.Fatalf("%s: %d %v", query.Encode(), code, doc["error"])
			}
			objs := doc["objects"].([]any)
			if len(objs) > limit {
				t.Fatalf("page of %d objects, limit %d", len(objs), limit)
			}
			for _, o := range objs {
				got = append(got, rowID(o))
			}
			next, ok := doc["next_after"].(string)
			if !ok {
				t.Fatalf("no next_after in the answer (fields: %v)", keysOf(doc))
			}
			if next == "" {
				return got
			}
			if len(objs) == 0 || next != got[len(got)-1] {
				t.Fatalf("next_after %q is not the last object of the page", next)
			}
			query.Set("after", next)
		}
	}
	same := func(what string, got, want []string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d objects, want %d (first %v, want %v)", what, len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
		}
	}
	same("all, pages of 1000", walk(url.Values{"limit": {"1000"}}), failing)
	same("all, pages of 7", walk(url.Values{"limit": {"7"}}), failing)

	var accountsMissing, mediaFailed []string
	for _, id := range failing {
		var n int
		fmt.Sscanf(id[strings.IndexByte(id, '/')+1:], "%d", &n)
		if strings.HasPrefix(id, "accounts/") && n%3 == 2 {
			accountsMissing = append(accountsMissing, id)
		}
		if strings.HasPrefix(id, "media_attachments/") && n%3 == 1 {
			mediaFailed = append(mediaFailed, id)
		}
	}
	same("accounts missing", walk(url.Values{"kind": {"accounts"}, "status": {"missing"}, "limit": {"50"}}), accountsMissing)
	same("media failed", walk(url.Values{"kind": {"media_attachments,backups"}, "status": {"failed"}, "limit": {"999"}}), mediaFailed)

	// A cursor in the middle starts right after it.
	mid := failing[len(failing)/2]
	got := walk(url.Values{"after": {mid}, "limit": {"100"}})
	same("after the middle", got, failing[len(failing)/2+1:])
}

// A request far down the list costs what a first page costs: an offset, which the server
// would have to walk, is refused with a pointer to `after`, and a cursor past every object
// answers an empty last page at once.
func TestFailuresHugeOffsetOrCursorIsCheap(t *testing.T) {
	_, base, failing := manyFailures(t, 150000)
	code, doc, _ := getJSON(t, base+"/api/failures?offset=0&limit=3")
	if code != http.StatusOK || len(doc["objects"].([]any)) != 3 {
		t.Errorf("offset=0 (the first page): %d %v", code, doc)
	}
	start := time.Now()
	for i := 0; i < 100; i++ {
		code, doc, _ := getJSON(t, base+"/api/failures?offset=1099511627776")
		if msg, _ := doc["error"].(string); code != http.StatusBadRequest || !strings.Contains(msg, "after=") {
			t.Fatalf("offset=2^40: %d %v, want 400 pointing at after=", code, doc)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("100 requests with offset 2^40 took %s", d)
	}
	if code, doc, _ := getJSON(t, base+"/api/failures?offset=2"); code != http.StatusBadRequest {
		t.Errorf("offset=2: %d %v", code, doc)
	}

	last := failing[len(failing)-1]
	start = time.Now()
	for _, after := range []string{last, "zzzz", strings.Repeat("~", 1000)} {
		for i := 0; i < 50; i++ {
			code, doc, _ := getJSON(t, base+"/api/failures?limit=1000&after="+url.QueryEscape(after))
			if objs, _ := doc["objects"].([]any); code != http.StatusOK || len(objs) != 0 || doc["next_after"] != "" {
				t.Fatalf("after=%.20s: %d, %d objects, next_after %v, error %v", after, code, len(objs), doc["next_after"], doc["error"])
			}
		}
	}
	// The first page, 1000 objects decoded, for comparison.
	first := time.Now()
	for i := 0; i < 50; i++ {
		getJSON(t, base+"/api/failures?limit=1000")
	}
	t.Logf("150 requests past the end: %s; 50 first pages of 1000: %s", first.Sub(start), time.Since(first))
	if d := first.Sub(start); d > 2*time.Second {
		t.Errorf("150 requests with a cursor past the end took %s", d)
	}
	if code, _, _ := getJSON(t, base+"/api/failures?after="+strings.Repeat("a", 2000)); code != http.StatusBadRequest {
		t.Errorf("a 2000-byte cursor: %d", code)
	}
}

// Beyond DefaultMaxInFlight requests at once the server answers 503 with Retry-After at once,
// instead of queueing work; the requests in flight finish, and then it serves again.
func TestRequestsBeyondCapGet503(t *testing.T) {
	srv, base, _ := manyFailures(t, 3000)
	hold := make(chan struct{})
	entered := make(chan struct{}, 1000)
	statusserver.SetServeHook(srv, func(r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			entered <- struct{}{}
			<-hold
		}
	})
	n := statusserver.DefaultMaxInFlight
	var held sync.WaitGroup
	heldCodes := make(chan int, n)
	for i := 0; i < n; i++ {
		held.Add(1)
		go func() {
			defer held.Done()
			resp, err := http.Get(base + "/api/status?hold=1")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			heldCodes <- resp.StatusCode
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d requests got in", i, n)
		}
	}

	// The server is full: every further request, to any path, is refused at once.
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	codes := map[int]int{}
	for i := 0; i < 3*n; i++ {
		path := []string{"/api/failures?limit=1000", "/api/status", "/metrics", "/"}[i%4]
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			resp, err := client.Get(base + path + map[bool]string{true: "&hold=1", false: "?hold=1"}[strings.Contains(path, "?")])
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			slowest = max(slowest, time.Since(start))
			if resp.StatusCode == http.StatusServiceUnavailable &&
				(resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "error")) {
				t.Errorf("%s: 503 without Retry-After or error: %v %s", path, resp.Header, body)
			}
		}()
	}
	wg.Wait()
	if codes[http.StatusServiceUnavailable] != 3*n || slowest > 2*time.Second {
		t.Errorf("beyond the cap: answers %v (want %d × 503), slowest %s", codes, 3*n, slowest)
	}

	close(hold)
	held.Wait()
	close(heldCodes)
	for code := range heldCodes {
		if code != http.StatusOK {
			t.Errorf("a request in flight ended %d", code)
		}
	}
	if code, doc, _ := getJSON(t, base+"/api/failures?limit=5"); code != http.StatusOK || len(doc["objects"].([]any)) != 5 {
		t.Errorf("after the requests in flight ended: %d %v", code, doc)
	}
}

// One failures page is built at a time: a second one meanwhile is answered 503 at once, while
// the other paths answer as usual.
func TestOneFailuresPageAtATime(t *testing.T) {
	srv, base, _ := manyFailures(t, 3000)
	hold := make(chan struct{})
	entered := make(chan struct{}, 10)
	var once sync.Once
	statusserver.SetPageHook(srv, func() {
		once.Do(func() {
			entered <- struct{}{}
			<-hold
		})
	})
	done := make(chan int)
	go func() {
		resp, err := http.Get(base + "/api/failures?limit=1000")
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first page was not built")
	}
	if statusserver.MaxFailuresInFlight != 1 {
		t.Fatalf("this test holds one page; MaxFailuresInFlight is %d", statusserver.MaxFailuresInFlight)
	}
	start := time.Now()
	code, doc, h := getJSON(t, base+"/api/failures?limit=5")
	if msg, _ := doc["error"].(string); code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(msg, "busy") {
		t.Errorf("a second page while one is built: %d %v %v", code, h, doc)
	}
	if code, _, _ := getJSON(t, base+"/api/status"); code != http.StatusOK {
		t.Errorf("/api/status while a page is built: %d", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("answers took %s", d)
	}
	close(hold)
	if code := <-done; code != http.StatusOK {
		t.Errorf("the page held: %d", code)
	}
	if code, doc, _ := getJSON(t, base+"/api/failures?limit=5"); code != http.StatusOK || len(doc["objects"].([]any)) != 5 {
		t.Errorf("after it: %d %v", code, doc["error"])
	}
}

// Under a flood of clients far beyond the cap every request is answered quickly, with a page
// or a 503, and the server answers normally as soon as the flood stops.
func TestFloodStaysResponsive(t *testing.T) {
	_, base, failing := manyFailures(t, 30000)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 300}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	var slowest time.Duration
	after := url.QueryEscape(failing[len(failing)/2])
	for c := 0; c < 300; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				start := time.Now()
				resp, err := client.Get(base + "/api/failures?limit=1000&after=" + after)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				slowest = max(slowest, time.Since(start))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("1,500 requests from 300 clients: %v, slowest %s", codes, slowest)
	if codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != 1500 || codes[http.StatusOK] == 0 {
		t.Errorf("answers %v", codes)
	}
	if slowest > 5*time.Second {
		t.Errorf("slowest answer %s", slowest)
	}
	if code, _, _ := getJSON(t, base+"/api/status"); code != http.StatusOK {
		t.Errorf("after the flood: %d", code)
	}
}
