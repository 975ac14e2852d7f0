package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var loopback4 = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// mustReceiver starts an HTTPS receiver on 127.0.0.1 speaking HTTP/2, and
// returns it with a policy trusting its certificate and resolving
// example.com (a name its certificate holds) through a DNS server to the
// public address 93.184.216.34.
func mustReceiver(t *testing.T, h http.Handler) (*httptest.Server, Policy, func(addr string)) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dns, p := mustDNS(t)
	dns.Set(t, "example.com", "A", "93.184.216.34")
	p.ExtraRoots = append(p.ExtraRoots, srv.Certificate())
	point := func(addr string) { dns.Set(t, "example.com", "A", addr) }
	return srv, p, point
}

// urlOf is srv's URL with the host example.com.
func urlOf(srv *httptest.Server, path string) string {
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "https://example.com:" + port + path
}

// DNS rebinding: a name public when checked and loopback when sent is
// refused at dial, by the guard: with loopback allowed, the same request
// goes through.
func TestClientRefusesRebinding(t *testing.T) {
	var hits atomic.Int32
	srv, p, point := mustReceiver(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	u, err := p.CheckURL(context.Background(), urlOf(srv, "/hook"))
	if err != nil {
		t.Fatalf("CheckURL while public: %v", err)
	}
	point("127.0.0.1")

	resp, err := p.Client().Post(u, "application/json", strings.NewReader("{}"))
	var ae *AddrError
	if !errors.As(err, &ae) || ae.Kind != "loopback" || ae.Addr != netip.MustParseAddr("127.0.0.1") {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("POST after rebinding = %v, want the guard's *AddrError for 127.0.0.1", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the receiver got %d requests, want none", hits.Load())
	}

	p.AllowNetworks = loopback4
	resp, err = p.Client().Post(u, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("POST with loopback allowed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("with loopback allowed: status %d, %d hits; want 200, 1", resp.StatusCode, hits.Load())
	}
}

// A redirect is the answer, not followed; proxies from the environment are
// not used; the connection is HTTP/2 over TLS with the extra root.
func TestClientAnswersRedirectsAndIgnoresProxies(t *testing.T) {
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	srv, p, point := mustReceiver(t, mux)
	point("127.0.0.1")
	p.AllowNetworks = loopback4

	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		http.Error(w, "proxy", http.StatusBadGateway)
	}))
	defer proxy.Close()
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")

	resp, err := p.Client().Get(urlOf(srv, "/hook"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/elsewhere" {
		t.Errorf("status %d, Location %q; want 302 to /elsewhere", resp.StatusCode, resp.Header.Get("Location"))
	}
	if followed.Load() != 0 || proxied.Load() != 0 {
		t.Errorf("redirect followed %d times, proxy used %d times; want neither", followed.Load(), proxied.Load())
	}
	if resp.ProtoMajor != 2 || resp.TLS == nil {
		t.Errorf("protocol %s, TLS %v; want HTTP/2 over TLS", resp.Proto, resp.TLS != nil)
	}
}

func TestClientRefusesPlainHTTP(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	p := Policy{AllowNetworks: loopback4}
	_, err := p.Client().Get(srv.URL)
	var ue *URLError
	if !errors.As(err, &ue) || hits.Load() != 0 {
		t.Fatalf("GET %s = %v (%d hits), want a *URLError and no request", srv.URL, err, hits.Load())
	}
	p.AllowHTTP = true
	resp, err := p.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("GET %s with http allowed: %v", srv.URL, err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("%d hits, want 1", hits.Load())
	}
}

// A receiver streaming far more than the cap: ReadBody keeps the cap,
// returns without reading the stream, and the receiver sees its writes
// fail long before the end.
func TestReadBodyCap(t *testing.T) {
	const total = 256 << 20
	written := make(chan int64, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		var n int64
		for n < total {
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				break
			}
		}
		written <- n
	}))
	defer srv.Close()
	p := Policy{AllowHTTP: true, AllowNetworks: loopback4}

	for _, max := range []int{0, 1000} {
		resp, err := p.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, truncated, err := ReadBody(resp.Body, max)
		want := max
		if max == 0 {
			want = DefaultMaxBody
		}
		if err != nil || len(b) != want || !truncated {
			t.Fatalf("ReadBody(max %d) = %d bytes, truncated %v, %v; want %d, true, nil", max, len(b), truncated, err, want)
		}
		if n := <-written; n >= total {
			t.Fatalf("the receiver wrote its whole %d bytes", n)
		}
	}
}

func TestReadBodyShort(t *testing.T) {
	b, truncated, err := ReadBody(io.NopCloser(strings.NewReader("ok")), 2)
	if string(b) != "ok" || truncated || err != nil {
		t.Fatalf("ReadBody = %q, %v, %v; want \"ok\", false, nil", b, truncated, err)
	}
}

// A receiver dripping its body byte by byte is cut off by the client's
// timeout, body included.
func TestClientTimeoutCoversBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	p := Policy{AllowHTTP: true, AllowNetworks: loopback4, Timeout: 300 * time.Millisecond}
	start := time.Now()
	resp, err := p.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadBody(resp.Body, 0)
	if elapsed := time.Since(start); err == nil || elapsed > 5*time.Second {
		t.Fatalf("ReadBody of a dripping body = %v after %v, want a timeout after about 300ms", err, elapsed)
	}
}
