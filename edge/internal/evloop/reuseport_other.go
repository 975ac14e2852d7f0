//go:build !linux

package evloop

import "syscall"

// ReusePort is Linux-only; elsewhere a restart must stop the old process
// before the new one binds.
func ReusePort(_, _ string, _ syscall.RawConn) error { return nil }
