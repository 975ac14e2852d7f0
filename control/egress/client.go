package egress

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Defaults of a zero Policy.
const (
	DefaultTimeout     = 15 * time.Second
	DefaultDialTimeout = 5 * time.Second
	// DefaultMaxBody is what ReadBody keeps of a response body.
	DefaultMaxBody = 64 << 10
	// drainLimit is what ReadBody reads past the kept bytes, and throws
	// away, so a connection can go back to the pool; a longer body closes
	// its connection instead.
	drainLimit = 256 << 10
	// maxIdlePerHost keeps a few connections warm per endpoint, enough
	// for deliveries in a row, few enough that many endpoints cost little.
	maxIdlePerHost = 2
)

// Policy says where control may send requests to user-given URLs. The zero
// Policy is the production one: https only, public addresses only, the
// system's resolver and roots, the default timeouts.
type Policy struct {
	// AllowHTTP lets plain http URLs through (--webhook-allow-http).
	AllowHTTP bool
	// AllowNetworks are let through whatever the refused ranges say
	// (--webhook-allow-networks): for tests and private deployments only,
	// as they reopen what the guard closes.
	AllowNetworks []netip.Prefix
	// Resolver looks host names up, at check and at dial; nil is
	// net.DefaultResolver.
	Resolver *net.Resolver
	// Timeout bounds a whole request, body included; 0 is DefaultTimeout.
	Timeout time.Duration
	// DialTimeout bounds a connect (and a lookup); 0 is DefaultDialTimeout.
	DialTimeout time.Duration
	// ExtraRoots are trusted besides the system's roots (tests).
	ExtraRoots []*x509.Certificate
}

func (p Policy) resolver() *net.Resolver {
	if p.Resolver == nil {
		return net.DefaultResolver
	}
	return p.Resolver
}

func (p Policy) timeout() time.Duration {
	if p.Timeout <= 0 {
		return DefaultTimeout
	}
	return p.Timeout
}

func (p Policy) dialTimeout() time.Duration {
	if p.DialTimeout <= 0 {
		return DefaultDialTimeout
	}
	return p.DialTimeout
}

// Control is a net.Dialer Control function: it refuses to connect to an
// address CheckAddr refuses. It sees the address actually dialled, after
// the lookup, so a name that changed its answer since CheckURL (DNS
// rebinding) is still refused.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress refused %s %q: not an IP address and port", network, address)
	}
	return p.CheckAddr(ap.Addr())
}

// Dialer is a dialer that looks names up with the policy's resolver and
// connects only to addresses the policy lets through.
func (p Policy) Dialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   p.dialTimeout(),
		KeepAlive: 30 * time.Second,
		Resolver:  p.Resolver,
		Control:   p.Control,
	}
}

// Client is an HTTP client for user-given URLs: it dials with Dialer,
// never through a proxy (the environment's included), answers a redirect
// with the 3xx itself rather than following it, refuses plain http
// requests unless AllowHTTP, bounds each request by Timeout, trusts the
// system's roots and ExtraRoots, and speaks HTTP/2 when the server does.
// Each call has its own connection pool: build one and share it.
func (p Policy) Client() *http.Client {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool() // no system roots: ExtraRoots only
	}
	for _, c := range p.ExtraRoots {
		roots.AddCert(c)
	}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            p.Dialer().DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    p.dialTimeout(),
		ForceAttemptHTTP2:      true, // a custom dialer turns it off otherwise
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    maxIdlePerHost,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		// Asking for gzip would only make a hostile body bigger to read.
		DisableCompression: true,
	}
	return &http.Client{
		Transport: &schemeGuard{t: t, allowHTTP: p.AllowHTTP},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: p.timeout(),
	}
}

// schemeGuard refuses plain http when the policy does, so a URL stored
// while it was allowed is not sent once it no longer is.
type schemeGuard struct {
	t         *http.Transport
	allowHTTP bool
}

func (g *schemeGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" && (r.URL.Scheme != "http" || !g.allowHTTP) {
		if r.Body != nil {
			r.Body.Close() // RoundTrip must close it, even on error
		}
		return nil, &URLError{Reason: "must use https"}
	}
	return g.t.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (g *schemeGuard) CloseIdleConnections() { g.t.CloseIdleConnections() }

// ReadBody reads at most max bytes of body (DefaultMaxBody if max <= 0),
// reads and throws away up to 256 KiB more so the connection can be
// reused, and closes body. truncated says bytes were left out; an error
// reading past max is not one. Time is bounded by the client's Timeout,
// which covers reading the body.
func ReadBody(body io.ReadCloser, max int) (b []byte, truncated bool, err error) {
	defer body.Close()
	if max <= 0 {
		max = DefaultMaxBody
	}
	b, err = io.ReadAll(io.LimitReader(body, int64(max)+1))
	if err != nil {
		return b, false, fmt.Errorf("read body: %w", err)
	}
	if len(b) <= max {
		return b, false, nil
	}
	// What was kept is whole; an error past it only costs the connection.
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
	return b[:max], true, nil
}
