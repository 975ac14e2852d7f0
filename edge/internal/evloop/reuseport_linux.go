package evloop

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// ReusePort is a net.ListenConfig.Control that sets SO_REUSEPORT, as the
// loops' own sockets have it, for a server other than the loops: a second
// process can bind the same address while the first drains (a restart
// without downtime); the kernel spreads new connections across the
// listeners, and once the old one closes all go to the new one.
func ReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
