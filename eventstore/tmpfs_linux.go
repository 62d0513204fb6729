package eventstore

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// isTmpfs reports whether dir is on tmpfs.
func isTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}

// ownPrivateDir reports whether dir is a directory, not a link, owned by
// this process's user and closed to everyone else.
func ownPrivateDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
