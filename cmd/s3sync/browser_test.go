package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/internal/testio"
)

// chromiumPath is Debian's chromium, which scripts/test-services.sh installs.
const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where browser tests leave their screenshots (git-ignored).
const artifactsDir = "../../artifacts"

// newBrowser starts a headless Chromium with a fresh profile, or skips the test without one
// (fails it in CI).
func newBrowser(t *testing.T, width, height int) (context.Context, context.CancelFunc) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := "no " + chromiumPath + ": run `make test` (scripts/test-services.sh installs Debian's chromium)"
		testio.Missing(t, msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

// The status page of a real running copy, in a real browser: the numbers move while the copy
// runs, the missing object shows up with its key, and the page is saved as a screenshot
// (artifacts/status-page.png and, narrower, status-page-phone.png). S3SYNC_UPDATE_DOCS=1 also
// writes docs/status-page.png for the README.
func TestStatusPageInBrowser(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 300)
	const missingKey = "preview_cards/images/000/000/007/original/card7.jpg"
	s.removeSource(missingKey)
	cmd, stderr, addr := s.startCopy(80*time.Millisecond, "--concurrency", "2", "--status-addr", "127.0.0.1:0")

	ctx, cancel := newBrowser(t, 1280, 1000)
	defer cancel()
	url := "http://" + addr + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#kinds tbody tr"))); err != nil {
		t.Fatalf("loading %s: %v\ncopy: %s", url, err, stderr)
	}
	processed := func() int {
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("processed")))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.ReplaceAll(text, ",", ""))
		return n
	}
	first := processed()
	var second int
	waitFor(t, "the page's count to move", 30*time.Second, func() bool {
		second = processed()
		return second > first
	})
	t.Logf("the page counted %d, then %d objects", first, second)

	var keys []string
	waitFor(t, "a failure row for the missing object", 30*time.Second, func() bool {
		var err error
		keys, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("#failures tr.failure-row[data-status=missing] .key")).map(e => e.textContent)`))
		return err == nil && len(keys) > 0
	})
	if len(keys) != 1 || keys[0] != missingKey {
		t.Errorf("failure rows: %q", keys)
	}
	text := func(sel chromedp.CSS) string {
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return v
	}
	if phase, total, kind := text("#phase"), text("#total"), text("#kinds tbody tr td"); phase != "copying" || total != "300" || kind != "preview_cards" {
		t.Errorf("page shows phase %q, total %q, first kind %q", phase, total, kind)
	}
	// On a phone-sized screen nothing needs horizontal scrolling.
	phone, cancelPhone := newBrowser(t, 390, 844)
	defer cancelPhone()
	if err := chromedp.Do(phone, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#kinds tbody tr"))); err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(phone, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(phone, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "status-page-phone.png", png)
	if overflow {
		t.Error("the page is wider than a phone's screen")
	}

	// Let the chart collect a few samples before the screenshot.
	waitFor(t, "the throughput chart", 30*time.Second, func() bool {
		paths, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart path.area").length`))
		return err == nil && paths == 1
	})
	if png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "status-page.png", png)
	if os.Getenv("S3SYNC_UPDATE_DOCS") == "1" {
		if err := os.WriteFile("../../docs/status-page.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// When the copy ends, the page says so instead of freezing on old numbers.
	if err := cmd.Wait(); err != nil {
		t.Fatalf("copy: %v\n%s", err, stderr)
	}
	waitFor(t, "the page to notice the copy is gone", 30*time.Second, func() bool {
		banner, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("banner")))
		return err == nil && strings.Contains(banner, "Cannot reach s3sync")
	})
}

func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
}
