//go:build !linux

package main

import "syscall"

// childAttr: outside Linux there is no parent-death signal; the harness
// kills its children on every exit path it controls.
func childAttr() *syscall.SysProcAttr { return nil }
