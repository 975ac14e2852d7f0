package edge

import (
	"net/netip"
	"sync"
	"time"

	"github.com/medama-io/go-useragent"
	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/password"
)

// The user-agent parser builds a trie at start; one per process.
var uaParser = sync.OnceValue(useragent.NewParser)

// passwordTTL is how long a correct password is remembered (a cookie scoped
// to the link).
const passwordTTL = time.Hour

// checkPassword handles a password form post: a bounded number of checks at
// once (Config.PasswordChecks: each takes 19 MiB and milliseconds of CPU,
// and clients from many addresses could otherwise run the edge out of
// memory), a limited number of attempts per client IP and link, a
// constant-time check against the link's hash, and on success a signed
// cookie and a redirect back to the link (303, so the browser follows with
// GET).
func (s *Server) checkPassword(ctx *fasthttp.RequestCtx, l *kv.Link, v *visit, dom *kv.Domain) decision {
	select {
	case s.checks <- struct{}{}:
		defer func() { <-s.checks }()
	default:
		return decision{outcome: outcomePassword, status: 503, page: passwordPage("Too many password checks right now. Try again in a moment."), cache: cacheNone}
	}
	if !s.attempts.allow(v.ip, l.ID) {
		return decision{outcome: outcomePassword, status: 429, page: passwordPage("Too many attempts. Wait a minute and try again."), cache: cacheNone}
	}
	pw := string(ctx.PostArgs().Peek("password"))
	if pw == "" || password.Check(pw, l.PasswordHash) != nil {
		return decision{outcome: outcomePassword, status: 401, page: passwordPage("Wrong password."), cache: cacheNone}
	}
	expires := v.now.Add(passwordTTL)
	// As sent: ASCII from a browser, maybe not from others. A path, not a
	// URL: "//ü.example/" is a slug, whose bytes are percent-encoded as a
	// browser sends them, never a host to map.
	path := percentEncode(string(ctx.URI().PathOriginal()))
	location := path
	if len(path) > 1 && (path[1] == '/' || path[1] == '\\') {
		// "//host/…" (or "/\host/…") would send the browser to another
		// host; "/./" keeps it on this one and resolves to the same path.
		location = "/." + path
	}
	return decision{outcome: outcomePassword, status: 303, location: location, cache: cacheNone,
		cookie: passwordCookie(l.ID) + "=" + passwordToken(l, expires) + "; Path=" + path +
			"; Max-Age=3600; HttpOnly; SameSite=Lax"}
}

// attemptLimiter allows n password attempts per client IP and link per
// minute (a fixed window; the map is swept as windows pass). An IPv6
// client counts by its /64, the block one host usually holds: per address,
// one host could guess n times for each of its 2^64 addresses.
type attemptLimiter struct {
	n   int
	now func() time.Time

	mu     sync.Mutex
	window time.Time
	counts map[attemptKey]int
}

type attemptKey struct {
	ip   netip.Addr
	link string
}

func newAttemptLimiter(n int, now func() time.Time) *attemptLimiter {
	return &attemptLimiter{n: n, now: now, counts: map[attemptKey]int{}}
}

func (a *attemptLimiter) allow(ip netip.Addr, link string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.now().Truncate(time.Minute)
	if !w.Equal(a.window) {
		a.window, a.counts = w, map[attemptKey]int{}
	}
	if ip.Is6() && !ip.Is4In6() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	k := attemptKey{ip, link}
	if a.counts[k] >= a.n {
		return false
	}
	a.counts[k]++
	return true
}
