package edge_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/sealed"
)

// testCA issues leaf certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a certificate for host with serial, as kv.Certificate with
// its key sealed by keys.
func (ca *testCA) leaf(t *testing.T, host string, serial int64, keys *sealed.Key, version uint64) kv.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return kv.Certificate{Host: host, ChainPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		SealedKey: keys.Seal(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		NotAfter:  tmpl.NotAfter.Unix(), Version: version}
}

// The HTTPS listener serves a custom domain's links with the certificate
// the store holds for it, chosen by SNI, and a renewed certificate from the
// next handshake on, without a restart; a client naming no host with a
// certificate gets no handshake.
func TestHTTPSBySNI(t *testing.T) {
	const host = "links.example.test"
	keys, ca := newTLSFixture(t)
	te := startTLSEngine(t, keys,
		kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: host, OrgID: "org_1", Version: 1}},
		put(kv.Link{Domain: host, Slug: "promo", URL: "https://example.com/promo", Status: 302}),
		kv.Op{Type: kv.OpPutCertificate, Certificate: ptr(ca.leaf(t, host, 100, keys, 1))})
	addr := te.srv.TLSAddr()
	get := func() (*http.Response, error) { // a new connection, a new handshake
		resp, err := httpsClient(ca.pool, host, addr).Get("https://" + host + "/promo")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://example.com/promo" {
		t.Fatalf("HTTPS: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 100 {
		t.Fatalf("served serial %d, want 100", got)
	}

	te.apply(t, kv.Op{Type: kv.OpPutCertificate, Certificate: ptr(ca.leaf(t, host, 200, keys, 2))})
	resp, err = get()
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 200 {
		t.Fatalf("after renewal: served serial %d, want 200", got)
	}

	for _, name := range []string{"", "other.example.test"} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			t.Errorf("SNI %q: handshake succeeded", name)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// newTLSFixture is the key that seals certificates' keys and a CA that
// issues them.
func newTLSFixture(t *testing.T) (*sealed.Key, *testCA) {
	t.Helper()
	keys, err := sealed.NewKey(make([]byte, 32), kv.CertificateKeyPurpose)
	if err != nil {
		t.Fatal(err)
	}
	return keys, newTestCA(t)
}

// startTLSEngine runs an edge with an HTTPS listener over a real store
// holding ops, opening certificates' keys with keys.
func startTLSEngine(t *testing.T, keys *sealed.Key, ops ...kv.Op) *testEdge {
	t.Helper()
	return startEngine(t, func(te *testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", CertificateKeys: keys, DefaultDomain: "localhost",
			Logger: quiet, ClickQueue: 64, ClickSalt: []byte("salt")}
	}, ops...)
}

// httpsClient verifies host's certificate against roots, dials addr
// whatever a URL's host, and does not follow redirects.
func httpsClient(roots *x509.CertPool, host, addr string) *http.Client {
	return &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		},
	}
}
