package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/certs"
	"github.com/h0p/h0p/control/certs/pebbletest"
	"github.com/h0p/h0p/control/domains"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/sealed"
)

// certJSON is a domain's certificate as the API shows it.
type certJSON struct {
	Status                        string
	NotBefore, NotAfter, RenewsAt *time.Time
	Issuer                        *string
	LastError                     *struct {
		Message           string
		At, NextAttemptAt time.Time
	}
}

func (e *env) mustCertificate(t *testing.T, id string) certJSON {
	t.Helper()
	r := e.do(t, "GET", "/v1/domains/"+id, e.key, nil)
	if r.status != 200 {
		t.Fatalf("get %s: %d %s", id, r.status, r.body)
	}
	for _, secret := range []string{"PRIVATE KEY", "BEGIN CERTIFICATE", "sealed", "chain"} {
		if bytes.Contains(r.body, []byte(secret)) {
			t.Fatalf("the domain's JSON holds %q: %s", secret, r.body)
		}
	}
	var d struct{ Certificate *certJSON }
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Certificate == nil {
		t.Fatalf("no certificate in %s", r.body)
	}
	return *d.Certificate
}

// Without a certificate manager (no ACME directory), every domain's
// certificate is "none" with every other field null, in the list too.
func TestDomainCertificateWithoutACME(t *testing.T) {
	e := mustStart(t)
	mustDomainJSON(t, e.do(t, "POST", "/v1/domains", e.key, strings.NewReader(`{"name":"go.example.com"}`)), 201)
	r := e.do(t, "GET", "/v1/domains", e.key, nil)
	var list struct {
		Data []struct{ Certificate json.RawMessage }
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Data) != 1 {
		t.Fatalf("list: %d %s %v", r.status, r.body, err)
	}
	const want = `{"status":"none","notBefore":null,"notAfter":null,"renewsAt":null,"issuer":null,"lastError":null}`
	if got := string(list.Data[0].Certificate); got != want {
		t.Fatalf("certificate %s, want %s", got, want)
	}
}

// A domain's certificate through the real path: pebble as the ACME server,
// the manager publishing challenges and certificates through raft into the
// replicated store, an HTTP-01 responder answering from that store as the
// edges do, and the real DNS server. None while pending, pending once
// verified, issued with the certificate's own dates, renewing past
// renewsAt; a domain whose validation fails shows failed and why.
func TestDomainCertificateWithPebble(t *testing.T) {
	const good, bad = "links.example.test", "broken.example.test"
	e := mustStart(t)
	z := mustDNS(t)
	e.domains.LocalSuffixes = []string{"test"}
	e.domains.Checker = &domains.Checker{Resolver: domains.NewResolver(z.addr), EdgeHost: "edge.example.net",
		EdgeIPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	e.now = time.Now().UTC().Truncate(time.Second)

	// The edges' side of HTTP-01: answer from the replicated store.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	responder := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.URL.Path, "/.well-known/acme-challenge/")
		answer, ok, err := e.edge.Challenge(token)
		if err != nil || !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(answer))
	})}
	go responder.Serve(ln)
	t.Cleanup(func() { responder.Close() })
	acme := pebbletest.Start(t, pebbletest.Options{HTTPPort: ln.Addr().(*net.TCPAddr).Port, DNSServer: z.addr, Validity: 3600})

	sealer, err := sealed.NewKey(bytes.Repeat([]byte{9}, 32), kv.CertificateKeyPurpose)
	if err != nil {
		t.Fatal(err)
	}
	m := &certs.Manager{DirectoryURL: acme.Directory, CARoot: acme.Minica,
		Challenges: certs.ReplicatedChallenges{Applier: e.outbox.Applier},
		Store:      certs.ReplicatedStore{Applier: e.outbox.Applier, Records: e.edge},
		Sealer:     sealer, Backoff: 5 * time.Minute, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	e.domains.Certificates = m

	add := func(name string) domainJSON {
		d := mustDomainJSON(t, e.do(t, "POST", "/v1/domains", e.key, strings.NewReader(`{"name":"`+name+`"}`)), 201)
		if c := e.mustCertificate(t, d.ID); c.Status != "none" || c.NotAfter != nil || c.LastError != nil {
			t.Fatalf("%s pending: certificate %+v", name, c)
		}
		z.set(t, "_h0p-challenge."+name, `TXT "`+d.VerificationToken+`"`)
		z.set(t, name, "A 127.0.0.1")
		if v := mustDomainJSON(t, e.do(t, "POST", "/v1/domains/"+d.ID+"/verify", e.key, nil), 200); v.Status != "verified" {
			t.Fatalf("verify %s: %+v", name, v)
		}
		if c := e.mustCertificate(t, d.ID); c.Status != "pending" || c.NotAfter != nil || c.Issuer != nil || c.LastError != nil {
			t.Fatalf("%s verified: certificate %+v", name, c)
		}
		return d
	}
	gd, bd := add(good), add(bad)
	// The validation of bad fails: its name no longer resolves (the
	// domain stays verified through the grace period).
	z.set(t, bad)

	ctx := t.Context()
	if err := m.RenewDue(ctx, e.edge.DomainHosts()); err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), good) {
		t.Fatalf("RenewDue: %v; want only %s to fail", err, bad)
	}

	rec, ok, err := e.edge.Certificate(good)
	if err != nil || !ok {
		t.Fatalf("no certificate of %s in the replicated store: %v", good, err)
	}
	leaf, err := (certs.Certificate{Host: good, ChainPEM: rec.ChainPEM}).Leaf()
	if err != nil {
		t.Fatal(err)
	}
	c := e.mustCertificate(t, gd.ID)
	if c.Status != "issued" || c.NotAfter == nil || !c.NotAfter.Equal(leaf.NotAfter) || !c.NotBefore.Equal(leaf.NotBefore) ||
		c.Issuer == nil || *c.Issuer != leaf.Issuer.CommonName || c.LastError != nil {
		t.Fatalf("issued: certificate %+v, want the leaf's dates (%v, %v) and issuer %q", c, leaf.NotBefore, leaf.NotAfter, leaf.Issuer.CommonName)
	}
	if want := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3); c.RenewsAt == nil || !c.RenewsAt.Equal(want) {
		t.Fatalf("renewsAt %v, want %v (a third of the lifetime left)", c.RenewsAt, want)
	}

	f := e.mustCertificate(t, bd.ID)
	if f.Status != "failed" || f.NotAfter != nil || f.LastError == nil || !strings.HasPrefix(f.LastError.Message, "the ACME server could not validate the domain: ") ||
		f.LastError.NextAttemptAt.Sub(f.LastError.At) != 5*time.Minute || time.Since(f.LastError.At) > time.Minute {
		t.Fatalf("failed: certificate %+v", f)
	}
	t.Logf("lastError: %s", f.LastError.Message)

	// Past renewsAt, before expiry: renewing.
	e.now = c.RenewsAt.Add(time.Second)
	if c := e.mustCertificate(t, gd.ID); c.Status != "renewing" || !c.NotAfter.Equal(leaf.NotAfter) {
		t.Fatalf("past renewsAt: certificate %+v", c)
	}
	// Expired with no failed attempt: pending, a new one is on its way.
	e.now = leaf.NotAfter.Add(time.Minute)
	if c := e.mustCertificate(t, gd.ID); c.Status != "pending" {
		t.Fatalf("expired, no failure: certificate %+v", c)
	}
}
