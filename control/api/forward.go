package api

import (
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/shared/apierror"
)

// Leadership tells the API whether this control node leads the raft group
// and, if not, where the leader's API is.
type Leadership interface {
	IsLeader() bool
	LeaderAPI() string
}

// forwardedHeader marks a request a follower passed to the leader, so it is
// never passed on twice.
const forwardedHeader = "X-H0p-Forwarded-By"

// forwardWrites sends every write that reaches a follower to the leader,
// whose answer goes back to the client unchanged: writes are applied through
// raft, which only the leader can do, and clients need not know which node
// leads. Reads are served locally (the store is shared). With no leader (no
// quorum) a write fails at once with 503 UNAVAILABLE instead of hanging.
func (h *handler) forwardWrites(c *gin.Context) {
	if h.Leader == nil || h.Leader.IsLeader() {
		c.Next()
		return
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	if by := c.GetHeader(forwardedHeader); by != "" {
		h.fail(c, apierror.New(apierror.Unavailable, "leadership moved while the request was forwarded; retry"))
		return
	}
	leader := h.Leader.LeaderAPI()
	if leader == "" {
		h.fail(c, apierror.New(apierror.Unavailable, "no raft leader: writes are unavailable until a quorum of control nodes is up; retry"))
		return
	}
	target, err := url.Parse(leader)
	if err != nil {
		h.fail(c, apierror.New(apierror.Unavailable, "the leader published a bad API address; retry"))
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = target.Host
			pr.Out.Header.Set(forwardedHeader, h.NodeID)
		},
		Transport: h.ForwardTransport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.Logger.Warn("forward to leader failed", "leader", leader, "err", err)
			h.fail(c, apierror.New(apierror.Unavailable, "the leader could not be reached; retry"))
		},
	}
	c.Writer.Header().Del("X-Request-Id") // the leader's request ID is the one that counts
	proxy.ServeHTTP(c.Writer, c.Request)
	c.Abort()
}
