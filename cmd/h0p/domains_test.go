package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/certs/pebbletest"
	"github.com/h0p/h0p/shared/dnstest"
)

// README's custom-domain walk-through, on h0p dev, with a real DNS server
// and Let's Encrypt's pebble as the ACME server: add links.example.test,
// see it pending with the records to publish, publish them, verify, create
// a link on it, follow it over plain HTTP with Host: links.example.test,
// wait for the certificate dev's control obtains (HTTP-01, answered by the
// edge), and follow the link over HTTPS with SNI, the chain verified
// against pebble's root.
func TestDevCustomDomainWalkthrough(t *testing.T) {
	const host = "links.example.test"
	dns := dnstest.Start(t)
	edgeAddr := freeAddr(t) // pebble validates HTTP-01 on the edge's port
	// Certificates of 30 s: renewed when a third is left, 20 s after issue.
	acme := pebbletest.Start(t, pebbletest.Options{HTTPPort: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(edgeAddr)).Port,
		DNSServer: dns.Addr(), Validity: 30})
	caRoot := filepath.Join(t.TempDir(), "pebble-minica.pem")
	if err := os.WriteFile(caRoot, acme.Minica, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := devConfig{
		APIAddr: "127.0.0.1:0", EdgeAddr: edgeAddr, EdgeTLSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), DefaultDomain: "localhost",
		Domains: domainFlags{edgeHost: "edge.localhost", edgeIPs: "127.0.0.1,::1", resolver: dns.Addr(),
			period: time.Hour, grace: 72 * time.Hour, localSuffixes: "test"},
		ACME: acmeFlags{directory: acme.Directory, email: "ops@example.test", caRoot: caRoot, interval: 200 * time.Millisecond},
	}
	d := mustStartDevWith(t, cfg, quiet)
	defer d.stop(t)
	key := keyLine.FindStringSubmatch(d.stdout)[1]

	// 1. Add the domain: pending, with the records to publish.
	status, dom := d.api(t, "POST", "/v1/domains", key, `{"name":"`+host+`"}`)
	if status != 201 || dom["status"] != "pending" {
		t.Fatalf("add: %d %v", status, dom)
	}
	id, token := dom["id"].(string), dom["verificationToken"].(string)
	if records, _ := json.Marshal(dom["records"]); !strings.Contains(string(records), token) {
		t.Fatalf("the expected records do not show the token: %v", dom["records"])
	}
	// 2. Publish them, verify.
	dns.Set(t, "_h0p-challenge."+host, "TXT", `"`+token+`"`)
	dns.Set(t, host, "A", "127.0.0.1")
	if status, dom = d.api(t, "POST", "/v1/domains/"+id+"/verify", key, ""); status != 200 || dom["status"] != "verified" {
		t.Fatalf("verify: %d %v", status, dom)
	}
	// A destination on it would loop now that the edges serve it.
	if status, e := d.api(t, "POST", "/v1/links", key, `{"url":"https://`+host+`/elsewhere"}`); status != 400 {
		t.Errorf("a destination on the custom domain: %d %v", status, e)
	}
	// 3. A link on it, followed over plain HTTP. Once the certificate is
	// there, plain HTTP redirects to HTTPS first.
	if status, l := d.api(t, "POST", "/v1/links", key, `{"url":"https://example.com/walk","domain":"`+host+`","key":"walk"}`); status != 201 {
		t.Fatalf("create link: %d %v", status, l)
	}
	req, _ := http.NewRequest("GET", "http://"+d.edge.Addr()+"/walk", nil)
	req.Host = host
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !(resp.StatusCode == 302 && loc == "https://example.com/walk") &&
		!(resp.StatusCode == 308 && loc == "https://"+host+"/walk") {
		t.Fatalf("plain HTTP: %d %q", resp.StatusCode, loc)
	}
	// 4. The certificate: control obtains it while it leads; the edge
	// serves it by SNI, chained to pebble's root.
	roots := acme.Roots(t)
	tlsConf := &tls.Config{RootCAs: roots, ServerName: host}
	served := func() string { // the serial the edge serves, "" for none yet
		conn, err := tls.Dial("tcp", d.edge.TLSAddr(), tlsConf)
		if err != nil {
			return ""
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	waitServed := func(what string, ok func(serial string) bool) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			if s := served(); ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s for %s on the edge", what, host)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	first := waitServed("certificate", func(s string) bool { return s != "" })
	// 5. The link over HTTPS.
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{TLSClientConfig: tlsConf, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, d.edge.TLSAddr())
		}},
	}
	resp, err = client.Get("https://" + host + "/walk")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://example.com/walk" {
		t.Fatalf("HTTPS: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// 6. Renewal: the edge serves the next certificate, no restart.
	renewed := waitServed("renewed certificate", func(s string) bool { return s != "" && s != first })
	t.Logf("certificate %s renewed as %s", first, renewed)
	// 7. Deleting the domain, its link with it, takes its certificate off
	// the edges.
	if status, e := d.api(t, "DELETE", "/v1/domains/"+id+"?force=true", key, ""); status != 200 {
		t.Fatalf("delete: %d %v", status, e)
	}
	waitServed("removal of the certificate", func(s string) bool { return s == "" })
}
