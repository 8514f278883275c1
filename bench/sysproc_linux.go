package main

import "syscall"

// childProcAttr makes the kernel kill caddy if this command dies first, so
// an interrupted benchmark leaves no server holding the CPU.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
