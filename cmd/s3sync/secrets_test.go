package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/storage/s3test"
)

// No secret appears in any output of a full run — plan, copy with failures, retry-failed,
// every report format, debug and JSON logs — nor in the checkpoint or its status file, and
// both files are private (0600).
func TestNoSecretsInAnyOutput(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	// A role of our own, so the database password is distinctive enough to grep for.
	role := "s3sync_secret_" + strings.ToLower(strings.ReplaceAll(s.db.Name[len(s.db.Name)-12:], "_", ""))
	const pgPassword = "Pg-Pass-7b1e9c-do-not-print"
	manyObjects(s, 5)
	s.exec(fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s`, role, pgPassword, role))
	admin := s.db.Config
	t.Cleanup(func() {
		s.db.Config = admin
		s.exec("DROP OWNED BY " + role + "; DROP ROLE " + role)
	})
	s.db.Config.User, s.db.Config.Password = role, pgPassword
	proxy := s3test.NewFaultProxy(t, s.s3.Endpoint)
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		if strings.HasSuffix(r.URL.Path, "/card2.jpg") {
			return s3test.Status(http.StatusForbidden, "AccessDenied")
		}
		return s3test.Pass()
	})
	s.srcURL = proxy.URL
	s.writeConfig()

	var outputs []string
	runAll := func(want int, args ...string) {
		t.Helper()
		for _, format := range []string{"console", "json"} {
			full := append([]string{"--log-format", format, "--log-level", "debug"}, args...)
			r := s.run(full...)
			if r.code != want {
				t.Fatalf("%s: %s", strings.Join(full, " "), r)
			}
			outputs = append(outputs, r.stdout, r.stderr)
		}
	}
	runAll(exitOK, "plan")
	runAll(exitOK, "copy", "--dry-run")
	r := s.run("copy")
	if r.code != exitFailed {
		t.Fatalf("copy: %s", r)
	}
	outputs = append(outputs, r.stdout, r.stderr)
	runAll(exitFailed, "copy", "--resume")
	for _, format := range []string{"table", "csv", "json"} {
		runAll(exitOK, "report", "--format", format, "--status", "pending,done,failed,missing")
	}
	proxy.SetRule(nil)
	runAll(exitOK, "retry-failed")
	// Failures that carry connection details: a database that refuses the password, and
	// an S3 server that is not there.
	s.db.Config.Password = pgPassword + "-wrong"
	s.writeConfig()
	r = s.run("plan")
	if r.code != exitError {
		t.Fatalf("plan with a wrong password: %s", r)
	}
	outputs = append(outputs, r.stdout, r.stderr)

	for _, file := range []string{s.checkpoint, s.checkpoint + ".status.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(data))
		info, _ := os.Stat(file)
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(file), mode)
		}
	}

	all := strings.Join(outputs, "\n")
	if !strings.Contains(all, "card2.jpg") {
		t.Fatal("the outputs do not even name the failed object: the test looked at nothing")
	}
	for _, secret := range []string{s.s3.SecretKey, s.s3.AccessKey, pgPassword} {
		if i := strings.Index(all, secret); i >= 0 {
			t.Errorf("secret %q printed: …%s…", secret, all[max(0, i-80):min(len(all), i+len(secret)+20)])
		}
	}
	if bytes.Contains([]byte(all), []byte("Pg-Pass-7b1e9c")) {
		t.Error("part of the database password printed")
	}
}
