package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage/s3test"
)

// adminClient is an S3 client of srv with its keys, for what the tests arrange behind s3sync's
// back (bucket policies, multipart uploads).
func adminClient(srv *s3test.Server) *s3.Client {
	return s3.New(s3.Options{
		Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
}

// setReadPolicy gives bucket a policy that lets anyone GET the objects under each of the key
// patterns (S3 resource wildcards, e.g. "*" or "accounts/avatars/000/000/001/*"). The Versity
// S3 Gateway takes x-amz-acl and ignores it, as several hosted providers do: a bucket policy is
// how its objects become public.
func setReadPolicy(t *testing.T, srv *s3test.Server, bucket string, patterns ...string) {
	t.Helper()
	cl := adminClient(srv)
	var resources []string
	for _, p := range patterns {
		resources = append(resources, "arn:aws:s3:::"+bucket+"/"+p)
	}
	policy, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": resources,
		}},
	})
	_, err := cl.PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(string(policy))})
	if err != nil {
		t.Fatalf("put bucket policy: %v", err)
	}
}

// check fetches its temporary object anonymously: a destination that takes public-read and
// ignores it fails the check, with what to do; a public bucket passes; under acl_policy =
// mastodon an object written private that anyone can read fails it too.
func TestCheckPublicRead(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 1)

	r := s.must(exitError, "check")
	if verdictOf(r.stdout, "public read") != "FAIL" || !strings.Contains(r.stdout, "answered HTTP 403") ||
		!strings.Contains(r.stdout, "took acl public-read but did not make the object public") ||
		!strings.Contains(r.stdout, "public_url = https://") {
		t.Errorf("check on a destination that ignores public-read:\n%s", r.stdout)
	}

	setReadPolicy(t, s.s3, s.dst, "*")
	r = s.must(exitOK, "check")
	if verdictOf(r.stdout, "public read") != "ok" || !strings.Contains(r.stdout, "answered 200") {
		t.Errorf("check on a public destination:\n%s", r.stdout)
	}

	s.setDestination("acl_policy = mastodon")
	r = s.must(exitError, "check")
	if verdictOf(r.stdout, "private read") != "FAIL" || !strings.Contains(r.stdout, "the media of suspended accounts would stay visible") {
		t.Errorf("check with acl_policy = mastodon on a bucket that makes everything public:\n%s", r.stdout)
	}

	// acl = private: nothing is for visitors, nothing is fetched.
	s.setDestination("acl = private")
	r = s.run("check")
	if verdictOf(r.stdout, "public read") != "ok" || !strings.Contains(r.stdout, "not checked") {
		t.Errorf("check with acl = private:\n%s", r.stdout)
	}
}

// verify --public fetches done objects as a visitor would, through public_url: it catches a
// destination whose objects nobody can read, and suspended accounts' media that everybody can;
// it never changes the checkpoint.
func TestVerifyPublic(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	s.setDestination("acl = public-read\nacl_policy = mastodon")
	aclFixture(s)
	s.must(exitOK, "plan")
	s.must(exitOK, "copy", "--server-side", "never")
	before := s.counts()

	// Nothing public: every public object is a problem, the suspended account's are fine.
	r := s.must(exitFailed, "verify", "--public", "--all")
	if !strings.Contains(r.stdout, "fetched 4 object(s) as a visitor") || !strings.Contains(r.stdout, "2 as they should be, 2 problem(s)") ||
		!strings.Contains(r.stdout, "(2 of a suspended account, which must not be readable)") ||
		!strings.Contains(r.stdout, "ok.mp3: HTTP 403 for a visitor: the object is not public") ||
		!strings.Contains(r.stderr, "Give the bucket a policy that lets anyone read its objects") {
		t.Errorf("verify --public on a private bucket:\n%s\n%s", r.stdout, r.stderr)
	}

	// Everything public: the suspended account's media is a problem.
	setReadPolicy(t, s.s3, s.dst, "*")
	r = s.must(exitFailed, "verify", "--public", "--all")
	if !strings.Contains(r.stdout, "m.png: readable by anyone, although its account is suspended") || !strings.Contains(r.stdout, "2 problem(s)") {
		t.Errorf("verify --public on a bucket that makes everything public:\n%s", r.stdout)
	}

	// Public except the suspended account's files (what a provider honouring object ACLs
	// does with the ACLs copy sent): right.
	setReadPolicy(t, s.s3, s.dst, "accounts/avatars/000/000/001/*", "media_attachments/files/000/000/010/*")
	r = s.must(exitOK, "verify", "--public", "--all")
	if !strings.Contains(r.stdout, "4 as they should be, 0 problem(s)") {
		t.Errorf("verify --public, right:\n%s", r.stdout)
	}
	if after := s.counts(); after[checkpoint.Done] != before[checkpoint.Done] {
		t.Errorf("verify --public changed the checkpoint: %v, then %v", before, after)
	}

	// public_url: visitors come through a CDN (here a proxy); its answers are what counts.
	cdn := s3test.NewFaultProxy(t, s.s3.Endpoint)
	s.setDestination("public_url = " + cdn.URL + "/" + s.dst)
	r = s.must(exitOK, "verify", "--public", "--sample", "3")
	if !strings.Contains(r.stdout, "fetched 3 object(s) as a visitor from "+cdn.URL+"/"+s.dst) || cdn.Count(http.MethodGet) != 3 {
		t.Errorf("verify --public through public_url (%d GETs at the CDN):\n%s", cdn.Count(http.MethodGet), r.stdout)
	}
	cdn.SetRule(func(*http.Request) s3test.Fault { return s3test.Status(http.StatusNotFound, "NoSuchKey") })
	r = s.must(exitFailed, "verify", "--public", "--all")
	if !strings.Contains(r.stdout, "2 as they should be, 2 problem(s)") || !strings.Contains(r.stdout, "HTTP 404 for a visitor") {
		t.Errorf("verify --public through a CDN that answers 404:\n%s", r.stdout)
	}

	s.setDestination("public_url = ftp://media.example")
	r = s.must(exitUsage, "verify", "--public")
	if !strings.Contains(r.stderr, "[s3.destination] public_url") {
		t.Errorf("bad public_url: %s", r.stderr)
	}
}
