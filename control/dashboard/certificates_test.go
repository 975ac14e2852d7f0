package dashboard_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/certs/pebbletest"
	"github.com/h0p/h0p/shared/dnstest"
)

// TestDomainCertificate: control, with pebble as its ACME server, obtains
// a certificate for a verified domain, the real edge answering the
// HTTP-01 challenge; the domain's page and the domains list show it
// issued, with its expiry and renewal dates. A domain whose validation
// cannot succeed (its CNAME leads where no edge listens) shows failed, and
// why, in words.
func TestDomainCertificate(t *testing.T) {
	const good, bad = "links.example.test", "broken.example.test"
	z := dnstest.Start(t)
	s := mustStartWithEdge(t, withDNS(z), func(c *control.Config) {
		port, err := strconv.Atoi(c.ShortLinkPort) // the edge's: where pebble validates
		if err != nil {
			t.Fatal(err)
		}
		acme := pebbletest.Start(t, pebbletest.Options{HTTPPort: port, DNSServer: z.Addr(), Validity: 3600})
		c.ACMEDirectory, c.ACMECARoot, c.ACMEInterval = acme.Directory, acme.Minica, 100*time.Millisecond
		c.Records, c.Secret = c.EdgeDomains.(control.ACMERecords), bytes.Repeat([]byte{5}, 32) // the edge's store
		c.EdgeIPs, c.LocalSuffixes = []string{"127.0.0.1"}, []string{"test"}
	})
	ctx := context.Background()
	owner := s.owner(t)
	b := s.mustPerson(t, "ada@example.com", "admin")

	add := func(name string, records ...[3]string) apiclient.Domain {
		t.Helper()
		d, err := owner.AddDomain(ctx, apiclient.DomainInput{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		if p := b.get("/domains/" + d.ID); !strings.Contains(p.body, "None yet: one is obtained once the domain is verified.") {
			t.Errorf("the pending domain's page does not say it has no certificate yet:\n%s", p.body)
		}
		z.Set(t, "_h0p-challenge."+name, "TXT", `"`+d.VerificationToken+`"`)
		for _, r := range records {
			z.Set(t, r[0], r[1], r[2])
		}
		if d, err = owner.VerifyDomain(ctx, d.ID); err != nil || d.Status != "verified" {
			t.Fatalf("verify %s: %+v %v", name, d, err)
		}
		return d
	}
	gd := add(good, [3]string{good, "A", "127.0.0.1"})
	bd := add(bad, [3]string{bad, "CNAME", "edge.example.net."}, [3]string{"edge.example.net", "A", "127.0.0.2"})

	// Control obtains the certificates by itself (ACMEInterval).
	wait := func(id, status string) apiclient.Domain {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			d, err := owner.GetDomain(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if d.Certificate.Status == status {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: certificate %+v, want %s", d.Name, d.Certificate, status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	gc := wait(gd.ID, "issued").Certificate
	bc := wait(bd.ID, "failed").Certificate
	if gc.NotAfter == nil || gc.RenewsAt == nil || bc.LastError == nil {
		t.Fatalf("issued %+v, failed %+v", gc, bc)
	}

	p := b.get("/domains/" + gd.ID)
	expires, renews := gc.NotAfter.UTC().Format("2006-01-02 15:04 UTC"), gc.RenewsAt.UTC().Format("2006-01-02 15:04 UTC")
	for _, want := range []string{`<span class="badge">issued</span>`, "Valid: the edges serve the domain over HTTPS",
		"Certificate expires", expires, "Certificate renewal", renews, "Certificate issuer", *gc.Issuer} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the issued domain's page has no %q", want)
		}
	}
	p = b.get("/domains/" + bd.ID)
	for _, want := range []string{`<span class="badge">failed</span>`, "Not obtained: the last attempt failed",
		"Last certificate attempt", "the ACME server could not validate the domain", "Next attempt after"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the failed domain's page has no %q", want)
		}
	}
	if strings.Contains(p.body, "Certificate expires") {
		t.Errorf("the failed domain's page shows an expiry")
	}
	p = b.get("/domains")
	for _, want := range []string{`<span class="badge">issued</span> until <time datetime="` + gc.NotAfter.UTC().Format(time.RFC3339),
		`<span class="badge">failed</span>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the domains list has no %q:\n%s", want, p.body)
		}
	}
}
