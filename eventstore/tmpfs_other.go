//go:build !linux

package eventstore

import "os"

// isTmpfs reports whether dir is on tmpfs; only Linux is checked.
func isTmpfs(string) bool { return false }

// ownPrivateDir reports whether dir is a directory, not a link, closed to
// everyone else; the owner is checked on Linux only.
func ownPrivateDir(dir string) bool {
	fi, err := os.Lstat(dir)
	return err == nil && fi.IsDir() && fi.Mode().Perm()&0o077 == 0
}
