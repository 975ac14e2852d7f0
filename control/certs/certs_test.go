package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/sealed"
)

const testHost = "links.example.test"

func mustSealer(t *testing.T) *sealed.Key {
	t.Helper()
	k, err := sealed.NewKey(bytes.Repeat([]byte{7}, 32), "h0p certs test v1")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testClock is real time moved by an offset the test sets.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) set(to time.Time)        { c.offset.Store(int64(time.Until(to))) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func newTestManager(t *testing.T, env *acmeEnv, store *memStore, clock *testClock) *Manager {
	t.Helper()
	return &Manager{
		DirectoryURL: env.Directory,
		Email:        "ops@example.test",
		CARoot:       env.Minica,
		Challenges:   env.challenges,
		Store:        store,
		Sealer:       mustSealer(t),
		Now:          clock.Now,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
}

func TestObtainWithPebble(t *testing.T) {
	env := mustStartPebble(t, 3600, testHost)
	store := newMemStore()
	m := newTestManager(t, env, store, &testClock{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	c, err := m.Obtain(ctx, testHost)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	if env.challenges.putCount() == 0 {
		t.Fatalf("no challenge answer was published")
	}
	if n := env.challenges.pending(); n != 0 {
		t.Fatalf("%d challenge answers left published, want 0", n)
	}
	stored, ok, _ := store.Certificate(ctx, testHost)
	if !ok || !bytes.Equal(stored.ChainPEM, c.ChainPEM) {
		t.Fatalf("the store does not hold the certificate Obtain returned")
	}
	store.noPlaintextKeys(t)
	if got := c.NotAfter.Sub(c.NotBefore).Round(time.Minute); got != time.Hour {
		t.Fatalf("lifetime %v, want 1h (pebble's configured validity)", got)
	}

	// The chain verifies for the host against pebble's root.
	roots := env.Roots(t)
	kp, err := c.KeyPair(m.Sealer)
	if err != nil {
		t.Fatalf("KeyPair: %v", err)
	}
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	for _, d := range kp.Certificate[1:] {
		ic, err := x509.ParseCertificate(d)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: testHost, Roots: roots, Intermediates: inter}); err != nil {
		t.Fatalf("verify the issued chain: %v", err)
	}

	// A real TLS handshake with SNI, verified against pebble's root.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hello.ServerName != testHost {
				return nil, errors.New("unknown host")
			}
			return &kp, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "hello")
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
		&tls.Config{ServerName: testHost, RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS handshake with SNI %s: %v", testHost, err)
	}
	defer conn.Close()
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read over TLS = %q, %v", got, err)
	}
	if cn := conn.ConnectionState().PeerCertificates[0].SerialNumber; cn.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want %v", cn, leaf.SerialNumber)
	}

	// A second certificate reuses the account kept in the store.
	account := bytes.Clone(store.account)
	m2 := newTestManager(t, env, store, &testClock{})
	if _, err := m2.Obtain(ctx, testHost); err != nil {
		t.Fatalf("Obtain with the stored account: %v", err)
	}
	if !bytes.Equal(store.account, account) {
		t.Fatalf("a second manager replaced the stored account key")
	}
}

func TestRenewWithPebble(t *testing.T) {
	env := mustStartPebble(t, 60, testHost)
	store := newMemStore()
	clock := &testClock{}
	m := newTestManager(t, env, store, clock)
	m.Interval = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	// A host without a certificate gets one at once.
	if err := m.RenewDue(ctx, []string{testHost}); err != nil {
		t.Fatalf("RenewDue: %v", err)
	}
	first := store.mustLeafSerial(t, testHost)
	c, _, _ := store.Certificate(ctx, testHost)
	if want := c.NotAfter.Add(-c.NotAfter.Sub(c.NotBefore) / 3); !m.RenewAt(c).Equal(want) {
		t.Fatalf("RenewAt = %v, want %v (a third of the lifetime left)", m.RenewAt(c), want)
	}

	leaf, renewAt, err := m.Leaf(ctx, testHost)
	if err != nil || leaf == nil || !leaf.NotAfter.Equal(c.NotAfter) || !renewAt.Equal(m.RenewAt(c)) {
		t.Fatalf("Leaf = %v, %v, %v; want the stored certificate's leaf and RenewAt", leaf, renewAt, err)
	}
	if msg, _, _, err := m.LastFailure(ctx, testHost); msg != "" || err != nil {
		t.Fatalf("LastFailure after a success = %q, %v", msg, err)
	}
	if leaf, _, err := m.Leaf(ctx, "other.example.test"); leaf != nil || err != nil {
		t.Fatalf("Leaf of a host without a certificate = %v, %v", leaf, err)
	}

	// Before the renewal point nothing happens.
	puts := env.challenges.putCount()
	if err := m.RenewDue(ctx, []string{testHost}); err != nil {
		t.Fatalf("RenewDue: %v", err)
	}
	if got := store.mustLeafSerial(t, testHost); got != first || env.challenges.putCount() != puts {
		t.Fatalf("a certificate not due was renewed")
	}

	// Past it, Run renews.
	clock.set(m.RenewAt(c).Add(time.Second))
	done := make(chan struct{})
	runCtx, stop := context.WithCancel(ctx)
	go func() {
		m.Run(runCtx, func() []string { return []string{testHost} })
		close(done)
	}()
	defer func() { stop(); <-done }()
	for store.mustLeafSerial(t, testHost) == first {
		if ctx.Err() != nil {
			t.Fatalf("no renewal before the deadline")
		}
		time.Sleep(50 * time.Millisecond)
	}
	renewed, _, _ := store.Certificate(ctx, testHost)
	if renewed.NotAfter.Before(c.NotAfter) { // pebble's times are in whole seconds
		t.Fatalf("renewed certificate ends %v, before the old one's %v", renewed.NotAfter, c.NotAfter)
	}
	if _, err := renewed.KeyPair(m.Sealer); err != nil {
		t.Fatalf("renewed KeyPair: %v", err)
	}
	if bytes.Equal(renewed.SealedKey, c.SealedKey) {
		t.Fatalf("the renewed certificate kept the old sealed key")
	}
	store.noPlaintextKeys(t)
	if n := store.writesOfFailures(); n != 0 {
		t.Fatalf("%d failure writes for attempts that all succeeded, want none", n)
	}
}

// TestBackoff needs no ACME server: a directory that always answers 404.
func TestBackoff(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	clock := &testClock{}
	var log bytes.Buffer
	m := &Manager{
		DirectoryURL: srv.URL + "/dir",
		HTTPClient:   srv.Client(),
		Challenges:   newMemChallenges(),
		Store:        newMemStore(),
		Sealer:       mustSealer(t),
		Now:          clock.Now,
		Logger:       slog.New(slog.NewTextHandler(&log, nil)),
		Backoff:      time.Minute,
		MaxBackoff:   3 * time.Minute,
	}
	ctx := t.Context()

	try := func() (int64, error) {
		before := hits.Load()
		err := m.RenewDue(ctx, []string{testHost})
		return hits.Load() - before, err
	}
	n, err := try()
	if n == 0 || err == nil || !strings.Contains(err.Error(), testHost) {
		t.Fatalf("first attempt: %d requests, err %v; want requests and an error naming %s", n, err, testHost)
	}
	if !strings.Contains(log.String(), "host="+testHost) || !strings.Contains(log.String(), "retryIn=1m0s") {
		t.Fatalf("log %q lacks the host or the retry delay", log.String())
	}
	msg, at, next, err := m.LastFailure(ctx, testHost)
	if err != nil || msg == "" || strings.Contains(msg, "certificate for "+testHost) || (next.Sub(at)-time.Minute).Abs() > time.Second ||
		at.Sub(clock.Now()).Abs() > time.Second {
		t.Fatalf("LastFailure = %q, %v, %v; want the error without the host, now, a minute later", msg, at, next)
	}
	if msg, _, _, _ := m.LastFailure(ctx, "other.example.test"); msg != "" {
		t.Fatalf("LastFailure of a host never tried = %q", msg)
	}
	for _, step := range []struct {
		advance time.Duration
		tries   bool
	}{
		{30 * time.Second, false}, // within the first minute
		{31 * time.Second, true},  // past it: second failure, now 2 minutes
		{time.Minute, false},
		{61 * time.Second, true}, // third failure: 4 minutes capped to 3
		{2*time.Minute + 50*time.Second, false},
		{11 * time.Second, true},
	} {
		clock.advance(step.advance)
		n, _ := try()
		if got := n > 0; got != step.tries {
			t.Fatalf("after %v more: tried %v, want %v", step.advance, got, step.tries)
		}
	}
}

func TestDue(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := Certificate{NotBefore: start, NotAfter: start.Add(90 * 24 * time.Hour)}
	tests := []struct {
		name        string
		renewBefore time.Duration
		now         time.Time
		want        bool
	}{
		{"fresh", 0, start, false},
		{"a day before a third left", 0, start.Add(59 * 24 * time.Hour), false},
		{"a third left", 0, start.Add(60 * 24 * time.Hour), true},
		{"expired", 0, start.Add(91 * 24 * time.Hour), true},
		{"RenewBefore 10 days, 11 left", 10 * 24 * time.Hour, start.Add(79 * 24 * time.Hour), false},
		{"RenewBefore 10 days, 10 left", 10 * 24 * time.Hour, start.Add(80 * 24 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manager{RenewBefore: tt.renewBefore, Now: func() time.Time { return tt.now }}
			if got := m.Due(c); got != tt.want {
				t.Fatalf("Due = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckHost(t *testing.T) {
	for _, h := range []string{"links.example.test", "a-b.example.com", "x1.y2.z3"} {
		if err := checkHost(h); err != nil {
			t.Errorf("checkHost(%q) = %v, want nil", h, err)
		}
	}
	for _, h := range []string{"", "Links.example.test", "*.example.com", "127.0.0.1", "localhost",
		"a..b", "-a.example", "a-.example", "a_b.example", "links.example.test:443", strings.Repeat("a", 64) + ".example"} {
		if err := checkHost(h); err == nil {
			t.Errorf("checkHost(%q) = nil, want an error", h)
		}
	}
}

// A failure's message loses the host's prefix, is valid UTF-8, never
// empty, and fits the replicated record.
func TestFailureMessage(t *testing.T) {
	long := strings.Repeat("é", kv.MaxCertificateFailureMessage) // 2 bytes each
	tests := []struct {
		name, err, want string
	}{
		{"host prefix", "certificate for " + testHost + ": new order: refused", "new order: refused"},
		{"invalid UTF-8", "bad \xff byte", "bad \uFFFD byte"},
		{"empty", "certificate for " + testHost + ": ", "unknown error"},
		{"long", long, long[:kv.MaxCertificateFailureMessage-len("…")-1] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := failureMessage(testHost, errors.New(tt.err))
			if got != tt.want {
				t.Fatalf("failureMessage = %q, want %q", got, tt.want)
			}
			if len(got) > kv.MaxCertificateFailureMessage || !utf8.ValidString(got) {
				t.Fatalf("failureMessage: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
		})
	}
}
