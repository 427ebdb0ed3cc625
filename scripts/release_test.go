// Package scripts holds the tests of the shell scripts beside them: make release
// (release.sh) and make image (image.sh). They build real binaries and a real image, and run
// them.
package scripts

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/internal/testio"
)

// root is the repository's top folder; tests run in scripts/.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// runScript runs scripts/<name> from the repository's top with the environment plus vars and
// returns its exit code and its output (stdout and stderr together).
func runScript(t *testing.T, name string, vars ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(root(t), "scripts", name))
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), vars...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return 0, string(out)
}

// assertStatic fails unless path is an ELF executable that needs no dynamic loader and no
// shared library, stripped of its symbol table (-s).
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: not static", path, p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v (%v)", path, libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s has a symbol table: not built with -ldflags -s", path)
	}
}

// versionLineRE is `s3sync --version` of a release build: a commit is recorded when the work
// tree is a git checkout.
func versionLineRE(t *testing.T, version string) *regexp.Regexp {
	commit := `(commit [0-9a-f]{7}(-dirty)?, )?`
	if err := exec.Command("git", "-C", root(t), "rev-parse", "--git-dir").Run(); err == nil {
		commit = `commit [0-9a-f]{7}(-dirty)?, `
	}
	return regexp.MustCompile(`^s3sync ` + regexp.QuoteMeta(version) + ` \(` + commit + `go1[.0-9a-z-]* linux/` + runtime.GOARCH + `\)\n$`)
}

// make release for this machine's target only: a static, stripped, path-free binary whose
// --version names the stamped version, and a SHA256SUMS that sha256sum -c accepts.
func TestReleaseBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		testio.Missing(t, "the release test runs the linux binary")
	}
	dist := t.TempDir()
	const version = "1.2.3-rc.1"
	code, out := runScript(t, "release.sh", "VERSION="+version, "TARGETS=linux/"+runtime.GOARCH, "DIST="+dist)
	if code != 0 {
		t.Fatalf("release.sh: exit %d\n%s", code, out)
	}
	name := "s3sync_" + version + "_linux_" + runtime.GOARCH
	entries, _ := os.ReadDir(dist)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "SHA256SUMS "+name {
		t.Fatalf("dist holds %v, want SHA256SUMS and %s", names, name)
	}
	bin := filepath.Join(dist, name)
	body, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x  %s\n", sha256.Sum256(body), name); string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS") // coreutils: every machine that runs make release has it
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable: %v", bin, err)
	}
	assertStatic(t, bin)
	if bytes.Contains(body, []byte(root(t)+"/")) {
		t.Errorf("%s holds the build's path %s: not built with -trimpath", name, root(t))
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		got, err := exec.Command(bin, args...).Output()
		if err != nil || !versionLineRE(t, version).Match(got) {
			t.Errorf("%s %s = %q, %v", name, args[0], got, err)
		}
	}
}

// Without VERSION, the name and the stamp come from git describe (or "dev"), and they agree.
func TestReleaseDefaultVersion(t *testing.T) {
	if runtime.GOOS != "linux" {
		testio.Missing(t, "the release test runs the linux binary")
	}
	dist := t.TempDir()
	code, out := runScript(t, "release.sh", "VERSION=", "TARGETS=linux/"+runtime.GOARCH, "DIST="+dist)
	if code != 0 {
		t.Fatalf("release.sh: exit %d\n%s", code, out)
	}
	bins, _ := filepath.Glob(filepath.Join(dist, "s3sync_*_linux_"+runtime.GOARCH))
	if len(bins) != 1 {
		t.Fatalf("dist holds %v", bins)
	}
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(bins[0]), "s3sync_"), "_linux_"+runtime.GOARCH)
	if !regexp.MustCompile(`^(dev|[0-9a-f]{7,}(-dirty)?|v?[0-9].*)$`).MatchString(version) {
		t.Errorf("default version %q is neither git describe's nor dev", version)
	}
	got, err := exec.Command(bins[0], "--version").Output()
	if err != nil || !versionLineRE(t, version).Match(got) {
		t.Errorf("%s --version = %q, %v", bins[0], got, err)
	}
}

// A version that cannot be a file name or a tag, or a target without its architecture, stops
// the script before anything is built.
func TestReleaseRefusesBadSettings(t *testing.T) {
	for _, vars := range [][]string{
		{"VERSION=1.2 3", "TARGETS=linux/amd64"},
		{"VERSION=../1.2.3", "TARGETS=linux/amd64"},
		{"VERSION=-x", "TARGETS=linux/amd64"},
		{"VERSION=1.2.3", "TARGETS=linux"},
	} {
		dist := t.TempDir()
		code, out := runScript(t, "release.sh", append(vars, "DIST="+dist)...)
		if left, _ := filepath.Glob(filepath.Join(dist, "*")); code != 2 || len(left) > 0 {
			t.Errorf("%v: exit %d, left %v\n%s", vars, code, left, out)
		}
	}
}
