//go:build !linux

package evloop

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// Supported reports whether this system has the event loops: they are
// Linux-only (epoll); elsewhere the edge serves with fasthttp.Server.
const Supported = false

// Server is never made outside Linux.
type Server struct{}

// Listen fails outside Linux.
func Listen(Config) (*Server, error) { return nil, errors.New("event loops need Linux") }

func (*Server) Addr() net.Addr                             { return nil }
func (*Server) Loops() int                                 { return 0 }
func (*Server) Serve(context.Context, time.Duration) error { return nil }
func (*Server) Close()                                     {}

// Conn is never made outside Linux.
type Conn struct{ State any }

func (*Conn) Peer() netip.Addr { return netip.Addr{} }
func (*Conn) Stopping() bool   { return false }
func (*Conn) Date() []byte     { return nil }
