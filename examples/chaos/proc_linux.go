package main

import "syscall"

// childAttr makes the kernel SIGKILL a child when the harness dies, even by
// SIGKILL, so a crashed harness leaves no redis-server or worker behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
