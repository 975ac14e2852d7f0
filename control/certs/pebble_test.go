package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The tests below run Let's Encrypt's pebble, a real ACME server, on
// 127.0.0.1, with a real DNS server and a real HTTP-01 responder beside it.

const pebbleModule = "github.com/letsencrypt/pebble/v2"

var pebbleBuild struct {
	once sync.Once
	tmp  string // holds the binary
	bin  string // the built binary
	dir  string // the module's directory, for its test certificates
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pebbleBuild.tmp != "" {
		os.RemoveAll(pebbleBuild.tmp)
	}
	os.Exit(code)
}

// mustPebbleBinary builds pebble once per test binary (the go.mod tool
// line pins it), skipping the test if it cannot be built, e.g. offline
// with an empty module cache.
func mustPebbleBinary(t *testing.T) (bin, moduleDir string) {
	t.Helper()
	pebbleBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "h0p-pebble-")
		if err != nil {
			pebbleBuild.err = err
			return
		}
		pebbleBuild.tmp = dir
		bin := filepath.Join(dir, "pebble")
		out, err := exec.Command("go", "build", "-o", bin, pebbleModule+"/cmd/pebble").CombinedOutput()
		if err != nil {
			pebbleBuild.err = fmt.Errorf("go build pebble: %v\n%s", err, out)
			return
		}
		out, err = exec.Command("go", "list", "-m", "-f", "{{.Dir}}", pebbleModule).Output()
		if err != nil {
			pebbleBuild.err = fmt.Errorf("go list pebble: %v", err)
			return
		}
		pebbleBuild.bin, pebbleBuild.dir = bin, strings.TrimSpace(string(out))
	})
	if pebbleBuild.err != nil {
		t.Skipf("pebble, the ACME test server, cannot be built (no network or module cache?): %v", pebbleBuild.err)
	}
	return pebbleBuild.bin, pebbleBuild.dir
}

// acmeEnv is one running pebble with its DNS server and HTTP-01 responder.
type acmeEnv struct {
	directory  string // the ACME directory URL
	management string // pebble's management base URL
	minica     []byte // the root of pebble's own HTTPS certificate
	challenges *memChallenges
}

// mustStartPebble starts the DNS server answering A 127.0.0.1 for hosts,
// the HTTP-01 responder, and pebble issuing certificates valid for
// validity seconds.
func mustStartPebble(t *testing.T, validity int, hosts ...string) *acmeEnv {
	t.Helper()
	bin, modDir := mustPebbleBinary(t)
	env := &acmeEnv{challenges: newMemChallenges()}

	dnsAddr := mustStartDNS(t, hosts)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	responder := &http.Server{Handler: env.challenges, ReadHeaderTimeout: 5 * time.Second}
	go responder.Serve(ln)
	t.Cleanup(func() { responder.Close() })

	dir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem"} {
		b, err := os.ReadFile(filepath.Join(modDir, "test/certs/localhost", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env.minica, err = os.ReadFile(filepath.Join(modDir, "test/certs/pebble.minica.pem"))
	if err != nil {
		t.Fatal(err)
	}

	listen, mgmt := freeAddr(t), freeAddr(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           listen,
		"managementListenAddress": mgmt,
		"certificate":             filepath.Join(dir, "cert.pem"),
		"privateKey":              filepath.Join(dir, "key.pem"),
		"httpPort":                ln.Addr().(*net.TCPAddr).Port,
		"tlsPort":                 freePort(t), // unused: no TLS-ALPN-01
		"keyAlgorithm":            "ecdsa",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{
			"default": map[string]any{"description": "test", "validityPeriod": validity},
		},
	}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	var log lockedBuffer
	cmd := exec.Command(bin, "-config", cfgPath, "-dnsserver", dnsAddr)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble's log:\n%s", log.String())
		}
	})

	env.directory = "https://" + listen + "/dir"
	env.management = "https://" + mgmt
	client := env.pebbleClient(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := client.Get(env.directory)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not up at %s: %v\n%s", env.directory, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return env
}

// pebbleClient trusts pebble's own HTTPS certificate.
func (env *acmeEnv) pebbleClient(t *testing.T) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(env.minica) {
		t.Fatal("pebble's minica root: no PEM")
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		Timeout:   10 * time.Second,
	}
}

// mustRoot fetches the root that pebble issues under, from its management
// interface.
func (env *acmeEnv) mustRoot(t *testing.T) *x509.CertPool {
	t.Helper()
	res, err := env.pebbleClient(t).Get(env.management + "/roots/0")
	if err != nil {
		t.Fatalf("get pebble's root: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("get pebble's root: %d %v", res.StatusCode, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble's root: no PEM in %q", b)
	}
	return pool
}

// mustStartDNS serves A 127.0.0.1 for hosts, over UDP and TCP (pebble's
// resolver uses TCP) on one port, and answers no records otherwise.
func mustStartDNS(t *testing.T, hosts []string) string {
	t.Helper()
	known := make(map[string]bool)
	for _, h := range hosts {
		known[dns.Fqdn(h)] = true
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		for _, q := range r.Question {
			name := strings.ToLower(q.Name)
			if !known[name] {
				m.Rcode = dns.RcodeNameError
				continue
			}
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})
	var tcp net.Listener
	var udp net.PacketConn
	for range 10 { // the UDP port of a free TCP port is almost always free
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if udp, err = net.ListenPacket("udp", l.Addr().String()); err == nil {
			tcp = l
			break
		}
		l.Close()
	}
	if tcp == nil {
		t.Fatal("no port free for both TCP and UDP")
	}
	for _, s := range []*dns.Server{{Listener: tcp, Handler: handler}, {PacketConn: udp, Handler: handler}} {
		go s.ActivateAndServe()
		t.Cleanup(func() { s.Shutdown() })
	}
	return tcp.Addr().String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func freePort(t *testing.T) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(freeAddr(t))
	var n int
	fmt.Sscan(p, &n)
	return n
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
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
	mu      sync.Mutex
	certs   map[string]Certificate
	account []byte
	seen    [][]byte
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{certs: make(map[string]Certificate)} }

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
