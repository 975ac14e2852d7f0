package certs

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/certs/pebbletest"
	"github.com/h0p/h0p/shared/dnstest"
)

// The tests below run Let's Encrypt's pebble, a real ACME server, on
// 127.0.0.1 (control/certs/pebbletest), with a real DNS server
// (shared/dnstest) and a real HTTP-01 responder beside it.

// acmeEnv is one running pebble with its DNS server and HTTP-01 responder.
type acmeEnv struct {
	*pebbletest.Pebble
	challenges *memChallenges
}

// mustStartPebble starts the DNS server answering A 127.0.0.1 for hosts,
// the HTTP-01 responder, and pebble issuing certificates valid for
// validity seconds.
func mustStartPebble(t *testing.T, validity int, hosts ...string) *acmeEnv {
	t.Helper()
	env := &acmeEnv{challenges: newMemChallenges()}
	dns := dnstest.Start(t)
	for _, h := range hosts {
		dns.Set(t, h, "A", "127.0.0.1")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	responder := &http.Server{Handler: env.challenges, ReadHeaderTimeout: 5 * time.Second}
	go responder.Serve(ln)
	t.Cleanup(func() { responder.Close() })
	env.Pebble = pebbletest.Start(t, pebbletest.Options{HTTPPort: ln.Addr().(*net.TCPAddr).Port, DNSServer: dns.Addr(), Validity: validity})
	return env
}

// memChallenges is the test's Challenges and its HTTP-01 responder, as an
// edge answers from its replicated store.
type memChallenges struct {
	mu      sync.Mutex
	answers map[string]string
	puts    int
}

var _ Challenges = (*memChallenges)(nil)

func newMemChallenges() *memChallenges {
	return &memChallenges{answers: make(map[string]string)}
}

func (c *memChallenges) Put(_ context.Context, token, keyAuth string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers[token] = keyAuth
	c.puts++
	return nil
}

func (c *memChallenges) Delete(_ context.Context, token string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.answers, token)
	return nil
}

func (c *memChallenges) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, "/.well-known/acme-challenge/")
	c.mu.Lock()
	answer, found := c.answers[token]
	c.mu.Unlock()
	if !ok || !found || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, answer)
}

func (c *memChallenges) putCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts
}

func (c *memChallenges) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.answers)
}

// memStore is the test's Store; it remembers every private key it is
// given, to check that none is plaintext.
type memStore struct {
	mu       sync.Mutex
	certs    map[string]Certificate
	account  []byte
	seen     [][]byte
	failures map[string]Failure
	// failureWrites counts PutFailure and DeleteFailure calls.
	failureWrites int
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{certs: make(map[string]Certificate), failures: make(map[string]Failure)}
}

func (s *memStore) Certificate(_ context.Context, host string) (Certificate, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.certs[host]
	return c, ok, nil
}

func (s *memStore) PutCertificate(_ context.Context, c Certificate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs[c.Host] = c
	s.seen = append(s.seen, c.SealedKey)
	return nil
}

func (s *memStore) AccountKey(context.Context) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.account, s.account != nil, nil
}

func (s *memStore) PutAccountKey(_ context.Context, k []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account = k
	s.seen = append(s.seen, k)
	return nil
}

func (s *memStore) Failure(_ context.Context, host string) (Failure, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[host]
	return f, ok, nil
}

func (s *memStore) PutFailure(_ context.Context, f Failure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[f.Host] = f
	s.failureWrites++
	return nil
}

func (s *memStore) DeleteFailure(_ context.Context, host string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failures, host)
	s.failureWrites++
	return nil
}

func (s *memStore) writesOfFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failureWrites
}

func (s *memStore) mustLeafSerial(t *testing.T, host string) string {
	t.Helper()
	c, ok, _ := s.Certificate(context.Background(), host)
	if !ok {
		t.Fatalf("no certificate for %s in the store", host)
	}
	leaf, err := c.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.String()
}

// noPlaintextKeys fails if any key the store was given looks like PEM.
func (s *memStore) noPlaintextKeys(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.seen {
		if b, _ := pem.Decode(k); b != nil || bytes.Contains(k, []byte("PRIVATE KEY")) {
			t.Fatalf("the store was given a plaintext private key")
		}
	}
}
