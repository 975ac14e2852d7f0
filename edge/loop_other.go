//go:build !linux

package edge

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
)

// Event loops are Linux-only (epoll); elsewhere the edge serves with
// fasthttp.Server.
const eventLoopsSupported = false

type eventLoops struct{ addr net.Addr }

func listenLoops(string, int, fasthttp.RequestHandler, fastPath, fasthttp.Logger, string, int) (*eventLoops, error) {
	return nil, errors.New("event loops need Linux")
}

func (*eventLoops) serve(context.Context, time.Duration) error { return nil }
func (*eventLoops) closeAll()                                  {}

type fastPath func(dst, req []byte, c *loopConn) (out []byte, answered, closeAfter bool)

// loopConn is never made outside Linux.
type loopConn struct{ state any }

func (*loopConn) Peer() netip.Addr { return netip.Addr{} }
func (*loopConn) Stopping() bool   { return false }
func (*loopConn) Date() []byte     { return nil }
