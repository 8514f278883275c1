//go:build !linux

package main

import "syscall"

// childProcAttr has nothing to add outside Linux (where /proc, and so the
// CPU and memory figures, are missing anyway).
func childProcAttr() *syscall.SysProcAttr { return nil }
