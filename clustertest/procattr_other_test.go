//go:build !linux

package clustertest

import "syscall"

// childAttr: only Linux can tie a child's life to its parent's; elsewhere
// the tests' cleanups alone kill the children.
func childAttr() *syscall.SysProcAttr { return nil }
