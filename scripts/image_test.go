package scripts

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3sync/s3sync/internal/testio"
)

// imageName is the name make image tags; deploy/ names the same (deploy/manifests_test.go).
const imageName = "ghcr.io/s3sync/s3sync"

// imageConfig is the part of `buildah inspect --type image` that the image must get right.
type imageConfig struct {
	FromImageID string
	OCIv1       struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User       string
			Entrypoint []string
			Cmd        []string
			WorkingDir string
			Env        []string
			Labels     map[string]string
		} `json:"config"`
	}
}

// buildah runs buildah with args and returns its trimmed stdout.
func buildah(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("buildah", args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(string(out))
}

// make image builds the image with buildah (installing it when missing), then the test checks
// what is in it and runs the binary in it as the image says: entrypoint, user, working folder.
// podman run is tried first; where the sandbox refuses it (crun may not set rlimits here), the
// image's root is mounted with buildah and the binary runs chrooted into it as the image's user.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		testio.Missing(t, "the image is built and run on linux")
	}
	if os.Geteuid() != 0 {
		// image.sh installs buildah as root, and the fallback run needs chroot.
		testio.Missing(t, "the image test needs root: it installs buildah and chroots into the image")
	}
	script, err := os.ReadFile(filepath.Join(root(t), "scripts", "image.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "IMAGE=${IMAGE:-"+imageName+"}") {
		t.Errorf("image.sh does not tag %s by default", imageName)
	}

	// A name of this run's own: make image's real tags are left alone, and concurrent runs
	// do not meet. A + in the version becomes - in the tag.
	name := fmt.Sprintf("localhost/s3sync-imagetest-%d", time.Now().UnixNano())
	const version, tag = "0.0.0-test+b1", "0.0.0-test-b1"
	start := time.Now()
	code, out := runScript(t, "image.sh", "IMAGE="+name, "VERSION="+version, "WORK="+t.TempDir())
	t.Logf("image.sh: %s", time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("image.sh: exit %d\n%s", code, out)
	}
	t.Cleanup(func() { exec.Command("buildah", "rmi", name+":"+tag, name+":latest").Run() })

	var img, latest []imageConfig
	if err := json.Unmarshal([]byte("["+buildah(t, "inspect", "--type", "image", name+":"+tag)+"]"), &img); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte("["+buildah(t, "inspect", "--type", "image", name+":latest")+"]"), &latest); err != nil {
		t.Fatal(err)
	}
	if img[0].FromImageID == "" || latest[0].FromImageID != img[0].FromImageID {
		t.Errorf(":%s is image %q, :latest is %q: want one image", tag, img[0].FromImageID, latest[0].FromImageID)
	}
	cfg := img[0].OCIv1.Config
	if cfg.User != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532", cfg.User)
	}
	if strings.Join(cfg.Entrypoint, " ") != "/s3sync" || len(cfg.Entrypoint) != 1 || len(cfg.Cmd) != 0 {
		t.Errorf("Entrypoint %q, Cmd %q: want [\"/s3sync\"] and none", cfg.Entrypoint, cfg.Cmd)
	}
	if cfg.WorkingDir != "/data" {
		t.Errorf("WorkingDir = %q, want /data", cfg.WorkingDir)
	}
	if got := cfg.Labels["org.opencontainers.image.version"]; got != version {
		t.Errorf("version label %q, want %q", got, version)
	}
	if a, o := img[0].OCIv1.Architecture, img[0].OCIv1.OS; a != runtime.GOARCH || o != "linux" {
		t.Errorf("image platform %s/%s", o, a)
	}

	// The image's files: exactly these, so no shell and nothing else a shell would need.
	ctr := fmt.Sprintf("s3sync-imagetest-%d", time.Now().UnixNano())
	buildah(t, "from", "--pull=never", "--name", ctr, name+":"+tag)
	t.Cleanup(func() { exec.Command("buildah", "rm", ctr).Run() })
	mnt := buildah(t, "mount", ctr)
	t.Cleanup(func() { exec.Command("buildah", "umount", ctr).Run() })
	var files []string
	err = filepath.WalkDir(mnt, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(mnt, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		files = append(files, fmt.Sprintf("%s %v %d:%d", "/"+strings.TrimPrefix(rel, "."), info.Mode(), st.Uid, st.Gid))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	want := []string{
		"/ dr-xr-xr-x 0:0", // buildah's mode for the root of an image from scratch
		"/data drwxr-xr-x 65532:65532",
		"/etc drwxr-xr-x 0:0",
		"/etc/group -rw-r--r-- 0:0",
		"/etc/passwd -rw-r--r-- 0:0",
		"/etc/ssl drwxr-xr-x 0:0",
		"/etc/ssl/certs drwxr-xr-x 0:0",
		"/etc/ssl/certs/ca-certificates.crt -rw-r--r-- 0:0",
		"/s3sync -rwxr-xr-x 0:0",
	}
	if strings.Join(files, "\n") != strings.Join(want, "\n") {
		// The root's own mode varies between builders; everything else must match.
		if len(files) != len(want) || strings.Join(files[1:], "\n") != strings.Join(want[1:], "\n") {
			t.Errorf("the image holds\n%s\nwant\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
		}
	}
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/env"} {
		if _, err := os.Lstat(filepath.Join(mnt, sh)); err == nil {
			t.Errorf("the image has %s", sh)
		}
	}
	assertStatic(t, filepath.Join(mnt, "s3sync"))
	passwd, _ := os.ReadFile(filepath.Join(mnt, "etc", "passwd"))
	if !regexp.MustCompile(`(?m)^s3sync:x:65532:65532:[^:]*:/data:/sbin/nologin$`).Match(passwd) {
		t.Errorf("/etc/passwd has no line for 65532: %q", passwd)
	}
	group, _ := os.ReadFile(filepath.Join(mnt, "etc", "group"))
	if !regexp.MustCompile(`(?m)^s3sync:x:65532:$`).Match(group) {
		t.Errorf("/etc/group has no line for 65532: %q", group)
	}
	pem, _ := os.ReadFile(filepath.Join(mnt, "etc", "ssl", "certs", "ca-certificates.crt"))
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt holds no certificate")
	}

	// The binary, run as the image says.
	run := imageRunner(t, name+":"+tag, mnt, cfg.User, cfg.WorkingDir, cfg.Env, cfg.Entrypoint)
	if code, out := run("--version"); code != 0 || !versionLineRE(t, version).MatchString(out) {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	if code, out := run("check", "--help"); code != 0 || !strings.Contains(out, "s3sync check") {
		t.Errorf("check --help: exit %d\n%s", code, out)
	}
	// The user can write its working folder, and nothing else.
	if code, out := run("--log-file", "/data/s3sync.log", "version"); code != 0 {
		t.Errorf("--log-file /data/s3sync.log: exit %d\n%s", code, out)
	}
	if code, out := run("--log-file", "/etc/s3sync.log", "version"); code != 2 || !strings.Contains(out, "permission denied") {
		t.Errorf("--log-file /etc/s3sync.log: exit %d (want 2, permission denied)\n%s", code, out)
	}
	// Without a config, the default path is the working folder's private/config.ini.
	if code, out := run("plan"); code != 2 || !strings.Contains(out, "private/config.ini") {
		t.Errorf("plan without config: exit %d\n%s", code, out)
	}
}

// imageRunner returns how to run the image's entrypoint with arguments: podman run when this
// machine lets it start a container, else a chroot into the mounted image root mnt as the
// image's user, in its working folder, with its environment. It returns the exit code and the
// output (stdout and stderr).
func imageRunner(t *testing.T, ref, mnt, user, workdir string, env, entrypoint []string) func(args ...string) (int, string) {
	t.Helper()
	podman := func(args ...string) (int, string, error) {
		cmd := exec.Command("podman", append([]string{"run", "--rm", "--network", "none", "--pull", "never", ref}, args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out), nil
		}
		return 0, string(out), err
	}
	if _, err := exec.LookPath("podman"); err == nil {
		code, out, err := podman("version")
		if err == nil && code == 0 && strings.HasPrefix(out, "s3sync ") {
			t.Log("running the image with podman run")
			return func(args ...string) (int, string) {
				code, out, err := podman(args...)
				if err != nil {
					t.Fatalf("podman run: %v", err)
				}
				return code, out
			}
		}
		t.Logf("podman run does not start a container here (exit %d: %s); running the binary chrooted into the mounted image instead",
			code, strings.TrimSpace(out))
	} else {
		t.Log("no podman: running the binary chrooted into the mounted image")
	}
	uid, gid, ok := strings.Cut(user, ":")
	u, err1 := strconv.ParseUint(uid, 10, 32)
	g, err2 := strconv.ParseUint(gid, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("the image's user %q is not numeric uid:gid", user)
	}
	return func(args ...string) (int, string) {
		cmd := exec.Command(entrypoint[0], append(entrypoint[1:], args...)...)
		cmd.Dir = workdir // applied inside the chroot
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     mnt,
			Credential: &syscall.Credential{Uid: uint32(u), Gid: uint32(g)},
		}
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatalf("chroot %s %s: %v", mnt, entrypoint[0], err)
		}
		return 0, out.String()
	}
}
