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
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/replication/replicationtest"
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
// renewsAt; a domain whose validation fails shows failed and why, on a
// follower (a second raft node with its own replicated store, whose
// manager never ran) as on the leader. A new leader keeps the backoff and
// doubles it, a success clears the failure, and deleting a failing domain
// deletes its failure everywhere.
func TestDomainCertificateWithPebble(t *testing.T) {
	const good, bad, gone = "links.example.test", "broken.example.test", "gone.example.test"
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
	// newManager is a control node's manager: node applies through raft
	// (forwarding to the leader is not needed: only the leader's runs),
	// records is that node's replicated store, now its clock.
	newManager := func(node certs.Applier, records certs.Records, now func() time.Time) *certs.Manager {
		return &certs.Manager{DirectoryURL: acme.Directory, CARoot: acme.Minica,
			Challenges: certs.ReplicatedChallenges{Applier: node},
			Store:      certs.ReplicatedStore{Applier: node, Records: records},
			Sealer:     sealer, Backoff: 5 * time.Minute, Now: now, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	}
	leader := e.outbox.Applier.(*replication.Node)
	m := newManager(leader, e.edge, time.Now)
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
	gd, bd, xd := add(good), add(bad), add(gone)
	// The validations of bad and gone fail: their names no longer resolve
	// (the domains stay verified through the grace period).
	z.set(t, bad)
	z.set(t, gone)

	ctx := t.Context()
	if err := m.RenewDue(ctx, e.edge.DomainHosts()); err == nil || !strings.Contains(err.Error(), bad) ||
		!strings.Contains(err.Error(), gone) || strings.Contains(err.Error(), good) {
		t.Fatalf("RenewDue: %v; want only %s and %s to fail", err, bad, gone)
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

	// A control node that made no attempt answers the same: from here on
	// the API reads through a follower's replicated store, with a manager
	// that never ran.
	follower, followerRecords := replicationtest.Follower(t, leader)
	e.domains.Certificates = newManager(follower, followerRecords, time.Now)
	sameAttempt := func(got certJSON, want certJSON) bool {
		return got.LastError != nil && want.LastError != nil && got.LastError.Message == want.LastError.Message &&
			got.LastError.At.Equal(want.LastError.At) && got.LastError.NextAttemptAt.Equal(want.LastError.NextAttemptAt)
	}
	if g := e.mustCertificate(t, bd.ID); g.Status != "failed" || !sameAttempt(g, f) {
		t.Fatalf("failed, on the follower: certificate %+v, want the leader's %+v", g, f)
	}
	if g := e.mustCertificate(t, gd.ID); g.Status != "issued" || !g.NotAfter.Equal(leaf.NotAfter) {
		t.Fatalf("issued, on the follower: certificate %+v", g)
	}

	// Deleting a failing domain deletes its failure, on every node.
	if r := e.do(t, "DELETE", "/v1/domains/"+xd.ID, e.key, nil); r.status != 200 {
		t.Fatalf("delete %s: %d %s", gone, r.status, r.body)
	}
	replicationtest.CaughtUp(t, follower, leader)
	for name, records := range map[string]*replication.Store{"leader": e.edge, "follower": followerRecords} {
		if _, ok, err := records.CertificateFailure(gone); ok || err != nil {
			t.Fatalf("the failure of deleted %s is still in the %s's store (%v)", gone, name, err)
		}
	}

	// A new leader's manager keeps the backoff: no attempt before
	// nextAttemptAt, so the failure shown is the same.
	if err := newManager(leader, e.edge, time.Now).RenewDue(ctx, e.edge.DomainHosts()); err != nil {
		t.Fatalf("RenewDue within the backoff: %v", err)
	}
	replicationtest.CaughtUp(t, follower, leader)
	if g := e.mustCertificate(t, bd.ID); g.Status != "failed" || !sameAttempt(g, f) {
		t.Fatalf("a new leader retried within the backoff: certificate %+v, want %+v", g, f)
	}
	// Past it, it tries again and doubles the wait (the second failure).
	later := func(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }
	if err := newManager(leader, e.edge, later(6*time.Minute)).RenewDue(ctx, e.edge.DomainHosts()); err == nil {
		t.Fatalf("RenewDue past the backoff: no failure for %s", bad)
	}
	replicationtest.CaughtUp(t, follower, leader)
	f2 := e.mustCertificate(t, bd.ID)
	if f2.Status != "failed" || f2.LastError == nil || !f2.LastError.At.After(f.LastError.At) ||
		f2.LastError.NextAttemptAt.Sub(f2.LastError.At) != 10*time.Minute {
		t.Fatalf("second failure, on the follower: certificate %+v, want a later attempt and a 10 minute wait", f2)
	}
	// Once bad resolves again, the next attempt succeeds and clears it.
	z.set(t, bad, "A 127.0.0.1")
	if err := newManager(leader, e.edge, later(17*time.Minute)).RenewDue(ctx, e.edge.DomainHosts()); err != nil {
		t.Fatalf("RenewDue once %s resolves: %v", bad, err)
	}
	replicationtest.CaughtUp(t, follower, leader)
	if g := e.mustCertificate(t, bd.ID); g.Status != "issued" || g.LastError != nil {
		t.Fatalf("after a success, on the follower: certificate %+v", g)
	}
	if _, ok, err := followerRecords.CertificateFailure(bad); ok || err != nil {
		t.Fatalf("the failure of %s outlived a success (%v)", bad, err)
	}

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
