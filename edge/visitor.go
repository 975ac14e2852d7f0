package edge

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// clientIP is the visitor's address: the TCP peer, unless the peer is a
// trusted proxy, in which case the first address in X-Forwarded-For (or
// Forwarded) that is not a trusted proxy, reading from the right.
func (s *Server) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	peer, _ := netip.AddrFromSlice(ctx.RemoteIP())
	if peer = peer.Unmap(); !s.trusted(peer) {
		return peer // without looking for the headers
	}
	return s.clientIPFrom(peer, ctx.Request.Header.Peek("X-Forwarded-For"), ctx.Request.Header.Peek("Forwarded"))
}

// clientIPFrom is clientIP for a request from peer with the X-Forwarded-For
// and Forwarded values xff and fwd.
func (s *Server) clientIPFrom(peer netip.Addr, xff, fwd []byte) netip.Addr {
	if !s.trusted(peer) {
		return peer
	}
	var hops []string
	if len(xff) > 0 {
		hops = strings.Split(string(xff), ",")
	} else if len(fwd) > 0 {
		for part := range strings.SplitSeq(string(fwd), ",") {
			for kv := range strings.SplitSeq(part, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
				if ok && strings.EqualFold(k, "for") {
					v = strings.Trim(v, `"`)
					if strings.HasPrefix(v, "[") { // [2001:db8::1]:port
						addr, _, ok := strings.Cut(v[1:], "]")
						if !ok {
							addr = "" // unreadable: the hops left of it are not believed
						}
						v = addr
					} else if i := strings.LastIndexByte(v, ':'); i >= 0 && strings.Count(v, ":") == 1 {
						v = v[:i]
					}
					hops = append(hops, v)
				}
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a hop we cannot read: do not believe what is left of it
		}
		if a = a.Unmap(); !s.trusted(a) {
			return a
		}
	}
	return peer
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// languages reads the primary subtags of Accept-Language in order of
// preference (q=0 excluded), lowercase: "de-CH, en;q=0.8" → [de en].
func languages(h []byte) []string {
	type lq struct {
		lang string
		q    float64
	}
	var out []lq
	for part := range bytes.SplitSeq(h, []byte(",")) {
		tag, params, _ := bytes.Cut(bytes.TrimSpace(part), []byte(";"))
		q := 1.0
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(params), []byte("q=")); ok {
			q = 0
			if f, err := strconv.ParseFloat(string(v), 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		primary, _, _ := bytes.Cut(tag, []byte("-"))
		if len(primary) < 2 || len(primary) > 3 || q <= 0 {
			continue
		}
		out = append(out, lq{strings.ToLower(string(primary)), q})
	}
	// Stable by q, highest first (a few entries: insertion sort).
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].q > out[j-1].q; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	langs := make([]string, len(out))
	for i, x := range out {
		langs[i] = x.lang
	}
	return langs
}
