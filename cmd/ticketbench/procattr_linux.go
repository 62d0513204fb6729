package main

import "syscall"

// childAttr makes the kernel kill a child (ticketd, go build) when
// ticketbench dies, even by SIGKILL, so that none outlives it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
