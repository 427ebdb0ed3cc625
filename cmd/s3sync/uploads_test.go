package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage/s3test"
)

// A copy killed with SIGKILL in the middle of a multipart upload leaves the upload at the
// destination; the checkpoint recorded it before its first part, check lists it, and
// copy --resume aborts it before copying the object again: no incomplete upload is left.
func TestKilledMultipartUploadIsAborted(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := killDuringMultipartUpload(t, s)

	setReadPolicy(t, s.s3, s.dst, "*")
	r := s.run("check")
	if verdictOf(r.stdout, "destination uploads") != "warn" || !strings.Contains(r.stdout, "1 incomplete multipart upload(s) under Mastodon's prefixes") ||
		!strings.Contains(r.stdout, "1 of them started by s3sync") || !strings.Contains(r.stdout, "s3sync cleanup-uploads") {
		t.Errorf("check after the kill:\n%s", r.stdout)
	}

	resumeAbortsKilledUpload(t, s, bodies)
	if c := s.counts(); c[checkpoint.Done] != 1 {
		t.Errorf("counts %v", c)
	}
	r = s.must(exitOK, "cleanup-uploads")
	if !strings.Contains(r.stdout, "no incomplete multipart upload under Mastodon's prefixes") {
		t.Errorf("cleanup-uploads after the resume:\n%s", r.stdout)
	}
}

// killDuringMultipartUpload plans a 20 MiB object and kills (SIGKILL) the copy while the first
// part of its multipart upload is in flight; the killed upload is left at the destination. It
// returns the source bodies by key.
func killDuringMultipartUpload(t *testing.T, s *sandbox) map[string][]byte {
	t.Helper()
	s.exec(`INSERT INTO media_attachments (id, type, file_file_name, file_content_type, file_file_size, remote_url, file_storage_schema_version) VALUES
		(1, 4, 'big.mp3', 'audio/mpeg', 20971520, '', 1)`)
	bodies := s.upload(sourceObject{"media_attachments/files/000/000/001/original/big.mp3", 20 << 20, "audio/mpeg", "", ""})
	dst := s3test.NewFaultProxy(t, s.dstServer().Endpoint)
	s.dstURL = dst.URL
	s.writeConfig()
	// Parts wait at the proxy and never reach the destination: the kill comes while the
	// upload is under way.
	dst.SetRule(func(r *http.Request) s3test.Fault {
		if r.Method == http.MethodPut && strings.Contains(r.URL.RawQuery, "partNumber=") {
			return s3test.Fault{Delay: 5 * time.Second, Status: http.StatusServiceUnavailable, Code: "SlowDown"}
		}
		return s3test.Pass()
	})
	s.must(exitOK, "plan")
	cmd := s.command("copy", "--server-side", "never")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "a part upload", 30*time.Second, func() bool {
		for _, r := range dst.Requests() {
			if r.Method == http.MethodPut && strings.Contains(r.RawQuery, "partNumber=") {
				return true
			}
		}
		return false
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	dst.SetRule(func(*http.Request) s3test.Fault { return s3test.Pass() })
	if n := s.dstServer().ListMultipartUploads(t, s.dst); n != 1 {
		t.Fatalf("%d multipart uploads at the destination after the kill, want the killed one", n)
	}
	return bodies
}

// resumeAbortsKilledUpload runs copy --resume after killDuringMultipartUpload: the killed
// upload is aborted first, the object copied again, and no upload is left.
func resumeAbortsKilledUpload(t *testing.T, s *sandbox, bodies map[string][]byte) {
	t.Helper()
	r := s.must(exitOK, "copy", "--resume")
	if !strings.Contains(r.stdout, "aborted 1 multipart upload(s) that a stopped copy left unfinished") {
		t.Errorf("copy --resume:\n%s", r.stdout)
	}
	if n := s.dstServer().ListMultipartUploads(t, s.dst); n != 0 {
		t.Errorf("%d multipart uploads left at the destination after copy --resume", n)
	}
	s.assertCopied(bodies)
}

// cleanup-uploads aborts what s3sync recorded and leaves other uploads alone unless --all.
func TestCleanupUploads(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type) VALUES (1, 'https://a.example/', 'a.jpg', 'image/jpeg')`)
	s.must(exitOK, "plan")
	ours := createUpload(t, s.s3, s.dst, "preview_cards/images/000/000/001/original/a.jpg")
	theirs := createUpload(t, s.s3, s.dst, "media_attachments/files/000/000/009/original/x.jpg")
	createUpload(t, s.s3, s.dst, "not-mastodon/x")
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RecordUpload(checkpoint.Upload{UploadID: ours, ObjectID: "preview_cards/00000000000000000001/image/original", Key: "preview_cards/images/000/000/001/original/a.jpg"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := s.must(exitOK, "cleanup-uploads", "--dry-run")
	if !strings.Contains(r.stdout, "upload "+ours) || !strings.Contains(r.stdout, "recorded by s3sync") || !strings.Contains(r.stdout, "upload "+theirs) {
		t.Errorf("cleanup-uploads --dry-run:\n%s", r.stdout)
	}
	if n := s.s3.ListMultipartUploads(t, s.dst); n != 3 {
		t.Errorf("--dry-run aborted something: %d uploads left", n)
	}
	r = s.must(exitOK, "cleanup-uploads")
	if !strings.Contains(r.stdout, "aborted 1 multipart upload(s) that s3sync recorded") || !strings.Contains(r.stdout, "1 incomplete upload(s) under Mastodon's prefixes left alone") {
		t.Errorf("cleanup-uploads:\n%s", r.stdout)
	}
	if n := s.s3.ListMultipartUploads(t, s.dst); n != 2 {
		t.Errorf("%d uploads left after cleanup-uploads, want 2 (not recorded, not Mastodon's)", n)
	}
	r = s.must(exitOK, "cleanup-uploads", "--all")
	if !strings.Contains(r.stdout, "aborted: media_attachments/files/000/000/009/original/x.jpg") {
		t.Errorf("cleanup-uploads --all:\n%s", r.stdout)
	}
	if n := s.s3.ListMultipartUploads(t, s.dst); n != 1 {
		t.Errorf("%d uploads left after --all, want the one outside Mastodon's prefixes", n)
	}
}

// createUpload starts a multipart upload of key in bucket and returns its ID.
func createUpload(t *testing.T, srv *s3test.Server, bucket, key string) string {
	t.Helper()
	out, err := adminClient(srv).CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("create multipart upload %s: %v", key, err)
	}
	return aws.ToString(out.UploadId)
}
