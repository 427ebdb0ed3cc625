package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// runArgs runs s3sync in-process with args and returns the exit code, stdout and stderr.
func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"s3sync"}, args...), env{stdout: &out, stderr: &errb, getenv: noEnv})
	return code, out.String(), errb.String()
}

// versionRE is the one line of `s3sync version`; the commit is there when the build recorded one.
func versionRE(ver string) *regexp.Regexp {
	return regexp.MustCompile(`^s3sync ` + regexp.QuoteMeta(ver) + ` \((commit [0-9a-f]{7}(-dirty)?, )?go1[.0-9a-z-]* ` +
		runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`)
}

func TestVersionCommandAndFlag(t *testing.T) {
	for _, stamped := range []string{"", "1.2.3"} {
		want := "dev"
		if stamped != "" {
			defer func(old string) { version = old }(version)
			version, want = stamped, stamped
		}
		code, cmdOut, errOut := runArgs(t, "version")
		if code != exitOK || errOut != "" || !versionRE(want).MatchString(cmdOut) {
			t.Fatalf("s3sync version: exit %d, stdout %q, stderr %q", code, cmdOut, errOut)
		}
		for _, flag := range []string{"--version", "-v"} {
			code, out, errOut := runArgs(t, flag)
			if code != exitOK || errOut != "" || out != cmdOut {
				t.Errorf("s3sync %s: exit %d, stdout %q (want %q), stderr %q", flag, code, out, cmdOut, errOut)
			}
		}
		// The global flags that every command takes do not get in the way.
		if code, out, _ := runArgs(t, "--log-format", "json", "version"); code != exitOK || out != cmdOut {
			t.Errorf("s3sync --log-format json version: exit %d, %q", code, out)
		}
	}
	if code, _, errOut := runArgs(t, "version", "extra"); code != exitUsage || !strings.Contains(errOut, "no arguments") {
		t.Errorf("s3sync version extra: exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := runArgs(t, "--help"); code != exitOK || !strings.Contains(out, "--version") || !strings.Contains(out, "version ") {
		t.Errorf("s3sync --help does not list --version and the version command: exit %d\n%s", code, out)
	}
}

// A real process prints the same line for both forms. (Whether it names a commit depends on
// -buildvcs, which GOFLAGS may turn off; the release test checks a stamped build.)
func TestVersionOfBuiltBinary(t *testing.T) {
	out, err := exec.Command(binary, "--version").Output()
	if err != nil {
		t.Fatalf("s3sync --version: %v", err)
	}
	if !versionRE("dev").Match(out) {
		t.Errorf("s3sync --version = %q", out)
	}
	cmdOut, err := exec.Command(binary, "version").Output()
	if err != nil || string(cmdOut) != string(out) {
		t.Errorf("s3sync version = %q, %v; --version = %q", cmdOut, err, out)
	}
}

func TestIsRelease(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.2.3": true, "v0.4.0-rc.1": true, "": false, "(devel)": false,
		"v0.0.0-20260102150405-abcdef123456":       false,
		"v1.2.4-0.20260102150405-abcdef123456":     false,
		"v0.0.0-20260102150405-abcdef123456+dirty": false,
		"v1.2.3+dirty": false,
	} {
		if isRelease(v) != want {
			t.Errorf("isRelease(%q) = %v", v, !want)
		}
	}
}
