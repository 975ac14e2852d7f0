package edge

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort lets a second process bind the same address while the first
// drains (a zero-downtime restart): the kernel spreads new connections
// across the listeners, and once the old one closes all go to the new one.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
