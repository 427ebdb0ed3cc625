package checkpoint

import (
	"errors"
	"fmt"
	"math/rand"
	"path"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStatuses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Status
	}{
		{"", nil},
		{"failed", []Status{Failed}},
		{"failed,missing", []Status{Failed, Missing}},
		{" Failed , MISSING ,failed,", []Status{Failed, Missing}},
		{"pending,done,failed,missing", Statuses},
	} {
		got, err := ParseStatuses(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseStatuses(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"faild", "failed,bogus", "all"} {
		_, err := ParseStatuses(in)
		if err == nil {
			t.Errorf("ParseStatuses(%q) succeeded", in)
			continue
		}
		bad := in[strings.LastIndex(in, ",")+1:]
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) ||
			!strings.Contains(err.Error(), "pending, done, failed, missing") {
			t.Errorf("ParseStatuses(%q) error %q does not name the bad value and the valid ones", in, err)
		}
	}
}

func TestID(t *testing.T) {
	for _, o := range []Object{
		{Kind: "media_attachments", RecordID: 109876543210987654, Attachment: "file", Style: "small"},
		{Kind: "accounts", RecordID: 7, Attachment: "avatar", Style: "original"},
		{Kind: "accounts", RecordID: 0, Attachment: "avatar", Style: "original"},
		{Kind: "site_uploads", RecordID: -5, Attachment: "file", Style: "@2x"},
		{Kind: "k", RecordID: 1<<63 - 1, Attachment: "a", Style: "s"},
	} {
		want := fmt.Sprintf("%s/%020d/%s/%s", o.Kind, o.RecordID, o.Attachment, o.Style)
		if got := o.ID(); got != want {
			t.Errorf("ID() = %q, want %q", got, want)
		}
		kind, id, att, style, err := parseID([]byte(o.ID()))
		if err != nil || kind != o.Kind || id != o.RecordID || att != o.Attachment || style != o.Style {
			t.Errorf("parseID(%q) = %q %d %q %q %v", o.ID(), kind, id, att, style, err)
		}
	}
	// IDs sort by kind, then record id.
	a := Object{Kind: "accounts", RecordID: 9, Attachment: "z", Style: "z"}.ID()
	b := Object{Kind: "accounts", RecordID: 10, Attachment: "a", Style: "a"}.ID()
	c := Object{Kind: "accounts_x", RecordID: 1, Attachment: "a", Style: "a"}.ID()
	if !(a < b && b < c) {
		t.Errorf("IDs out of order: %q %q %q", a, b, c)
	}
}

func TestMergeNewAndKnown(t *testing.T) {
	db := openTemp(t)
	in := objs("media_attachments", 1, 5)
	in[0].Status = Done // ignored for new objects
	in[0].Attempts = 9
	before := time.Now().UTC()
	added, known := mustMerge(t, db, in)
	if added != 5 || known != 0 {
		t.Fatalf("first Merge = %d added, %d known", added, known)
	}
	o := mustGet(t, db, in[0].ID())
	if o.Status != Pending || o.Attempts != 0 || o.CreatedAt.Before(before) || !o.CreatedAt.Equal(o.UpdatedAt) {
		t.Errorf("new object = %+v", o)
	}
	if !slices.Equal(o.Candidates, in[0].Candidates) || o.Size != in[0].Size || o.ContentType != "image/jpeg" {
		t.Errorf("new object fields = %+v", o)
	}

	mustApply(t, db,
		Update{ID: in[0].ID(), Status: Done, Bytes: 777, SourceKey: in[0].Candidates[1], Attempts: 1},
		Update{ID: in[1].ID(), Status: Failed, Error: "boom", Attempts: 2},
	)
	done := mustGet(t, db, in[0].ID())

	// Plan again: two known with new candidates and size, three new.
	again := objs("media_attachments", 1, 2)
	for i := range again {
		// The same key Mastodon asks for, other fallbacks: a refresh, not a moved or replaced
		// file (see TestMergeDestKeyChanged and TestMergeReplacedFile).
		base := path.Base(again[i].Candidates[0])
		again[i].Candidates = []string{again[i].Candidates[0], "cache/new/" + base}
		again[i].Size = 5
		again[i].ContentType = "image/png"
		again[i].Remote = true
	}
	again = append(again, objs("media_attachments", 100, 3)...)
	added, known = mustMerge(t, db, again)
	if added != 3 || known != 2 {
		t.Fatalf("second Merge = %d added, %d known", added, known)
	}
	o = mustGet(t, db, in[0].ID())
	if o.Status != Done || o.Bytes != 777 || o.SourceKey != in[0].Candidates[1] || o.Attempts != 1 ||
		!o.CreatedAt.Equal(done.CreatedAt) || !o.UpdatedAt.Equal(done.UpdatedAt) {
		t.Errorf("known done object lost its state: %+v", o)
	}
	if !slices.Equal(o.Candidates, again[0].Candidates) || o.Size != 5 || o.ContentType != "image/png" || !o.Remote {
		t.Errorf("known object not refreshed: %+v", o)
	}
	o = mustGet(t, db, in[1].ID())
	if o.Status != Failed || o.Error != "boom" || o.Attempts != 2 || o.Size != 5 {
		t.Errorf("known failed object = %+v", o)
	}
	checkConsistent(t, db)

	counts, _ := db.Counts()
	want := map[Status]Count{
		Pending: {6, in[2].Size + in[3].Size + in[4].Size + again[2].Size + again[3].Size + again[4].Size},
		Done:    {1, 777},
		Failed:  {1, 5},
	}
	if got := counts["media_attachments"]; !equalCounts(Counts{"m": got}, Counts{"m": want}) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
}

func TestMergeDuplicatesAndValidation(t *testing.T) {
	db := openTemp(t)
	a := obj("accounts", 1, "original")
	a2 := a
	a2.Size = 99
	added, known := mustMerge(t, db, []Object{a, obj("accounts", 2, "original"), a2})
	if added != 2 || known != 0 {
		t.Errorf("Merge with a duplicate = %d added, %d known; want 2, 0", added, known)
	}
	if o := mustGet(t, db, a.ID()); o.Size != 99 {
		t.Errorf("duplicate: size %d, want the last one's 99", o.Size)
	}
	added, known = mustMerge(t, db, []Object{a, a})
	if added != 0 || known != 1 {
		t.Errorf("Merge of a known duplicate = %d added, %d known; want 0, 1", added, known)
	}
	if o := mustGet(t, db, a.ID()); o.Size != a.Size {
		t.Errorf("size %d not refreshed to %d", o.Size, a.Size)
	}
	checkConsistent(t, db)

	for _, bad := range []Object{
		{Kind: "", RecordID: 1, Attachment: "a", Style: "s"},
		{Kind: "a/b", RecordID: 1, Attachment: "a", Style: "s"},
		{Kind: "k", RecordID: 1, Attachment: "", Style: "s"},
		{Kind: "k", RecordID: 1, Attachment: "a/", Style: "s"},
		{Kind: "k\x00", RecordID: 1, Attachment: "a", Style: "s"},
		{Kind: "k", RecordID: 1, Attachment: "a", Style: ""},
	} {
		if _, _, err := db.Merge([]Object{obj("accounts", 50, "original"), bad}); err == nil {
			t.Errorf("Merge(%+v) succeeded", bad)
		}
	}
	if _, ok, _ := db.Get(obj("accounts", 50, "original").ID()); ok {
		t.Error("a failed Merge stored objects")
	}
}

func TestNextPending(t *testing.T) {
	db := openTemp(t)
	var in []Object
	in = append(in, objs("media_attachments", 1, 5)...)
	in = append(in, objs("accounts", 1, 5)...)
	in = append(in, objs("custom_emojis", 1, 5)...)
	rand.New(rand.NewSource(3)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
	mustMerge(t, db, in)

	all := ids(in)
	slices.Sort(all)

	var got []string
	after := ""
	for {
		page, err := db.NextPending(after, nil, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 4 {
			t.Fatalf("NextPending returned %d > 4", len(page))
		}
		got = append(got, ids(page)...)
		after = page[len(page)-1].ID()
	}
	if !slices.Equal(got, all) {
		t.Errorf("paging NextPending = %v\nwant %v", got, all)
	}

	// Kinds filter, order of the filter irrelevant, n spanning kinds.
	page, err := db.NextPending("", []string{"media_attachments", "accounts", "accounts"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := append(ids(objs("accounts", 1, 5)), ids(objs("media_attachments", 1, 2))...)
	if !slices.Equal(ids(page), want) {
		t.Errorf("kinds filter = %v\nwant %v", ids(page), want)
	}
	// after inside the first kind, and after past a kind.
	page, _ = db.NextPending(obj("accounts", 3, "original").ID(), []string{"accounts", "media_attachments"}, 3)
	want = []string{obj("accounts", 4, "original").ID(), obj("accounts", 5, "original").ID(), obj("media_attachments", 1, "original").ID()}
	if !slices.Equal(ids(page), want) {
		t.Errorf("after = %v\nwant %v", ids(page), want)
	}
	page, _ = db.NextPending("custom_emojis/", []string{"accounts", "media_attachments"}, 3)
	if !slices.Equal(ids(page), ids(objs("media_attachments", 1, 3))) {
		t.Errorf("after past accounts = %v", ids(page))
	}
	page, _ = db.NextPending("", []string{"nothing"}, 3)
	if len(page) != 0 {
		t.Errorf("unknown kind returned %v", ids(page))
	}
	if _, err := db.NextPending("", []string{"a/b"}, 3); err == nil {
		t.Error("kind with a slash accepted")
	}
	if page, _ := db.NextPending("", nil, 0); len(page) != 0 {
		t.Errorf("n=0 returned %d", len(page))
	}

	// Objects that leave pending leave NextPending.
	first := obj("accounts", 1, "original").ID()
	mustApply(t, db,
		Update{ID: first, Status: Done, Bytes: 1},
		Update{ID: obj("accounts", 2, "original").ID(), Status: Failed},
		Update{ID: obj("accounts", 3, "original").ID(), Status: Missing},
	)
	page, _ = db.NextPending("", []string{"accounts"}, 10)
	if !slices.Equal(ids(page), ids(objs("accounts", 4, 2))) {
		t.Errorf("after Apply = %v", ids(page))
	}
}

func TestApply(t *testing.T) {
	db := openTemp(t)
	in := objs("accounts", 1, 4)
	mustMerge(t, db, in)
	u := Update{ID: in[0].ID(), Status: Done, Bytes: 1234, SourceKey: in[0].Candidates[0], Attempts: 1}
	mustApply(t, db, u)
	o1 := mustGet(t, db, in[0].ID())
	if o1.Status != Done || o1.Bytes != 1234 || o1.Attempts != 1 || o1.SourceKey != u.SourceKey || !o1.UpdatedAt.After(o1.CreatedAt) && !o1.UpdatedAt.Equal(o1.CreatedAt) {
		t.Errorf("after Apply: %+v", o1)
	}
	counts, _ := db.Counts()
	if c := counts["accounts"][Done]; c != (Count{1, 1234}) {
		t.Errorf("done count = %v", c)
	}
	if c := counts["accounts"][Pending]; c != (Count{3, in[1].Size + in[2].Size + in[3].Size}) {
		t.Errorf("pending count = %v", c)
	}
	// Twice: harmless but for Attempts.
	mustApply(t, db, u)
	o2 := mustGet(t, db, in[0].ID())
	if o2.Status != Done || o2.Bytes != 1234 || o2.Attempts != 2 {
		t.Errorf("after second Apply: %+v", o2)
	}
	checkConsistent(t, db)

	// Failed then done again in one batch: applied in order.
	mustApply(t, db,
		Update{ID: in[1].ID(), Status: Failed, Error: "503", Attempts: 1},
		Update{ID: in[1].ID(), Status: Done, Bytes: 5, Attempts: 1},
	)
	if o := mustGet(t, db, in[1].ID()); o.Status != Done || o.Error != "" || o.Attempts != 2 {
		t.Errorf("two updates of one ID: %+v", o)
	}
	checkConsistent(t, db)

	// An unknown ID applies nothing.
	err := db.Apply([]Update{{ID: in[2].ID(), Status: Done, Bytes: 1}, {ID: "accounts/nope", Status: Done}})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Apply with unknown ID = %v, want ErrNotFound", err)
	}
	if o := mustGet(t, db, in[2].ID()); o.Status != Pending {
		t.Errorf("failed Apply changed %s to %s", o.ID(), o.Status)
	}
	if err := db.Apply([]Update{{ID: in[2].ID(), Status: "copied"}}); err == nil {
		t.Error("Apply with invalid status succeeded")
	}
	checkConsistent(t, db)
}

func TestEach(t *testing.T) {
	db := openTemp(t)
	// More than one chunk per kind.
	acc := objs("accounts", 1, eachChunk+10)
	med := objs("media_attachments", 1, eachChunk*2+1)
	mustMerge(t, db, append(append([]Object{}, med...), acc...))
	var ups []Update
	for i := 0; i < len(acc); i += 3 {
		ups = append(ups, Update{ID: acc[i].ID(), Status: Failed, Error: "x"})
	}
	for i := 0; i < len(med); i += 2 {
		ups = append(ups, Update{ID: med[i].ID(), Status: Done, Bytes: 1})
	}
	ups = append(ups, Update{ID: med[1].ID(), Status: Missing}, Update{ID: acc[1].ID(), Status: Missing})
	mustApply(t, db, ups...)

	collect := func(f Filter) []Object {
		t.Helper()
		var out []Object
		err := db.Each(f, func(o Object) error {
			if n := db.bolt.Stats().OpenTxN; n != 0 {
				t.Fatalf("fn called with %d read transactions open", n)
			}
			out = append(out, o)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	expect := func(name string, got []Object, want func(o Object) bool, from ...[]Object) {
		t.Helper()
		var w []string
		for _, list := range from {
			for _, o := range list {
				if o2 := mustGet(t, db, o.ID()); want(o2) {
					w = append(w, o.ID())
				}
			}
		}
		if g := ids(got); !slices.Equal(g, w) {
			t.Errorf("%s: got %d objects, want %d", name, len(g), len(w))
		}
	}

	expect("all", collect(Filter{}), func(Object) bool { return true }, acc, med)
	expect("accounts", collect(Filter{Kinds: []string{"accounts"}}), func(Object) bool { return true }, acc)
	expect("failed", collect(Filter{Statuses: []Status{Failed}}), func(o Object) bool { return o.Status == Failed }, acc, med)
	// Per status in the order given, ID order within each.
	got := collect(Filter{Statuses: []Status{Missing, Failed}})
	missing := collect(Filter{Statuses: []Status{Missing}})
	if len(missing) != 2 || missing[0].ID() != acc[1].ID() || missing[1].ID() != med[1].ID() {
		t.Errorf("missing = %v", ids(missing))
	}
	failed := collect(Filter{Statuses: []Status{Failed}})
	if want := append(ids(missing), ids(failed)...); !slices.Equal(ids(got), want) {
		t.Errorf("missing,failed: got %d objects, want %d in status order", len(got), len(want))
	}
	expect("done media", collect(Filter{Kinds: []string{"media_attachments"}, Statuses: []Status{Done}}),
		func(o Object) bool { return o.Status == Done }, med)
	expect("done accounts", collect(Filter{Kinds: []string{"accounts"}, Statuses: []Status{Done}}),
		func(o Object) bool { return o.Status == Done }, acc)

	// fn's error stops the walk and comes back as is.
	stop := errors.New("stop")
	n := 0
	err := db.Each(Filter{}, func(Object) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if err != stop || n != 5 {
		t.Errorf("Each = %v after %d calls, want stop after 5", err, n)
	}
	if err := db.Each(Filter{Statuses: []Status{"nope"}}, func(Object) error { return nil }); err == nil {
		t.Error("Each with an invalid status succeeded")
	}

	// Writing from fn works: nothing is held open.
	err = db.Each(Filter{Statuses: []Status{Failed}}, func(o Object) error {
		return db.Apply([]Update{{ID: o.ID(), Status: Done, Bytes: 2}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if left := collect(Filter{Statuses: []Status{Failed}}); len(left) != 0 {
		t.Errorf("%d failed left after applying done to all", len(left))
	}
	checkConsistent(t, db)
}

func TestRequeue(t *testing.T) {
	db := openTemp(t)
	acc := objs("accounts", 1, 30)
	med := objs("media_attachments", 1, 30)
	mustMerge(t, db, append(append([]Object{}, acc...), med...))
	var ups []Update
	for i, o := range append(append([]Object{}, acc...), med...) {
		switch i % 3 {
		case 0:
			ups = append(ups, Update{ID: o.ID(), Status: Failed, Error: "500", Attempts: 3})
		case 1:
			ups = append(ups, Update{ID: o.ID(), Status: Missing, Error: "absent", Attempts: 1})
		case 2:
			ups = append(ups, Update{ID: o.ID(), Status: Done, Bytes: 9, Attempts: 1})
		}
	}
	mustApply(t, db, ups...)

	n, err := db.Requeue([]Status{Failed}, []string{"accounts"})
	if err != nil || n != 10 {
		t.Fatalf("Requeue(failed, accounts) = %d, %v; want 10", n, err)
	}
	o := mustGet(t, db, acc[0].ID())
	if o.Status != Pending || o.Error != "" || o.Attempts != 3 {
		t.Errorf("requeued object = %+v", o)
	}
	if o := mustGet(t, db, med[0].ID()); o.Status != Failed {
		t.Errorf("media object requeued: %+v", o)
	}
	page, _ := db.NextPending("", nil, 100)
	if len(page) != 10 {
		t.Errorf("NextPending after Requeue = %d objects, want 10", len(page))
	}
	checkConsistent(t, db)

	n, err = db.Requeue([]Status{Failed, Missing, Pending}, nil)
	if err != nil || n != 30 {
		t.Fatalf("Requeue(failed, missing) = %d, %v; want 30", n, err)
	}
	n, _ = db.Requeue([]Status{Failed, Missing}, nil)
	if n != 0 {
		t.Errorf("second Requeue moved %d", n)
	}
	counts, _ := db.Counts()
	for _, k := range []string{"accounts", "media_attachments"} {
		if c := counts[k]; c[Pending].Objects != 20 || c[Done].Objects != 10 || c[Failed].Objects != 0 || c[Missing].Objects != 0 {
			t.Errorf("%s counts = %v", k, c)
		}
	}
	checkConsistent(t, db)

	if _, err := db.Requeue(nil, nil); err == nil {
		t.Error("Requeue with no statuses succeeded")
	}
	if _, err := db.Requeue([]Status{"x"}, nil); err == nil {
		t.Error("Requeue with an invalid status succeeded")
	}
}

func TestRequeueChunks(t *testing.T) {
	db := openTemp(t)
	in := objs("media_attachments", 1, requeueChunk*2+5)
	for i := 0; i < len(in); i += 5000 {
		mustMerge(t, db, in[i:min(i+5000, len(in))])
	}
	ups := make([]Update, len(in))
	for i, o := range in {
		ups[i] = Update{ID: o.ID(), Status: Failed}
	}
	mustApply(t, db, ups...)
	n, err := db.Requeue([]Status{Failed}, nil)
	if err != nil || n != len(in) {
		t.Fatalf("Requeue = %d, %v; want %d", n, err, len(in))
	}
	checkConsistent(t, db)
}

// TestCountsMatchRecount runs a random sequence of Merge, Apply and Requeue and checks after
// each step that the counters kept in the write transactions equal a full recount.
func TestCountsMatchRecount(t *testing.T) {
	db := openTemp(t)
	rnd := rand.New(rand.NewSource(42))
	kinds := []string{"accounts", "media_attachments", "custom_emojis", "preview_cards"}
	styles := []string{"original", "small", "static"}
	randObj := func() Object {
		o := obj(kinds[rnd.Intn(len(kinds))], int64(rnd.Intn(300)), styles[rnd.Intn(len(styles))])
		o.Size = int64(rnd.Intn(1000))
		o.Remote = rnd.Intn(2) == 0
		return o
	}
	var known []string
	isKnown := map[string]bool{}
	for step := 0; step < 300; step++ {
		switch op := rnd.Intn(10); {
		case op < 3:
			batch := make([]Object, rnd.Intn(50)+1)
			for i := range batch {
				batch[i] = randObj()
			}
			mustMerge(t, db, batch)
			for _, o := range batch {
				if !isKnown[o.ID()] {
					isKnown[o.ID()] = true
					known = append(known, o.ID())
				}
			}
		case op < 8 && len(known) > 0:
			ups := make([]Update, rnd.Intn(40)+1)
			for i := range ups {
				ups[i] = Update{
					ID:       known[rnd.Intn(len(known))],
					Status:   Statuses[rnd.Intn(len(Statuses))],
					Bytes:    int64(rnd.Intn(2000)),
					Attempts: 1,
				}
				if ups[i].Status == Failed {
					ups[i].Error = "err"
				}
			}
			mustApply(t, db, ups...)
		case op < 9:
			var sts []Status
			for _, s := range Statuses {
				if rnd.Intn(2) == 0 {
					sts = append(sts, s)
				}
			}
			var ks []string
			if rnd.Intn(2) == 0 {
				ks = []string{kinds[rnd.Intn(len(kinds))]}
			}
			if len(sts) > 0 {
				if _, err := db.Requeue(sts, ks); err != nil {
					t.Fatal(err)
				}
			}
		default:
			// A failing Apply must leave no trace.
			if len(known) > 0 {
				err := db.Apply([]Update{{ID: known[0], Status: Done, Bytes: 1}, {ID: "missing/x", Status: Done}})
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Apply with unknown ID = %v", err)
				}
			}
		}
		counts, err := db.Counts()
		if err != nil {
			t.Fatal(err)
		}
		re, err := db.Recount()
		if err != nil {
			t.Fatal(err)
		}
		if !equalCounts(counts, re) {
			t.Fatalf("step %d: Counts = %v\nRecount = %v", step, counts, re)
		}
	}
	checkConsistent(t, db)
	var total int64
	counts, _ := db.Counts()
	for _, m := range counts {
		for _, c := range m {
			total += c.Objects
		}
	}
	if total != int64(len(known)) {
		t.Errorf("counted %d objects, merged %d distinct", total, len(known))
	}
}

func TestConcurrentUse(t *testing.T) {
	db := openTemp(t)
	in := objs("accounts", 1, 2000)
	mustMerge(t, db, in)
	done := make(chan error, 3)
	go func() {
		for i := 0; i < len(in); i += 100 {
			var ups []Update
			for _, o := range in[i : i+100] {
				ups = append(ups, Update{ID: o.ID(), Status: Done, Bytes: 1})
			}
			if err := db.Apply(ups); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for r := 0; r < 2; r++ {
		go func() {
			for i := 0; i < 20; i++ {
				if _, err := db.Counts(); err != nil {
					done <- err
					return
				}
				if err := db.Each(Filter{Statuses: []Status{Pending}}, func(Object) error { return nil }); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	checkConsistent(t, db)
}

// A known object whose first candidate (the key Mastodon asks for, where the copy writes it)
// changed starts over: a Done one leaves its old copy as a Stale object, a Missing one is
// looked for again, as is a Missing one that only got new fallback candidates.
func TestMergeDestKeyChanged(t *testing.T) {
	db := openTemp(t)
	in := objs("accounts", 1, 3)
	mustMerge(t, db, in)
	mustApply(t, db,
		Update{ID: in[0].ID(), Status: Done, Bytes: 10, SourceKey: in[0].Candidates[0], Attempts: 1},
		Update{ID: in[1].ID(), Status: Missing, Error: "not found", Attempts: 1},
		Update{ID: in[2].ID(), Status: Missing, Error: "not found", Attempts: 1},
	)
	again := objs("accounts", 1, 3)
	for i := range again[:2] {
		again[i].Candidates = append([]string{"moved/" + path.Base(again[i].Candidates[0])}, again[i].Candidates...)
	}
	again[2].Candidates = append(slices.Clone(again[2].Candidates), "legacy/x.png")
	mustMerge(t, db, again)
	for i, o := range again {
		got := mustGet(t, db, o.ID())
		if got.Status != Pending || got.DestKey() != o.Candidates[0] || (i < 2 && got.Attempts != 0) || got.SourceKey != "" {
			t.Errorf("object %d after its key changed: %+v", i, got)
		}
	}
	stale := 0
	err := db.Each(Filter{Statuses: []Status{Stale}}, func(o Object) error {
		stale++
		if o.DestKey() != in[0].Candidates[0] || o.Bytes != 10 {
			t.Errorf("stale copy %+v", o)
		}
		return nil
	})
	if err != nil || stale != 1 {
		t.Errorf("stale objects: %d, %v", stale, err)
	}
	checkConsistent(t, db)
}
