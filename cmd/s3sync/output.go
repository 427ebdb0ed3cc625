package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// protectedFile is a file an --output must never replace, and what to call it.
type protectedFile struct {
	path, what string
}

// protectedFiles are the files of a run that --output must not name: each checkpoint and its
// status file, the config file and the log file.
func (g *globals) protectedFiles(checkpoints ...string) []protectedFile {
	var out []protectedFile
	for _, cp := range checkpoints {
		out = append(out, protectedFile{cp, "the checkpoint " + cp},
			protectedFile{cp + ".status.json", "the status file of checkpoint " + cp})
	}
	if path, _ := configPath(g.configFlag, g.getenv); path != "" {
		out = append(out, protectedFile{path, "the config file " + path})
	}
	if g.logFile != nil {
		out = append(out, protectedFile{g.logFile.Name(), "the log file " + g.logFile.Name()})
	}
	return out
}

// checkOutput refuses (exit 2) an --output that is one of the protected files, by name or,
// when both exist, as the same file (a link, another spelling), or that is any s3sync
// checkpoint (a bbolt file, such as another shard's): writing the report there would destroy
// it, and truncating a checkpoint a copy has open makes the copy hang.
func checkOutput(output string, protected []protectedFile) error {
	if output == "" {
		return nil
	}
	refuse := func(what string) error {
		return usageErrorf("--output "+shellQuote(filepath.Join(filepath.Dir(output), "report.csv")),
			"--output %s is %s: writing the report there would destroy it; choose another file", output, what)
	}
	target, _ := resolveOutput(output)
	for _, p := range protected {
		if p.path != "" && sameFile(output, target, p.path) {
			return refuse(p.what)
		}
	}
	if isCheckpointFile(target) {
		return refuse("an s3sync checkpoint")
	}
	return nil
}

// sameFile reports whether output (resolved to target) and path name the same file: the same
// path once symlinks are resolved, or the same inode when both exist.
func sameFile(output, target, path string) bool {
	other, _ := resolveOutput(path)
	if target == other {
		return true
	}
	a, errA := os.Stat(output)
	b, errB := os.Stat(path)
	return errA == nil && errB == nil && os.SameFile(a, b)
}

// resolveOutput returns the absolute path name designates once every symlink on the way is
// followed, also when the last link dangles (the file it would create). special is true when
// the way passes through /dev or /proc (/dev/stdout, /proc/self/fd/1): such a name is written
// in place, never replaced.
func resolveOutput(name string) (path string, special bool) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return filepath.Clean(name), false
	}
	inSpecial := func(p string) bool {
		return p == "/dev" || p == "/proc" || strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/proc/")
	}
	special = inSpecial(abs)
	for i := 0; i < 40; i++ { // as many links as the kernel follows
		if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			abs = filepath.Join(dir, filepath.Base(abs))
		}
		special = special || inSpecial(abs)
		fi, err := os.Lstat(abs)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		link, err := os.Readlink(abs)
		if err != nil {
			break
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(abs), link)
		}
		abs = filepath.Clean(link)
	}
	return abs, special || inSpecial(abs)
}

// bboltMagic is the magic number of a bbolt file's meta page (0xED0CDAED, little-endian),
// after the 16-byte page header.
var bboltMagic = []byte{0xED, 0xDA, 0x0C, 0xED}

// isCheckpointFile reports whether path is an existing bbolt file, as every checkpoint is.
func isCheckpointFile(path string) bool {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return false // and never open a FIFO, which would wait for a writer
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [20]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return false
	}
	return bytes.Equal(head[16:20], bboltMagic)
}

// outputFile is where a command writes its --output: a temporary file beside the destination,
// renamed over it by commit, so that a run that fails or is interrupted leaves whatever was
// there untouched. A destination that exists and is not a regular file (/dev/null, a FIFO,
// /dev/stdout) is written in place instead.
type outputFile struct {
	*os.File
	path string // the destination, symlinks resolved
	tmp  string // the temporary file, "" when written in place
	done bool   // committed or discarded
}

// createOutput opens the file --output name will become. A new file gets perm (less the
// umask); one that exists keeps its permissions.
func createOutput(name string, perm os.FileMode) (*outputFile, error) {
	fail := func(err error) (*outputFile, error) { return nil, usageErrorf("", "--output %s: %v", name, err) }
	path, special := resolveOutput(name)
	fi, err := os.Stat(path)
	if err != nil && special {
		// /dev/stdout to a pipe: /proc's link names no path ("pipe:[…]"), but the name opens.
		fi, err = os.Stat(name)
	}
	switch {
	case err == nil && fi.IsDir():
		return fail(errors.New("is a directory"))
	case err == nil && !fi.Mode().IsRegular(), err == nil && special:
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return fail(err)
		}
		return &outputFile{File: f, path: path}, nil
	case err == nil:
		perm = fi.Mode().Perm()
	case !errors.Is(err, os.ErrNotExist):
		return fail(err)
	}
	dir, base := filepath.Split(path)
	for range 100 {
		var rnd [6]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return fail(err)
		}
		tmp := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return fail(err)
		}
		if fi != nil {
			_ = f.Chmod(perm) // the umask does not apply to a file that is replaced
		}
		return &outputFile{File: f, path: path, tmp: tmp}, nil
	}
	return fail(errors.New("no free temporary file name"))
}

// commit puts the written output in place.
func (o *outputFile) commit() error {
	if o.done {
		return nil
	}
	o.done = true
	if o.tmp == "" {
		return o.Close()
	}
	err := o.Sync()
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.tmp, o.path)
	}
	if err != nil {
		os.Remove(o.tmp)
		return fmt.Errorf("--output %s: %w", o.path, err)
	}
	return nil
}

// discard drops the output unless it was committed; the destination stays as it was.
func (o *outputFile) discard() {
	if o == nil || o.done {
		return
	}
	o.done = true
	o.Close()
	if o.tmp != "" {
		os.Remove(o.tmp)
	}
}
