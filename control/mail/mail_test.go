package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/mail"
	"github.com/h0p/h0p/control/mail/mailtest"
)

func TestSendOverSMTP(t *testing.T) {
	srv := mailtest.Start(t)
	s, err := mail.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := "Hello Zoë,\nyour code is h0p_e_123.\n" + strings.Repeat("a long line ", 20) + "\n"
	err = s.Send(context.Background(), mail.Message{To: "zoe@example.com",
		Subject: "Bestätigen\r\nBcc: evil@example.com", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	m := srv.Wait(t, "zoe@example.com", "Bestätigen")
	if m.From != "h0p@example.com" || m.Body != body {
		t.Errorf("from %q body %q", m.From, m.Body)
	}
	// A line break in the subject does not become a header.
	if m.Subject != "Bestätigen Bcc: evil@example.com" || strings.Contains(string(m.Raw), "\r\nBcc:") {
		t.Errorf("subject %q; raw:\n%s", m.Subject, m.Raw)
	}
	if err := s.Send(context.Background(), mail.Message{To: "a@example.com>\r\nRCPT TO:<b@example.com", Subject: "x"}); err == nil {
		t.Error("a recipient with a line break was sent")
	}
}

func TestSendWithSTARTTLSAndPassword(t *testing.T) {
	cert, roots := selfSigned(t)
	srv := mailtest.StartWith(t, mailtest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
		User: "h0p", Password: "s3cret"})
	url := strings.Replace(srv.URL, "smtp://", "smtp://h0p:s3cret@", 1)
	s, err := mail.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	s.TLS = &tls.Config{RootCAs: roots}
	if err := s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "over TLS", Body: "hi\n"}); err != nil {
		t.Fatal(err)
	}
	srv.Wait(t, "a@example.com", "over TLS")

	wrong, _ := mail.ParseURL(strings.Replace(srv.URL, "smtp://", "smtp://h0p:wrong@", 1))
	wrong.TLS = &tls.Config{RootCAs: roots}
	if err := wrong.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x"}); err == nil {
		t.Error("sent with a wrong password")
	}
	// Without trusting the server's certificate nothing is sent.
	untrusted, _ := mail.ParseURL(url)
	if err := untrusted.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x"}); err == nil {
		t.Error("sent to a server whose certificate is not trusted")
	}
}

func TestParseURL(t *testing.T) {
	for _, bad := range []string{"http://mail.example.com", "smtp://", "smtp://mail.example.com?from=not-an-address", "::",
		"smtp://mail.example.com?starttls=never"} {
		if _, err := mail.ParseURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	s, err := mail.ParseURL("smtps://u:p@mail.example.com")
	if err != nil || s.String() != "smtps://mail.example.com:465" {
		t.Errorf("%v %v", s, err)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots
}
