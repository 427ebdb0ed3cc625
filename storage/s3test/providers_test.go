//go:build providers

package s3test

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"slices"
	"testing"
)

// The helpers the provider suite (`make test-providers`) relies on, against each of its
// servers: bucket creation and cleanup, put, get, list, multipart listing, anonymous GET.
func TestProvidersServers(t *testing.T) {
	for name, server := range map[string]func(testing.TB) *Server{"Versity": New, "SeaweedFS": NewSeaweed} {
		t.Run(name, func(t *testing.T) {
			srv := server(t)
			b := srv.NewBucket(t, t.Name())
			key := "a/ü b+c.txt"
			srv.PutObject(t, b, key, []byte("hello"), "text/plain", "max-age=5")
			body, info := srv.GetObject(t, b, key)
			sum := md5.Sum(body)
			if string(body) != "hello" || info.ContentType != "text/plain" || info.CacheControl != "max-age=5" ||
				info.ETag != hex.EncodeToString(sum[:]) || info.Size != 5 {
				t.Errorf("get: %q %+v", body, info)
			}
			if keys := srv.Keys(t, b); !slices.Equal(keys, []string{key}) {
				t.Errorf("keys %q", keys)
			}
			if n := srv.ListMultipartUploads(t, b); n != 0 {
				t.Errorf("%d uploads in a new bucket", n)
			}
			// No ACL, no policy: a visitor is refused.
			if code, _ := srv.AnonymousGet(t, b, key); code != http.StatusForbidden {
				t.Errorf("anonymous GET of an object without ACL: %d, want 403", code)
			}
			if got := srv.ObjectURL(b, key); got != srv.Endpoint+"/"+b+"/a/%C3%BC%20b+c.txt" {
				t.Errorf("ObjectURL %s", got)
			}
		})
	}
}
