//go:build !linux

package eventstore

// isTmpfs reports whether dir is on tmpfs; only Linux is checked.
func isTmpfs(string) bool { return false }
