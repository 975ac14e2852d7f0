package clustercert

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustMintCA(t *testing.T, name string) CA {
	t.Helper()
	ca, err := MintCA(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustParseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustBundle mints node id with role under ca and loads it as a node would,
// trusting trusted (usually ca itself).
func mustBundle(t *testing.T, ca, trusted CA, id string, role Role) *Bundle {
	t.Helper()
	certPEM, keyPEM, err := ca.MintNode(id, role, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(trusted.Cert)
	// Built by hand rather than with NewBundle, which refuses a certificate
	// that ca.pem did not sign: the tests need exactly such impostors.
	return &Bundle{ID: id, Role: role, cert: cert, roots: roots}
}

func TestMintCA(t *testing.T) {
	ca, err := MintCA("h0p test ca", testNow)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v KeyUsage=%v, want a CA that signs certificates", c.IsCA, c.BasicConstraintsValid, c.KeyUsage)
	}
	if c.PublicKeyAlgorithm != x509.ECDSA || ca.Key.Curve.Params().Name != "P-256" {
		t.Errorf("key %v %s, want ECDSA P-256", c.PublicKeyAlgorithm, ca.Key.Curve.Params().Name)
	}
	if got, want := c.NotAfter, testNow.Add(10*365*24*time.Hour); !got.Equal(want) {
		t.Errorf("NotAfter %s, want %s", got, want)
	}
	if !c.NotBefore.Before(testNow) {
		t.Errorf("NotBefore %s is not before minting time", c.NotBefore)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if c.Subject.CommonName != "h0p test ca" {
		t.Errorf("CommonName %q", c.Subject.CommonName)
	}
}

func TestMintNodeCertificate(t *testing.T) {
	ca, err := MintCA("ca", testNow)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.MintNode("e1", Edge, []string{"10.0.0.7", "Edge1.Example.internal", "127.0.0.1", "fd00::7"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("key pair: %v", err)
	}
	c := mustParseCert(t, certPEM)
	if c.Subject.CommonName != "e1" {
		t.Errorf("CommonName %q, want e1", c.Subject.CommonName)
	}
	if got, want := c.URIs, []*url.URL{{Scheme: "h0p", Host: "node", Path: "/edge/e1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("URIs %v, want %v", got, want)
	}
	if got, want := c.DNSNames, []string{"localhost", "edge1.example.internal"}; !slices.Equal(got, want) {
		t.Errorf("DNSNames %q, want %q", got, want)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"127.0.0.1", "::1", "10.0.0.7", "fd00::7"}; !slices.Equal(ips, want) {
		t.Errorf("IPAddresses %q, want %q", ips, want)
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(c.ExtKeyUsage, want) {
		t.Errorf("ExtKeyUsage %v, want %v", c.ExtKeyUsage, want)
	}
	if c.IsCA {
		t.Error("node certificate is a CA")
	}
	if got, want := c.NotAfter, testNow.Add(365*24*time.Hour); !got.Equal(want) {
		t.Errorf("NotAfter %s, want %s", got, want)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, host := range []string{"10.0.0.7", "edge1.example.internal", "localhost", "::1"} {
		_, err := c.Verify(x509.VerifyOptions{
			DNSName: host, Roots: roots, CurrentTime: testNow,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}

	// A leaf never outlives its CA.
	late := ca.Cert.NotAfter.Add(-24 * time.Hour)
	certPEM, _, err = ca.MintNode("c1", Control, nil, late)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustParseCert(t, certPEM).NotAfter; !got.Equal(ca.Cert.NotAfter) {
		t.Errorf("NotAfter near CA expiry %s, want the CA's %s", got, ca.Cert.NotAfter)
	}
}

func TestMintNodeRejects(t *testing.T) {
	ca := mustMintCA(t, "ca")
	tests := []struct {
		name  string
		id    string
		role  Role
		hosts []string
	}{
		{"empty id", "", Control, nil},
		{"path in id", "../c1", Control, nil},
		{"upper case id", "C1", Control, nil},
		{"reserved ca", "ca", Control, nil},
		{"reserved key suffix", "c1-key", Control, nil},
		{"unknown role", "c1", Role("voter"), nil},
		{"host with port", "c1", Control, []string{"c1.internal:7000"}},
		{"empty host", "c1", Control, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ca.MintNode(tt.id, tt.role, tt.hosts, time.Now()); err == nil {
				t.Error("minted, want an error")
			}
		})
	}
}

func TestPeerIdentityRoundTrip(t *testing.T) {
	ca := mustMintCA(t, "ca")
	for _, tt := range []struct {
		id   string
		role Role
	}{{"c1", Control}, {"e-west.2", Edge}, {"e1", Control}} {
		certPEM, _, err := ca.MintNode(tt.id, tt.role, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		leaf := mustParseCert(t, certPEM)
		state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}, VerifiedChains: [][]*x509.Certificate{{leaf, ca.Cert}}}
		id, role, err := PeerIdentity(state)
		if err != nil || id != tt.id || role != tt.role {
			t.Errorf("PeerIdentity = %q, %q, %v; want %q, %q", id, role, err, tt.id, tt.role)
		}
		// Presented but unverified: no identity.
		if _, _, err := PeerIdentity(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}); err == nil {
			t.Error("identity from an unverified certificate")
		}
	}

	// Certificates that were not minted here: no URI, CN disagreeing, two URIs.
	base := func() *x509.Certificate {
		return &x509.Certificate{
			Subject: ca.Cert.Subject,
			URIs:    []*url.URL{{Scheme: "h0p", Host: "node", Path: "/control/c1"}},
		}
	}
	bad := map[string]func(c *x509.Certificate){
		"no uri":      func(c *x509.Certificate) { c.URIs = nil },
		"cn mismatch": func(c *x509.Certificate) { c.Subject.CommonName = "c2" },
		"two uris": func(c *x509.Certificate) {
			c.URIs = append(c.URIs, &url.URL{Scheme: "h0p", Host: "node", Path: "/edge/c1"})
		},
		"bad role":     func(c *x509.Certificate) { c.URIs[0].Path = "/voter/c1" },
		"no id":        func(c *x509.Certificate) { c.URIs[0].Path = "/control" },
		"other scheme": func(c *x509.Certificate) { c.URIs[0].Scheme = "spiffe" },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			c := base()
			c.Subject.CommonName = "c1"
			mutate(c)
			state := tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{c}}}
			if id, role, err := PeerIdentity(state); err == nil {
				t.Errorf("PeerIdentity = %q, %q, want an error", id, role)
			}
		})
	}
}

// handshake runs a real TLS handshake over 127.0.0.1 between a server using
// srv and a client using cli, and returns both sides' results. The client
// writes and reads one byte so that a server refusing the client certificate
// (which, in TLS 1.3, happens after the client's handshake finished) shows up
// on the client too.
func handshake(t *testing.T, srv, cli *Bundle) (serverState tls.ConnectionState, serverErr, clientErr error) {
	t.Helper()
	return handshakeConfigs(t, srv.ServerConfig(), cli.ClientConfig())
}

// pushy is b's client config changed to present its certificate even when
// the server asks for one from another CA (crypto/tls would send none), as an
// attacker would.
func pushy(b *Bundle) *tls.Config {
	cfg := b.ClientConfig()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &b.cert, nil }
	return cfg
}

func handshakeConfigs(t *testing.T, srv, cli *tls.Config) (serverState tls.ConnectionState, serverErr, clientErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		var b [1]byte
		if _, err := tc.Read(b[:]); err != nil {
			done <- result{err: err}
			return
		}
		_, err = tc.Write(b[:])
		done <- result{state: tc.ConnectionState(), err: err}
	}()

	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cli}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err == nil {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var b [1]byte
		if _, err = c.Write([]byte{'x'}); err == nil {
			_, err = c.Read(b[:])
		}
		c.Close()
	}
	res := <-done
	return res.state, res.err, err
}

func TestMutualTLSHandshake(t *testing.T) {
	cluster := mustMintCA(t, "cluster")
	other := mustMintCA(t, "other cluster")
	c1 := mustBundle(t, cluster, cluster, "c1", Control)
	e1 := mustBundle(t, cluster, cluster, "e1", Edge)

	t.Run("same ca", func(t *testing.T) {
		state, serr, cerr := handshake(t, c1, e1)
		if serr != nil || cerr != nil {
			t.Fatalf("server: %v, client: %v", serr, cerr)
		}
		if state.Version != tls.VersionTLS13 {
			t.Errorf("version %x, want TLS 1.3", state.Version)
		}
		id, role, err := PeerIdentity(state)
		if err != nil || id != "e1" || role != Edge {
			t.Errorf("server sees %q %q %v, want e1 edge", id, role, err)
		}
	})
	t.Run("client cert from another ca", func(t *testing.T) {
		// The impostor trusts the real CA (ca.pem is not secret) but its own
		// certificate was signed by another one.
		impostor := mustBundle(t, other, cluster, "c9", Control)
		_, serr, cerr := handshakeConfigs(t, c1.ServerConfig(), pushy(impostor))
		var unknown x509.UnknownAuthorityError
		if !errors.As(serr, &unknown) {
			t.Errorf("server error %v, want x509.UnknownAuthorityError", serr)
		}
		if cerr == nil || !strings.Contains(cerr.Error(), "unknown certificate authority") {
			t.Errorf("client error %v, want an unknown certificate authority alert", cerr)
		}
		// Without forcing it, crypto/tls sends no certificate at all.
		if _, serr, _ := handshake(t, c1, impostor); serr == nil {
			t.Error("server accepted a client that sent no certificate")
		}
	})
	t.Run("server cert from another ca", func(t *testing.T) {
		impostor := mustBundle(t, other, cluster, "c9", Control)
		_, serr, cerr := handshake(t, impostor, c1)
		var unknown x509.UnknownAuthorityError
		if !errors.As(cerr, &unknown) {
			t.Errorf("client error %v, want x509.UnknownAuthorityError", cerr)
		}
		if serr == nil {
			t.Error("server saw no error")
		}
	})
	t.Run("other cluster entirely", func(t *testing.T) {
		stranger := mustBundle(t, other, other, "c1", Control)
		_, serr, cerr := handshakeConfigs(t, c1.ServerConfig(), pushy(stranger))
		if serr == nil || cerr == nil {
			t.Errorf("server: %v, client: %v; want both to fail", serr, cerr)
		}
	})
	t.Run("admin certificate", func(t *testing.T) {
		// An operator's certificate calls nodes; it never answers for one.
		admin := mustBundle(t, cluster, cluster, "admin", Admin)
		state, serr, cerr := handshake(t, c1, admin)
		if serr != nil || cerr != nil {
			t.Fatalf("admin as a client: server %v, client %v", serr, cerr)
		}
		if id, role, err := PeerIdentity(state); err != nil || id != "admin" || role != Admin {
			t.Errorf("server sees %q %q %v, want admin admin", id, role, err)
		}
		if _, _, cerr := handshake(t, admin, c1); cerr == nil {
			t.Error("a node accepted an admin certificate as a server's")
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		anon := &Bundle{ID: "x", roots: c1.roots}
		_, serr, cerr := handshake(t, c1, anon)
		if serr == nil || cerr == nil {
			t.Errorf("server: %v, client: %v; want both to fail", serr, cerr)
		}
	})
}

func TestParseNodeList(t *testing.T) {
	tests := []struct {
		in      string
		want    []NodeSpec
		wantErr bool
	}{
		{in: "c1,c2,c3,e1,e2", want: []NodeSpec{
			{ID: "c1", Role: Control}, {ID: "c2", Role: Control}, {ID: "c3", Role: Control},
			{ID: "e1", Role: Edge}, {ID: "e2", Role: Edge},
		}},
		{in: " c1 , west1:edge,eu1:control,", want: []NodeSpec{
			{ID: "c1", Role: Control}, {ID: "west1", Role: Edge}, {ID: "eu1", Role: Control},
		}},
		{in: "", wantErr: true},
		{in: ",", wantErr: true},
		{in: "c1,c1", wantErr: true},
		{in: "c1,c1:edge", wantErr: true},
		{in: "c1,ops:admin", want: []NodeSpec{{ID: "c1", Role: Control}, {ID: "ops", Role: Admin}}},
		{in: "c1:voter", wantErr: true},
		{in: "../c1", wantErr: true},
		{in: "ca", wantErr: true},
		{in: "c1:", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNodeList(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWriteDirAndLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	ca := mustMintCA(t, "cluster")
	nodes, err := ParseNodeList("c1,e1")
	if err != nil {
		t.Fatal(err)
	}
	nodes[0].Hosts = []string{"10.1.2.3"}
	if err := WriteDir(dir, ca, nodes, false); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("dir mode %v, want 0700", got)
	}
	for name, want := range map[string]fs.FileMode{
		"ca.pem": 0o644, "ca-key.pem": 0o600, "c1.pem": 0o644, "c1-key.pem": 0o600, "e1.pem": 0o644, "e1-key.pem": 0o600,
	} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		// The umask may only take bits away; keys must never be readable by others.
		if got := info.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s mode %v, want at most %v", name, got, want)
		}
	}

	for _, tt := range []struct {
		id   string
		role Role
	}{{"c1", Control}, {"e1", Edge}} {
		b, err := Load(dir, tt.id)
		if err != nil {
			t.Fatalf("load %s: %v", tt.id, err)
		}
		if b.ID != tt.id || b.Role != tt.role {
			t.Errorf("loaded %q %q, want %q %q", b.ID, b.Role, tt.id, tt.role)
		}
		if !b.NotAfter.Equal(b.cert.Leaf.NotAfter) || b.NotAfter.Before(time.Now().Add(364*24*time.Hour)) {
			t.Errorf("NotAfter %s, want the certificate's, a year out", b.NotAfter)
		}
		if cfg := b.ServerConfig(); cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.MinVersion != tls.VersionTLS13 || cfg.ClientCAs == nil {
			t.Errorf("server config: ClientAuth %v MinVersion %x", cfg.ClientAuth, cfg.MinVersion)
		}
		if cfg := b.ClientConfig(); cfg.RootCAs == nil || cfg.MinVersion != tls.VersionTLS13 || cfg.InsecureSkipVerify || len(cfg.Certificates) != 1 {
			t.Errorf("client config does not verify the server or present a certificate")
		}
	}
	c1, _ := Load(dir, "c1")
	if leaf := c1.cert.Leaf; leaf == nil || len(leaf.IPAddresses) != 3 {
		t.Errorf("c1 certificate lacks its extra host: %v", leaf.IPAddresses)
	}
	// The loaded bundles talk to each other.
	e1, _ := Load(dir, "e1")
	if _, serr, cerr := handshake(t, c1, e1); serr != nil || cerr != nil {
		t.Errorf("handshake between loaded bundles: server %v, client %v", serr, cerr)
	}

	t.Run("load refuses", func(t *testing.T) {
		if _, err := Load(dir, "c2"); err == nil {
			t.Error("loaded a node that has no files")
		}
		if _, err := Load(dir, "../certs/c1"); err == nil {
			t.Error("loaded through a path")
		}
		// e1's files under c2's name: issued to someone else.
		other := t.TempDir()
		copyFile(t, filepath.Join(dir, "ca.pem"), filepath.Join(other, "ca.pem"))
		copyFile(t, filepath.Join(dir, "e1.pem"), filepath.Join(other, "c2.pem"))
		copyFile(t, filepath.Join(dir, "e1-key.pem"), filepath.Join(other, "c2-key.pem"))
		if _, err := Load(other, "c2"); err == nil || !strings.Contains(err.Error(), "issued to") {
			t.Errorf("load of another node's certificate: %v", err)
		}
		// A certificate the CA in ca.pem did not sign.
		if err := os.WriteFile(filepath.Join(other, "ca.pem"), mustMintCA(t, "other").CertPEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(dir, "e1.pem"), filepath.Join(other, "e1.pem"))
		copyFile(t, filepath.Join(dir, "e1-key.pem"), filepath.Join(other, "e1-key.pem"))
		if _, err := Load(other, "e1"); err == nil || !strings.Contains(err.Error(), "not signed") {
			t.Errorf("load of a certificate from another CA: %v", err)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWriteDirRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	first := mustMintCA(t, "first")
	nodes := []NodeSpec{{ID: "c1", Role: Control}}
	if err := WriteDir(dir, first, nodes, false); err != nil {
		t.Fatal(err)
	}
	keyBefore, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}

	second := mustMintCA(t, "second")
	err = WriteDir(dir, second, []NodeSpec{{ID: "c2", Role: Control}}, false)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "ca-key.pem") {
		t.Fatalf("second write: %v, want a refusal naming ca-key.pem", err)
	}
	keyAfter, _ := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if !bytes.Equal(keyBefore, keyAfter) {
		t.Fatal("refused write still replaced the CA key")
	}
	if _, err := os.Stat(filepath.Join(dir, "c2.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused write left c2.pem behind: %v", err)
	}

	// Asked to, it replaces everything, and keys stay private.
	os.Chmod(filepath.Join(dir, "c1-key.pem"), 0o644)
	if err := WriteDir(dir, second, nodes, true); err != nil {
		t.Fatal(err)
	}
	keyAfter, _ = os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if bytes.Equal(keyBefore, keyAfter) {
		t.Error("overwrite kept the old CA key")
	}
	if info, err := os.Stat(filepath.Join(dir, "c1-key.pem")); err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Errorf("replaced key mode %v %v, want 0600", info.Mode().Perm(), err)
	}
	b, err := Load(dir, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cert.Leaf.CheckSignatureFrom(second.Cert); err != nil {
		t.Errorf("c1 not re-signed by the new CA: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// The cluster secret is written once, kept through a rewrite of the
// certificates, and refused when it is too short.
func TestClusterSecret(t *testing.T) {
	dir := t.TempDir()
	ca, err := MintCA("test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(dir, ca, []NodeSpec{{ID: "c1", Role: Control}}, false); err != nil {
		t.Fatal(err)
	}
	first, err := LoadSecret(dir)
	if err != nil || len(first) != 32 {
		t.Fatalf("secret: %d bytes, %v", len(first), err)
	}
	if err := WriteDir(dir, ca, []NodeSpec{{ID: "c1", Role: Control}}, true); err != nil {
		t.Fatal(err)
	}
	if again, err := LoadSecret(dir); err != nil || string(again) != string(first) {
		t.Fatalf("a rewrite of the certificates changed the secret (%v)", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret(dir); err == nil {
		t.Error("a 2-byte secret was accepted")
	}
}

// An operator certificate added later is signed by the CA already in the
// directory, and nothing existing is replaced.
func TestAddNodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if err := WriteDir(dir, mustMintCA(t, "cluster"), []NodeSpec{{ID: "c1", Role: Control}}, false); err != nil {
		t.Fatal(err)
	}
	if err := AddNodes(dir, []NodeSpec{{ID: "admin", Role: Admin}}); err != nil {
		t.Fatal(err)
	}
	b, err := Load(dir, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if b.Role != Admin || b.Role.IsNode() {
		t.Errorf("role %q (node %v), want admin, not a node", b.Role, b.Role.IsNode())
	}
	if err := AddNodes(dir, []NodeSpec{{ID: "c1", Role: Control}}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("adding an existing node: %v, want fs.ErrExist", err)
	}
	if err := AddNodes(t.TempDir(), []NodeSpec{{ID: "x", Role: Admin}}); err == nil {
		t.Error("AddNodes without a CA succeeded")
	}
}
