package evloop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"github.com/h0p/h0p/edge/internal/framing"
)

// Server is the event loops serving one address.
// Outside the loops' goroutines it is only started, stopped and closed.
type Server struct {
	handler  fasthttp.RequestHandler
	fast     FastPath // nil: every request goes to handler
	logger   fasthttp.Logger
	name     []byte
	maxConns int // per loop
	loops    []*eventLoop
	addr     net.Addr
	stopping atomic.Bool
	offLoop  sync.WaitGroup // goroutines answering requests off the loops
	// timeouts (loopReadTimeout etc.; tests shorten them)
	readTimeout, writeTimeout, idleTimeout time.Duration
}

const (
	loopReadTimeout  = 10 * time.Second
	loopWriteTimeout = 10 * time.Second
	loopIdleTimeout  = 60 * time.Second
	// loopFirstRequest is how long a stopping loop waits for the first
	// request of a connection that has sent nothing (see drain).
	loopFirstRequest = time.Second
	loopSpin         = 1 // ms an idle loop sleeps in a raw epoll_wait before it blocks in one the runtime sees (wait)
)

// Supported reports whether this system has the event loops (Linux: epoll).
const Supported = true

// Listen opens a listening socket on cfg.Addr for each of cfg.Loops loops
// (all on the port the first one got when the address's port is 0); Serve
// runs them.
//
// Limits, as fasthttp's server has them: a head up to framing.MaxHeader, a
// body up to framing.MaxBody (by Content-Length only: a chunked body gets
// 411); 10 s for a request to arrive once begun and for a response to
// leave, 60 s idle between requests; cfg.MaxConns connections across the
// loops, beyond which a new one gets a 503 and is closed. An HTTP/1.1
// request with Expect: 100-continue gets 100 Continue once its head is
// framed (413 instead for a body over the limit).
func Listen(cfg Config) (*Server, error) {
	addr, n := cfg.Addr, max(1, cfg.Loops)
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen edge on %s: %w", addr, err)
	}
	e := &Server{handler: cfg.Handler, fast: cfg.Fast, logger: cfg.Logger, name: []byte(cfg.Name), maxConns: max(1, cfg.MaxConns/n),
		readTimeout: loopReadTimeout, writeTimeout: loopWriteTimeout, idleTimeout: loopIdleTimeout}
	for range n {
		l, err := newEventLoop(e, ta)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("listen edge on %s: %w", addr, err)
		}
		e.loops = append(e.loops, l)
		if ta.Port == 0 {
			sa, err := unix.Getsockname(l.lfd)
			if err != nil {
				e.Close()
				return nil, err
			}
			ta.Port = sockaddrTCP(sa).Port
		}
	}
	e.addr = ta
	return e, nil
}

// Addr is the address the loops listen on.
func (e *Server) Addr() net.Addr { return e.addr }

// Loops is how many event loops serve.
func (e *Server) Loops() int { return len(e.loops) }

// Serve runs the loops until ctx ends, then drains: each loop takes the
// connections the kernel queued for it, closes its listener, answers what
// is in flight or already sent on a kept-alive connection with
// Connection: close, waits up to a second from its accept for the first
// request of a connection still silent (closing it would fail a request no
// client retries), and closes idle kept-alive connections, whose clients
// retry elsewhere. After drain whatever is left is closed. Call Close after
// it returns.
func (e *Server) Serve(ctx context.Context, drain time.Duration) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(e.loops))
	for _, l := range e.loops {
		wg.Go(func() {
			defer close(l.exited)
			if err := l.run(); err != nil {
				errc <- err
			}
		})
	}
	// The loops sweep timeouts (and, stopping, look at their connections
	// again) when woken: once a second at least.
	ticking, ticked := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ticked)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				for _, l := range e.loops {
					l.wakeUp()
				}
			case <-ticking:
				return
			}
		}
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	e.stopping.Store(true)
	for _, l := range e.loops {
		l.wakeUp()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		for _, l := range e.loops {
			l.force.Store(true)
			l.wakeUp()
		}
		<-done
		if err == nil {
			err = fmt.Errorf("drain edge: connections still open after %v", drain)
		}
	}
	e.offLoop.Wait()
	// Nothing may wake a loop once its eventfd is closed: the number may
	// be another file's by then.
	close(ticking)
	<-ticked
	e.Close()
	return err
}

// Close releases the sockets. Call it after Serve returned, or instead of
// Serve.
func (e *Server) Close() {
	for _, l := range e.loops {
		l.close()
	}
}

type eventLoop struct {
	e     *Server
	lfd   int // -1 once closed
	ep    int
	wake  int // eventfd: goroutines' answers are ready, or stopping
	force atomic.Bool
	conns map[int32]*Conn
	// open counts conns and those handed to this loop not yet taken
	// (handed): what another loop's accept balances on.
	open     atomic.Int32
	handedMu sync.Mutex
	handed   []handedConn
	done     bool // under handedMu: drained, takes no more connections

	acceptPaused bool          // the listener is out of epoll until the next sweep
	exited       chan struct{} // closed when run returns

	answers chan *loopAnswer // from goroutines handling slow requests

	ctx     fasthttp.RequestCtx
	rd      bytes.Reader
	br      *bufio.Reader
	out     outBuffer
	bw      *bufio.Writer
	readBuf []byte
	now     time.Time
	date    []byte // now as an HTTP date (Date)
	dateSec int64
}

// Conn is a connection a loop serves. The fast path gets it with each
// request: its client's address (Peer), whether the server is stopping,
// the Date, and State, the fast path's own. It is also the net.Conn of the
// RequestCtx Handler gets, which shows only its addresses.
type Conn struct {
	// State is the fast path's own, for what it keeps between requests on
	// the connection; the loops never touch it.
	State any

	loop          *eventLoop
	fd            int32
	remote, local net.Addr
	peer          netip.Addr // remote's address
	in, out       []byte
	scan          framing.Scan // how far the head of the partly received request in was read
	continued     bool         // 100 Continue was sent for the partly received request
	closed        bool         // its fd is closed (the number may already be another's)
	busy          bool         // a goroutine is answering its request
	writing       bool         // out waits for the socket (EPOLLOUT)
	closeAfter    bool         // close once out is written
	used          bool         // a request came on it: idle now, it is a kept-alive connection
	events        uint32       // what epoll watches for it
	// reqStart is when the partly received request in began (zero: none),
	// writeStart when out began to wait, last the last answer or accept.
	reqStart, writeStart, last time.Time
}

// handedConn is a connection another loop accepted for this one.
type handedConn struct {
	fd int
	sa unix.Sockaddr
}

// loopAnswer is a response written off the loop.
type loopAnswer struct {
	c          *Conn
	out        []byte
	closeAfter bool
}

func newEventLoop(e *Server, ta *net.TCPAddr) (*eventLoop, error) {
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: ta.Port})
	if ip4 := ta.IP.To4(); ip4 != nil {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port, Addr: [4]byte(ip4)}
	} else if ta.IP != nil {
		sa.(*unix.SockaddrInet6).Addr = [16]byte(ta.IP.To16())
	}
	lfd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	l := &eventLoop{e: e, lfd: lfd, ep: -1, wake: -1, conns: map[int32]*Conn{}, answers: make(chan *loopAnswer, 1024),
		exited:  make(chan struct{}),
		readBuf: make([]byte, 16<<10)}
	l.br = bufio.NewReaderSize(&l.rd, framing.MaxHeader+framing.MaxBody)
	l.bw = bufio.NewWriterSize(&l.out, 4<<10)
	for _, opt := range [][2]int{{unix.SO_REUSEADDR, 1}, {unix.SO_REUSEPORT, 1}} {
		if err := unix.SetsockoptInt(lfd, unix.SOL_SOCKET, opt[0], opt[1]); err != nil {
			l.close()
			return nil, err
		}
	}
	if family == unix.AF_INET6 && ta.IP == nil { // ":port": both families, as net.Listen does
		unix.SetsockoptInt(lfd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	if err := unix.Bind(lfd, sa); err != nil {
		l.close()
		return nil, err
	}
	if err := unix.Listen(lfd, 4096); err != nil {
		l.close()
		return nil, err
	}
	if l.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		l.close()
		return nil, err
	}
	if l.wake, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		l.close()
		return nil, err
	}
	for _, fd := range []int{lfd, l.wake} {
		if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			l.close()
			return nil, err
		}
	}
	return l, nil
}

func (l *eventLoop) close() {
	for fd := range l.conns {
		unix.Close(int(fd))
	}
	clear(l.conns)
	l.handedMu.Lock()
	for _, h := range l.handed {
		unix.Close(h.fd)
	}
	l.handed, l.done = nil, true
	l.handedMu.Unlock()
	for _, fd := range []*int{&l.lfd, &l.ep, &l.wake} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

func (l *eventLoop) wakeUp() {
	var one = [8]byte{1}
	unix.Write(l.wake, one[:])
}

// run serves until the server stops and every connection is closed.
func (l *eventLoop) run() error {
	events := make([]unix.EpollEvent, 256)
	lastSweep := time.Now()
	for {
		n, err := l.wait(events)
		if err != nil {
			return err
		}
		l.now = time.Now()
		for _, ev := range events[:max(n, 0)] {
			switch fd := int(ev.Fd); {
			case fd == l.lfd:
				l.accept()
			case fd == l.wake:
				var b [8]byte
				unix.Read(l.wake, b[:])
				l.takeHanded()
				l.takeAnswers()
			default:
				c := l.conns[ev.Fd]
				if c == nil {
					continue
				}
				if ev.Events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.writing {
					l.flush(c)
					l.watch(c)
					continue
				}
				if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 && l.conns[ev.Fd] == c {
					l.read(c)
				}
			}
		}
		if l.e.stopping.Load() {
			if l.drain() {
				return nil
			}
		}
		if l.now.Sub(lastSweep) >= time.Second {
			lastSweep = l.now
			l.sweep()
		}
	}
}

func (l *eventLoop) accept() {
	for {
		fd, sa, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.ECONNABORTED) {
				// Out of fds or memory: the listener stays readable, so a
				// level-triggered loop would spin. Stop watching it until
				// the next sweep.
				unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, l.lfd, nil)
				l.acceptPaused = true
			}
			return
		}
		to := l.leastLoaded()
		if int(to.open.Load()) >= l.e.maxConns {
			unix.Write(fd, []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
			unix.Close(fd)
			continue
		}
		if to != l && to.hand(fd, sa) {
			continue
		}
		l.open.Add(1)
		l.add(fd, sa)
	}
}

// leastLoaded is the loop with the fewest connections, l on a tie. The
// kernel spreads connections over the loops' sockets by a hash of their
// addresses, which left one loop of two with 38 of wrk's 64 connections
// and the other 26: the first one's clients waited longer, and the edge's
// p99 with them (Envoy balances its listeners for the same reason).
// Balancing at accept costs a wake-up of the other loop per connection
// moved, nothing per request.
func (l *eventLoop) leastLoaded() *eventLoop {
	to, n := l, l.open.Load()
	for _, o := range l.e.loops {
		if m := o.open.Load(); m < n {
			to, n = o, m
		}
	}
	return to
}

// hand gives l a connection another loop accepted; it counts as open at
// once, so the next accept sees it. It reports false when l has drained.
func (l *eventLoop) hand(fd int, sa unix.Sockaddr) bool {
	l.handedMu.Lock()
	defer l.handedMu.Unlock()
	if l.done {
		return false
	}
	l.open.Add(1)
	l.handed = append(l.handed, handedConn{fd, sa})
	l.wakeUp()
	return true
}

// takeHanded watches the connections other loops handed to this one.
func (l *eventLoop) takeHanded() {
	l.handedMu.Lock()
	handed := l.handed
	l.handed = nil
	l.handedMu.Unlock()
	for _, h := range handed {
		l.add(h.fd, h.sa)
	}
}

// add watches a connection already counted in open.
func (l *eventLoop) add(fd int, sa unix.Sockaddr) {
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	remote := sockaddrTCP(sa)
	peer, _ := netip.AddrFromSlice(remote.IP)
	c := &Conn{loop: l, fd: int32(fd), remote: remote, peer: peer.Unmap(), local: l.e.addr, last: l.now, events: unix.EPOLLIN}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		unix.Close(fd)
		l.open.Add(-1)
		return
	}
	l.conns[c.fd] = c
}

// read takes what the connection sent and answers every complete request
// in it.
func (l *eventLoop) read(c *Conn) {
	n, err := rawRead(int(c.fd), l.readBuf)
	if n <= 0 {
		if n == 0 || !errors.Is(err, unix.EAGAIN) {
			l.closeConn(c)
		}
		return
	}
	if len(c.in) == 0 {
		c.reqStart = l.now // a request begins: the read timeout runs from here
	}
	c.in = append(c.in, l.readBuf[:n]...)
	l.serveBuffered(c)
}

// serveBuffered answers the complete requests buffered on c, in order,
// until one goes to a goroutine or the socket stops taking the answers.
func (l *eventLoop) serveBuffered(c *Conn) {
	off := 0
	for !c.closed && !c.busy && !c.writing && !c.closeAfter {
		skip, scan := framing.EmptyLines(c.in[off:], c.scan)
		off += skip
		size, status, scan := framing.RequestSize(c.in[off:], scan)
		if status != 0 {
			l.refuse(c, status)
			return
		}
		if size == 0 {
			c.scan = scan
			if end := scan.HeadLen(); end > 0 && !c.continued && framing.ExpectsContinue(c.in[off:off+end]) {
				c.continued = true
				c.out = append(c.out, "HTTP/1.1 100 Continue\r\n\r\n"...)
				l.flush(c)
			}
			break
		}
		c.scan, c.continued = framing.Scan{}, false
		if l.e.fast != nil {
			if out, answered, closeAfter := l.e.fast(c.out, c.in[off:off+size], c); answered {
				off += size
				c.last, c.used = l.now, true
				c.out, c.closeAfter = out, closeAfter
				l.flush(c)
				continue
			}
		}
		ctx := &l.ctx
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Init2(c, l.e.logger, false)
		l.rd.Reset(c.in[off : off+size])
		l.br.Reset(&l.rd)
		err := ctx.Request.ReadLimitBody(l.br, framing.MaxBody)
		if err == nil && ctx.Request.MayContinue() { // the body is framed already
			err = ctx.Request.ContinueReadBody(l.br, framing.MaxBody)
		}
		off += size
		// fasthttp must see exactly the framed request: bytes it left would
		// be a request this loop never answers while a proxy in front
		// counted it (framing and fasthttp are two readers of a head).
		if err != nil || l.br.Buffered()+l.rd.Len() != 0 {
			l.refuse(c, fasthttp.StatusBadRequest)
			return
		}
		c.last, c.used = l.now, true
		if !ctx.IsGet() && !ctx.IsHead() {
			l.answerOffLoop(c)
			break
		}
		l.e.handler(ctx)
		c.closeAfter = l.finish(ctx)
		l.out.b = c.out
		ctx.Response.Write(l.bw)
		l.bw.Flush()
		c.out = l.out.b
		l.flush(c)
	}
	if c.closed {
		return
	}
	if off > 0 {
		c.in = c.in[:copy(c.in, c.in[off:])]
		if len(c.in) > 0 {
			c.reqStart = l.now // the next request, partly received
		}
	}
	// An idle connection keeps a request's worth of buffer, not a large
	// one's.
	if len(c.in) == 0 && cap(c.in) > 4<<10 {
		c.in = nil
	}
	if len(c.out) == 0 && cap(c.out) > 4<<10 {
		c.out = nil
	}
	l.watch(c)
}

// watch sets what epoll reports for c: nothing while a goroutine answers
// (more requests wait in the socket), writability while an answer waits for
// it, else readability.
func (l *eventLoop) watch(c *Conn) {
	if c.closed {
		return
	}
	var ev uint32 = unix.EPOLLIN
	switch {
	case c.writing:
		ev = unix.EPOLLOUT
	case c.busy:
		ev = 0
	}
	if ev != c.events {
		c.events = ev
		unix.EpollCtl(l.ep, unix.EPOLL_CTL_MOD, int(c.fd), &unix.EpollEvent{Events: ev, Fd: c.fd})
	}
}

// answerOffLoop hands c's request (in l.ctx) to a goroutine.
func (l *eventLoop) answerOffLoop(c *Conn) {
	c.busy = true // serveBuffered's watch stops reading c
	ctx := new(fasthttp.RequestCtx)
	ctx.Init2(c, l.e.logger, false)
	l.ctx.Request.CopyTo(&ctx.Request)
	l.e.offLoop.Go(func() {
		l.e.handler(ctx)
		a := &loopAnswer{c: c, closeAfter: l.finish(ctx)}
		var ob outBuffer
		bw := bufio.NewWriter(&ob)
		ctx.Response.Write(bw)
		bw.Flush()
		a.out = ob.b
		select {
		case l.answers <- a:
			l.wakeUp() // serve closes the eventfd only after every such goroutine ended
		case <-l.exited: // the connection is gone with the loop
		}
	})
}

func (l *eventLoop) takeAnswers() {
	for {
		select {
		case a := <-l.answers:
			c := a.c
			if l.conns[c.fd] != c {
				continue // closed meanwhile
			}
			c.busy, c.closeAfter, c.last = false, a.closeAfter, l.now
			c.out = append(c.out, a.out...)
			l.flush(c)
			if l.conns[c.fd] == c {
				l.serveBuffered(c)
			}
		default:
			return
		}
	}
}

// finish completes the response as fasthttp's server does and reports
// whether the connection closes after it.
func (l *eventLoop) finish(ctx *fasthttp.RequestCtx) (closeAfter bool) {
	if ctx.IsHead() {
		ctx.Response.SkipBody = true
	}
	ctx.Response.Header.SetNoDefaultContentType(true)
	closeAfter = ctx.Request.Header.ConnectionClose() || ctx.Response.Header.ConnectionClose() || l.e.stopping.Load()
	if closeAfter {
		ctx.Response.Header.SetConnectionClose()
	} else if !ctx.Request.Header.IsHTTP11() {
		ctx.Response.Header.Set(fasthttp.HeaderConnection, "keep-alive")
	}
	if len(ctx.Response.Header.Server()) == 0 {
		ctx.Response.Header.SetServerBytes(l.e.name)
	}
	return closeAfter
}

// refuse answers a request that cannot be read with status and closes.
func (l *eventLoop) refuse(c *Conn, status int) {
	c.in = nil
	c.out = framing.AppendRefusal(c.out, status)
	c.closeAfter = true
	l.flush(c)
	l.watch(c)
}

// flush writes what c has to send; what the socket does not take waits for
// it (watch).
func (l *eventLoop) flush(c *Conn) {
	if c.closed {
		return
	}
	written := 0
	for written < len(c.out) {
		n, err := rawWrite(int(c.fd), c.out[written:])
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				c.out = c.out[:copy(c.out, c.out[written:])]
				if !c.writing {
					c.writing, c.writeStart = true, l.now
				}
				return
			}
			l.closeConn(c)
			return
		}
		written += n
	}
	c.out = c.out[:0]
	if c.closeAfter && !c.busy {
		l.closeConn(c)
		return
	}
	if c.writing { // the socket took the rest: go on with what was read meanwhile
		c.writing = false
		l.serveBuffered(c)
	}
}

func (l *eventLoop) closeConn(c *Conn) {
	if c.closed {
		return
	}
	c.closed, c.in, c.out = true, nil, nil
	unix.Close(int(c.fd))
	delete(l.conns, c.fd)
	l.open.Add(-1)
}

// sweep closes connections past their timeouts and watches a paused
// listener again.
func (l *eventLoop) sweep() {
	if l.acceptPaused && l.lfd >= 0 {
		l.acceptPaused = false
		unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, l.lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.lfd)})
	}
	for _, c := range l.conns {
		switch {
		case c.busy:
		case c.writing && l.now.Sub(c.writeStart) > l.e.writeTimeout,
			!c.writing && len(c.in) > 0 && l.now.Sub(c.reqStart) > l.e.readTimeout,
			!c.writing && len(c.in) == 0 && l.now.Sub(c.last) > l.e.idleTimeout:
			l.closeConn(c)
		}
	}
}

// drain, once the server stops, closes the listener and the kept-alive
// connections that are idle; it reports true when nothing is left. What is
// already queued is taken first — connections the kernel accepted for this
// listener, requests a client sent on a kept-alive connection — and
// answered with Connection: close: closing a socket with unread data would
// reset it under the client's request, and closing a new connection before
// its first request would fail a request no client retries.
func (l *eventLoop) drain() bool {
	if l.lfd >= 0 {
		l.accept()
		unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, l.lfd, nil)
		unix.Close(l.lfd)
		l.lfd = -1
	}
	l.takeHanded()
	for _, c := range l.conns {
		switch {
		case l.force.Load():
			l.closeConn(c)
		case c.busy || c.writing || len(c.in) > 0:
		default:
			n, err := rawRead(int(c.fd), l.readBuf)
			switch {
			case n > 0:
				c.in = append(c.in, l.readBuf[:n]...)
				c.reqStart = l.now
				l.serveBuffered(c)
			case n < 0 && errors.Is(err, unix.EAGAIN):
				// An idle kept-alive connection closes: a client that sends
				// on it meanwhile retries on a new one (RFC 9112 9.3.1). A
				// new connection's first request is on its way (clients
				// send it right after the handshake): it is answered if it
				// comes within loopFirstRequest of the accept. Later, the
				// connection is one a client opened ahead of need (browsers
				// and Go's http.Transport do), and closes.
				if c.used || l.now.Sub(c.last) > loopFirstRequest {
					l.closeConn(c)
				}
			default:
				l.closeConn(c)
			}
		}
	}
	l.handedMu.Lock()
	defer l.handedMu.Unlock()
	l.done = l.open.Load() == 0
	return l.done
}

// outBuffer is the bufio.Writer's target: a growing slice.
type outBuffer struct{ b []byte }

func (o *outBuffer) Write(p []byte) (int, error) {
	o.b = append(o.b, p...)
	return len(p), nil
}

func sockaddrTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return &net.TCPAddr{}
}

// Peer is the address of the connection's client (the TCP peer).
func (c *Conn) Peer() netip.Addr { return c.peer }

// Stopping reports whether the server is stopping: an answer must close
// its connection.
func (c *Conn) Stopping() bool { return c.loop.e.stopping.Load() }

// Date is the time the loop read the request as an HTTP Date value, the
// one fasthttp's responses carry; valid until the fast path returns.
func (c *Conn) Date() []byte {
	l := c.loop
	if sec := l.now.Unix(); sec != l.dateSec || l.date == nil {
		l.dateSec, l.date = sec, l.now.UTC().AppendFormat(l.date[:0], httpDate)
	}
	return l.date
}

// httpDate is the layout of an HTTP Date header (net/http's TimeFormat).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// As a net.Conn, a Conn has addresses only: the loop does the reading and
// writing.
func (c *Conn) Read([]byte) (int, error)         { return 0, errLoopConn }
func (c *Conn) Write([]byte) (int, error)        { return 0, errLoopConn }
func (c *Conn) Close() error                     { return errLoopConn }
func (c *Conn) LocalAddr() net.Addr              { return c.local }
func (c *Conn) RemoteAddr() net.Addr             { return c.remote }
func (c *Conn) SetDeadline(time.Time) error      { return nil }
func (c *Conn) SetReadDeadline(time.Time) error  { return nil }
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }

var errLoopConn = errors.New("evloop: the event loop reads and writes this connection")

// wait takes what epoll reports for the loop's sockets. The loop first
// sleeps in epoll_wait for up to loopSpin, as an nginx worker sleeps, with a
// raw system call: the thread sleeps in the kernel and wakes the moment a
// socket is ready, and the runtime never learns of it, so its P stays with
// the loop (Go's monitor thread would otherwise take the P from a thread in
// a system call and hand it back, thousands of times a second). A signal,
// such as the runtime's preemption, restarts the sleep. After loopSpin with
// nothing to do the loop blocks in epoll_wait as a system call the runtime
// sees, which gives its P to the rest of the process and takes one back
// when a socket is ready.
//
// Parking the goroutine on Go's netpoller instead lost wake-ups: a parked
// loop's sockets are only looked at by a thread that polls, and with the
// other loop busy (it never enters the scheduler but to be preempted, and
// then finds itself runnable) none did until the monitor's 10 ms poll. A
// runtime trace under load showed loops parked up to 20 ms, woken by that
// poll: the edge's p99.9 above nginx's (edge/DESIGN.md).
func (l *eventLoop) wait(events []unix.EpollEvent) (int, error) {
	n, err := epollWait(l.ep, events, loopSpin)
	for err == unix.EINTR {
		n, err = epollWait(l.ep, events, loopSpin)
	}
	if err != nil {
		return 0, fmt.Errorf("epoll: %w", err)
	}
	if n > 0 {
		return n, nil
	}
	r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.ep), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), ^uintptr(0), 0, 0) // -1: until a socket or the eventfd is ready
	switch e {
	case 0:
		return int(r), nil
	case unix.EINTR:
		return 0, nil
	}
	return 0, fmt.Errorf("epoll: %w", e)
}

// epollWait is epoll_wait(2) for up to ms milliseconds as a raw system
// call (see wait).
func epollWait(ep int, events []unix.EpollEvent, ms int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(ms), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket,
// raw for the same reason: they never block.
func rawRead(fd int, b []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
