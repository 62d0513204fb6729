package clustertest

import "syscall"

// childAttr makes the kernel kill a child when the test binary dies (a
// panic, a -timeout), so that no nats-server or ticketd outlives it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
