package control_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/shared/kv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func mustSelfSigned(t *testing.T, host string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// A control node with ACME exports the notAfter of each custom domain's
// certificate in the replicated store; platform domains and custom domains
// without a certificate have no series.
func TestCertificateExpiryMetric(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s := mustStartStack(t, t.TempDir(), nil, func(c *control.Config) {
		// A closed port: the leader's attempt for new.example.test fails.
		c.ACMEDirectory, c.Secret, c.Registerer = "http://127.0.0.1:1/directory", bytes.Repeat([]byte{9}, 32), reg
	})
	defer s.stop(t)
	notAfter := time.Now().Add(60 * 24 * time.Hour).Truncate(time.Second)
	ctx := context.Background()
	for _, cmd := range []kv.Command{
		{Ops: []kv.Op{{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "go.example.test", OrgID: "org_1", Version: 1}}}},
		{Ops: []kv.Op{{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "new.example.test", OrgID: "org_1", Version: 1}}}},
		{Ops: []kv.Op{{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "localhost", OrgID: "org_1", Version: 1}}}},
		kv.PutCertificate(kv.Certificate{Host: "go.example.test", ChainPEM: mustSelfSigned(t, "go.example.test", notAfter),
			SealedKey: []byte("sealed"), NotAfter: notAfter.Unix(), Version: 1}),
		kv.PutCertificate(kv.Certificate{Host: "localhost", ChainPEM: mustSelfSigned(t, "localhost", notAfter),
			SealedKey: []byte("sealed"), NotAfter: notAfter.Unix(), Version: 1}),
	} {
		if _, err := s.node.Apply(ctx, cmd.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP h0p_certificate_expiry_timestamp_seconds When the certificate an edge serves for a custom domain expires (its notAfter, Unix seconds).
# TYPE h0p_certificate_expiry_timestamp_seconds gauge
h0p_certificate_expiry_timestamp_seconds{host="go.example.test"} ` + strconv.FormatInt(notAfter.Unix(), 10) + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "h0p_certificate_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}
