//go:build !linux

package edge

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Event loops are Linux-only (epoll); elsewhere the edge serves with
// fasthttp.Server.
const eventLoopsSupported = false

type eventLoops struct{ addr net.Addr }

func listenLoops(string, int, fasthttp.RequestHandler, plainHandler, fasthttp.Logger, string, int) (*eventLoops, error) {
	return nil, errors.New("event loops need Linux")
}

func (*eventLoops) serve(context.Context, time.Duration) error { return nil }
func (*eventLoops) closeAll()                                  {}

func loopRedirect(*fasthttp.RequestCtx, int, string, string, bool) bool { return false }

func visitorMemoOf(*fasthttp.RequestCtx) *visitorMemo { return nil }
