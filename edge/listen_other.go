//go:build !linux

package edge

import "syscall"

// reusePort is Linux-only; elsewhere a restart must stop the old process
// before the new one binds.
func reusePort(_, _ string, _ syscall.RawConn) error { return nil }
