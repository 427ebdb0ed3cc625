package main

import (
	"strings"
	"testing"
)

// FuzzParseConfig feeds arbitrary text to the config parser: it must never panic, its
// errors are one line, and what it accepts is within the documented ranges. `make test`
// runs the seeds; `go test -fuzz FuzzParseConfig ./cmd/s3sync` explores further.
func FuzzParseConfig(f *testing.F) {
	f.Add(goodConfig)
	for _, bad := range badConfigs {
		f.Add(strings.Replace(goodConfig, bad.from, bad.to, 1))
	}
	f.Add("[s3.source]\nbucket = \x00\n")
	f.Add("[sync]\nconcurrency = 99999999999999999999\n")
	f.Add("[pg.database]\nport = -1\nhost = \"quoted\nvalue\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := ParseConfig(strings.NewReader(text), noEnv)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err)
			}
			return
		}
		if cfg.Concurrency < 1 || cfg.Retries < 0 {
			t.Errorf("accepted concurrency %d retries %d", cfg.Concurrency, cfg.Retries)
		}
		if db := cfg.Database; db != nil && (db.Port < 1 || db.Port > 65535 || db.Host == "") {
			t.Errorf("accepted database %#v", db)
		}
		if cfg.Source != nil && cfg.Source.Bucket == "" {
			t.Error("accepted a source without a bucket")
		}
	})
}
