package main

import (
	"bytes"
	"errors"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// serveEpollMap answers the links of a map from one epoll event loop per
// CPU, each on its own SO_REUSEPORT socket and OS thread, the way nginx's
// workers do, parsing only the request line: the floor of an event-loop Go
// server (H0P_BENCH_EPOLL=1 runs it in place of the fasthttp floor). Not a
// server: keep-alive GETs of a path only, no timeouts, no limits.
func serveEpollMap(links map[string][]byte, addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	var date atomic.Pointer[[]byte]
	setDate := func() {
		d := []byte(time.Now().UTC().Format(time.RFC1123))
		d = append(d[:len(d)-3], "GMT"...)
		date.Store(&d)
	}
	setDate()
	go func() {
		for range time.Tick(time.Second) {
			setDate()
		}
	}()
	errc := make(chan error, runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		go func() {
			runtime.LockOSThread()
			errc <- epollLoop(ap, links, &date)
		}()
	}
	return <-errc
}

type epollConn struct{ in, out []byte }

func epollLoop(ap netip.AddrPort, links map[string][]byte, date *atomic.Pointer[[]byte]) error {
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
	if err := syscall.Bind(lfd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return err
	}
	if err := syscall.Listen(lfd, 1024); err != nil {
		return err
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, lfd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(lfd)}); err != nil {
		return err
	}
	conns := map[int32]*epollConn{}
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 16<<10)
	closeConn := func(fd int32) {
		syscall.Close(int(fd))
		delete(conns, fd)
	}
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == lfd {
				for {
					fd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
					if err != nil {
						break
					}
					syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
					syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
					conns[int32(fd)] = &epollConn{}
				}
				continue
			}
			c := conns[ev.Fd]
			if c == nil {
				continue
			}
			r, err := syscall.Read(int(ev.Fd), buf)
			if r <= 0 {
				if !errors.Is(err, syscall.EAGAIN) {
					closeConn(ev.Fd)
				}
				continue
			}
			c.in = append(c.in, buf[:r]...)
			c.out = c.out[:0]
			for {
				end := bytes.Index(c.in, []byte("\r\n\r\n"))
				if end < 0 {
					break
				}
				c.out = respond(c.out, c.in[:end], links, *date.Load())
				c.in = c.in[end+4:]
			}
			c.in = append(c.in[:0], c.in...)
			for out := c.out; len(out) > 0; {
				w, err := syscall.Write(int(ev.Fd), out)
				if err != nil && !errors.Is(err, syscall.EAGAIN) {
					closeConn(ev.Fd)
					break
				}
				if w > 0 {
					out = out[w:]
				}
			}
		}
	}
}

func respond(out, req []byte, links map[string][]byte, date []byte) []byte {
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	_, target, _ := bytes.Cut(line, []byte(" "))
	path, _, _ := bytes.Cut(target, []byte(" "))
	if to, ok := links[string(path)]; ok {
		out = append(out, "HTTP/1.1 302 Found\r\nServer: epoll\r\nDate: "...)
		out = append(out, date...)
		out = append(out, "\r\nContent-Length: 0\r\nLocation: "...)
		out = append(out, to...)
		return append(out, "\r\n\r\n"...)
	}
	out = append(out, "HTTP/1.1 404 Not Found\r\nServer: epoll\r\nDate: "...)
	out = append(out, date...)
	return append(out, "\r\nContent-Length: 0\r\n\r\n"...)
}
