package s3test

import (
	"regexp"
	"strings"
	"testing"
)

var validBucket = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func TestBucketName(t *testing.T) {
	for _, prefix := range []string{
		"TestPutGetHeadRoundTrip",
		"TestACLHeader/acl=public-read",
		"--Weird__Name--",
		"",
		"ümlaut ünïcode",
		strings.Repeat("VeryLongTestName", 10),
	} {
		name, err := bucketName(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !validBucket.MatchString(name) || strings.Contains(name, "--") || !strings.HasPrefix(name, "s3sync-") {
			t.Errorf("bucketName(%q) = %q: not a valid bucket name", prefix, name)
		}
		if again, _ := bucketName(prefix); again == name {
			t.Errorf("bucketName(%q) returned %q twice", prefix, name)
		}
	}
}
