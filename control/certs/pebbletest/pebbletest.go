// Package pebbletest runs Let's Encrypt's pebble, a real ACME server, on
// 127.0.0.1 for tests: built from the version go.mod's tool line pins
// (once, into the system's temporary directory), configured with the port
// HTTP-01 validations go to and the DNS server they resolve hosts with. A
// test is skipped, never faked, when pebble cannot be built.
package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

const module = "github.com/letsencrypt/pebble/v2"

// Options of a pebble.
type Options struct {
	HTTPPort  int    // where HTTP-01 validations connect (an edge's port)
	DNSServer string // host:port resolving the hosts validated
	Validity  int    // seconds a certificate is valid (0: 90 days)
}

// Pebble is a running pebble.
type Pebble struct {
	Directory  string // the ACME directory URL
	Management string // the management interface's base URL
	// Minica is the PEM root of pebble's own HTTPS certificate: what an
	// ACME client must trust (--acme-ca-root).
	Minica []byte
}

var build struct {
	once     sync.Once
	bin, dir string
	err      error
}

// binary builds pebble once per process.
func binary(t testing.TB) (bin, moduleDir string) {
	t.Helper()
	build.once.Do(func() {
		// go mod download, not go list: on a fresh module cache go list
		// names no directory until something downloaded the module.
		out, err := exec.Command("go", "mod", "download", "-json", module).Output()
		var mod struct{ Version, Dir string }
		if err == nil {
			err = json.Unmarshal(out, &mod)
		}
		if err != nil || mod.Dir == "" {
			build.err = fmt.Errorf("go mod download pebble: %v %s", err, out)
			return
		}
		version, dir := mod.Version, mod.Dir
		bin := filepath.Join(os.TempDir(), "h0p-pebble-"+version, "pebble")
		if _, err := os.Stat(bin); err != nil {
			// Built aside and renamed into place: test binaries of other
			// packages may build or run it at the same time.
			tmp := fmt.Sprintf("%s.%d", bin, os.Getpid())
			if out, err := exec.Command("go", "build", "-o", tmp, module+"/cmd/pebble").CombinedOutput(); err != nil {
				build.err = fmt.Errorf("go build pebble: %v\n%s", err, out)
				return
			}
			if err := os.Rename(tmp, bin); err != nil {
				build.err = err
				return
			}
		}
		build.bin, build.dir = bin, dir
	})
	if build.err != nil {
		t.Skipf("pebble, the ACME test server, cannot be built (no network or module cache?): %v", build.err)
	}
	return build.bin, build.dir
}

// Start runs a pebble until the test ends.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	bin, modDir := binary(t)
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
	p := &Pebble{}
	var err error
	if p.Minica, err = os.ReadFile(filepath.Join(modDir, "test/certs/pebble.minica.pem")); err != nil {
		t.Fatal(err)
	}
	if o.Validity == 0 {
		o.Validity = 90 * 24 * 3600
	}
	listen, mgmt := freeAddr(t), freeAddr(t)
	_, port, _ := net.SplitHostPort(freeAddr(t))
	tlsPort, _ := strconv.Atoi(port)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           listen,
		"managementListenAddress": mgmt,
		"certificate":             filepath.Join(dir, "cert.pem"),
		"privateKey":              filepath.Join(dir, "key.pem"),
		"httpPort":                o.HTTPPort,
		"tlsPort":                 tlsPort, // unused: no TLS-ALPN-01
		"keyAlgorithm":            "ecdsa",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{
			"default": map[string]any{"description": "test", "validityPeriod": o.Validity},
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
	cmd := exec.Command(bin, "-config", cfgPath, "-dnsserver", o.DNSServer)
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
	p.Directory, p.Management = "https://"+listen+"/dir", "https://"+mgmt
	client := p.Client(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := client.Get(p.Directory)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not up at %s: %v\n%s", p.Directory, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client trusts pebble's own HTTPS certificate.
func (p *Pebble) Client(t testing.TB) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.Minica) {
		t.Fatal("pebble's minica root: no PEM")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
}

// Roots is the root pebble issues certificates under, from its management
// interface.
func (p *Pebble) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	res, err := p.Client(t).Get(p.Management + "/roots/0")
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

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
