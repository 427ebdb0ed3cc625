package main

import (
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relationFiles returns the files of media_attachments and its indexes in the server's data
// directory: every 1 GiB segment and the free space and visibility maps. It needs the server
// on this machine and the right to read its files (root, or the postgres user).
func (b *bench) relationFiles() ([]string, error) {
	var dir string
	if err := b.db.QueryRow(b.ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return nil, err
	}
	rows, err := b.db.Query(b.ctx, `SELECT pg_relation_filepath(c.oid) FROM pg_class c
		WHERE c.oid = 'media_attachments'::regclass
		   OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'media_attachments'::regclass)`)
	if err != nil {
		return nil, err
	}
	var rels []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		rels = append(rels, filepath.Join(dir, p))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var files []string
	for _, rel := range rels {
		for _, f := range []string{rel, rel + "_fsm", rel + "_vm"} {
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
			}
		}
		for seg := 1; ; seg++ {
			f := fmt.Sprintf("%s.%d", rel, seg)
			if _, err := os.Stat(f); err != nil {
				break
			}
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no files of media_attachments under %s", dir)
	}
	f, err := os.Open(files[0])
	if err != nil {
		return nil, err
	}
	f.Close()
	return files, nil
}

// evict writes the server's dirty pages (CHECKPOINT) and drops the table's and its indexes'
// pages from the kernel's page cache (posix_fadvise DONTNEED), so that the next scan reads
// them from the disk. PostgreSQL's own shared_buffers keep what they hold. It returns the
// bytes of those files in the page cache before and after.
func (b *bench) evict(files []string) (before, after int64) {
	b.exec("CHECKPOINT")
	before = resident(files)
	for _, name := range files {
		f, err := os.Open(name)
		must(err)
		must(unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
		f.Close()
	}
	return before, resident(files)
}

// resident returns the bytes of files held in the page cache (mincore).
func resident(files []string) int64 {
	page := int64(os.Getpagesize())
	var n int64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || fi.Size() == 0 {
			f.Close()
			continue
		}
		m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
		f.Close()
		if err != nil {
			continue
		}
		vec := make([]byte, (fi.Size()+page-1)/page)
		if mincore(m, vec) == nil {
			for _, v := range vec {
				if v&1 != 0 {
					n += page
				}
			}
		}
		unix.Munmap(m)
	}
	return n
}

// mincore is mincore(2), which x/sys/unix does not wrap on Linux.
func mincore(b, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return e
	}
	return nil
}

// fileBytes returns the total size of files.
func fileBytes(files []string) int64 {
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}
