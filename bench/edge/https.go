package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/sealed"
)

// The HTTPS runs (-tls): the edge's HTTPS listener (fasthttp's server over
// crypto/tls, the certificate chosen by SNI from the store) against nginx
// (listen ... ssl, TLS 1.3 only) with the same certificate and map.
const (
	// keepAlive runs HTTPS as the plain runs do: 64 connections, each
	// handshaking once.
	keepAlive = "keepalive"
	// handshake sends every request with Connection: close, so each one
	// is a new TCP connection and TLS handshake.
	handshake = "handshake"
)

// tlsHost is the name wrk connects to and sends as SNI, and the host of
// the certificate in the edge store: wrk takes both from its URL, whose
// host must resolve, and the links' domain (bench.h0p) does not. The
// requests keep Host: bench.h0p, so they resolve the same links as the
// plain runs (bench/README.md).
const tlsHost = "localhost"

// In dir/tls: the certificate (leaf, then CA) and its key for nginx, and
// the secret the edge store's copy of the key is sealed with, which the
// edge child opens it with.
const (
	tlsDir    = "tls"
	tlsCert   = "cert.pem"
	tlsKey    = "key.pem"
	tlsSecret = "secret"
	tlsCA     = "ca.pem"
)

// parseTLS reads -tls.
func parseTLS(names string) ([]string, error) {
	var kinds []string
	for _, name := range strings.Split(names, ",") {
		switch name = strings.TrimSpace(name); name {
		case "", "none":
		case keepAlive, handshake:
			if !slices.Contains(kinds, name) {
				kinds = append(kinds, name)
			}
		default:
			return nil, fmt.Errorf("unknown -tls run %q (keepalive, handshake, none)", name)
		}
	}
	return kinds, nil
}

// writeTLS mints a CA and a leaf for tlsHost (ECDSA P-256, as ACME
// issuers give by default), writes the chain and the key into dir/tls for
// nginx with a fresh secret, and returns the certificate as the edge store
// holds it: the key sealed with that secret, as control seals it.
func writeTLS(dir string) (kv.Certificate, error) {
	dir = filepath.Join(dir, tlsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return kv.Certificate{}, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return kv.Certificate{}, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "h0p bench links CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return kv.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return kv.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return kv.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: tlsHost},
		DNSNames: []string{tlsHost}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return kv.Certificate{}, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return kv.Certificate{}, err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	secret := make([]byte, sealed.MinSecret)
	rand.Read(secret)
	for name, b := range map[string][]byte{tlsCert: chain, tlsKey: keyPEM, tlsSecret: secret, tlsCA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil { // nginx's workers read as nobody
			return kv.Certificate{}, err
		}
	}
	keys, err := sealed.NewKey(secret, kv.CertificateKeyPurpose)
	if err != nil {
		return kv.Certificate{}, err
	}
	return kv.Certificate{Host: tlsHost, ChainPEM: chain, SealedKey: keys.Seal(keyPEM),
		NotAfter: tmpl.NotAfter.Unix(), Version: 1}, nil
}

// certificateKeys is the edge child's opener of the sealed key, from the
// secret writeTLS left in dir.
func certificateKeys(dir string) (*sealed.Key, error) {
	secret, err := os.ReadFile(filepath.Join(dir, tlsDir, tlsSecret))
	if err != nil {
		return nil, err
	}
	return sealed.NewKey(secret, kv.CertificateKeyPurpose)
}

// nginxTLSServer is nginx's HTTPS server: the plain one's map and answers,
// TLS 1.3 only, and keep-alive without nginx's default limit of 1000
// requests a connection (the edge sets none), which would add a handshake
// every 1000 requests to nginx's keep-alive runs.
const nginxTLSServer = `
	server {
		listen %s ssl;
		ssl_certificate %s;
		ssl_certificate_key %s;
		ssl_protocols TLSv1.3;
		keepalive_requests 1000000000;
		location / {
			if ($target = "") { return 404; }
			return 302 $target;
		}
	}
`

// checkHTTPS gets a link over HTTPS from addr twice, each on a new
// connection, naming tlsHost and verifying the chain against the bench's
// CA: the server serves the certificate by SNI and answers the links.
// TLS 1.3 is required, as of wrk's runs. resumed says whether the second
// connection resumed the first's session (a TLS 1.3 ticket), as wrk's
// OpenSSL does on every reconnection when the server allows it.
func checkHTTPS(dir, addr, slug string) (resumed bool, _ error) {
	ca, err := os.ReadFile(filepath.Join(dir, tlsDir, tlsCA))
	if err != nil {
		return false, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
			RootCAs: roots, ServerName: tlsHost, MinVersion: tls.VersionTLS13,
			ClientSessionCache: tls.NewLRUClientSessionCache(1)}},
	}
	for range 2 {
		req, err := http.NewRequest("GET", "https://"+addr+slug, nil)
		if err != nil {
			return false, err
		}
		req.Host = domain
		req.Header.Set("User-Agent", browserUA) // its click counts like wrk's
		resp, err := client.Do(req)
		if err != nil {
			return false, fmt.Errorf("HTTPS: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") == "" {
			return false, fmt.Errorf("HTTPS GET %s: %s, Location %q", slug, resp.Status, resp.Header.Get("Location"))
		}
		resumed = resp.TLS.DidResume
	}
	return resumed, nil
}

// tlsURL is wrk's URL of an HTTPS server listening on addr (127.0.0.1:port).
func tlsURL(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return "https://" + tlsHost + ":" + port + "/"
}

// httpsRatios sets the means of the HTTPS rounds' ratios.
func (r *sizeResult) httpsRatios() {
	for i := range r.EdgeHTTPS {
		k := float64(len(r.EdgeHTTPS))
		r.RatioHTTPSRPS += r.EdgeHTTPS[i].RPS / r.NginxHTTPS[i].RPS / k
		r.RatioHTTPSP99 += r.EdgeHTTPS[i].P99US / r.NginxHTTPS[i].P99US / k
		r.RatioHTTPSCPU += r.EdgeHTTPS[i].CPUUS / r.NginxHTTPS[i].CPUUS / k
	}
	for i := range r.EdgeHandshake {
		k := float64(len(r.EdgeHandshake))
		r.RatioHandshakeRPS += r.EdgeHandshake[i].RPS / r.NginxHandshake[i].RPS / k
		r.RatioHandshakeCPU += r.EdgeHandshake[i].CPUUS / r.NginxHandshake[i].CPUUS / k
	}
}

// httpsTables writes one layout's HTTPS tables, if it has HTTPS runs.
func httpsTables(b *strings.Builder, sizes []sizeResult) {
	if len(sizes) == 0 || len(sizes[0].EdgeHTTPS)+len(sizes[0].EdgeHandshake) == 0 {
		return
	}
	fmt.Fprintf(b, "\nHTTPS: TLS 1.3, the same ECDSA P-256 certificate (for %s, wrk's SNI) for both servers; the edge's HTTPS listener is fasthttp's server over crypto/tls. \"Keep-alive\" as the runs above; \"new connections\": every request with Connection: close, so each one is a TCP connection and a TLS handshake, and requests/s is handshakes/s. wrk (OpenSSL) resumes each connection's last session when the server gives tickets, as both do by default (resumption checked with a Go client: edge %s, nginx %s): its new connections are then resumed handshakes (a PSK with an X25519 exchange, no certificate signature), as a returning browser's; wrk's latency starts after the handshake. Same rounds, alternating.\n\n", tlsHost, yesNo(sizes[0].EdgeHTTPSResumes), yesNo(sizes[0].NginxHTTPSResumes))
	b.WriteString("| links | connections | server | requests/s | p50 | p99 | p99.9 | errors | CPU a request | edge/nginx requests/s (per round) | edge/nginx p99 | edge/nginx CPU a request |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	perRound := func(a, n []wrkRun) string {
		var xs []string
		for i := range a {
			xs = append(xs, fmt.Sprintf("%.2f", a[i].RPS/n[i].RPS))
		}
		return strings.Join(xs, ", ")
	}
	for _, s := range sizes {
		for _, kind := range []struct {
			name          string
			edge, nginx   []wrkRun
			rps, p99, cpu float64
		}{
			{"keep-alive", s.EdgeHTTPS, s.NginxHTTPS, s.RatioHTTPSRPS, s.RatioHTTPSP99, s.RatioHTTPSCPU},
			{"new connections", s.EdgeHandshake, s.NginxHandshake, s.RatioHandshakeRPS, 0, s.RatioHandshakeCPU},
		} {
			if len(kind.edge) == 0 {
				continue
			}
			for _, side := range []struct {
				name string
				runs []wrkRun
			}{{s.edgeLabel(), kind.edge}, {"nginx", kind.nginx}} {
				m := meanRun(side.runs)
				ratios := "| | |"
				if side.name != "nginx" {
					p99 := "—" // the latency excludes the handshake (wrk times from the request's write)
					if kind.p99 > 0 {
						p99 = fmt.Sprintf("%.2f×", kind.p99)
					}
					ratios = fmt.Sprintf("%.2f× (%s) | %s | %.2f× |", kind.rps, perRound(kind.edge, kind.nginx), p99, kind.cpu)
				}
				fmt.Fprintf(b, "| %d | %s | %s | %.0f | %.2f ms | %.2f ms | %.2f ms | %d | %.1f µs | %s\n",
					s.Links, kind.name, side.name, m.RPS, m.P50US/1000, m.P99US/1000, m.P999US/1000, m.Errors, m.CPUUS, ratios)
			}
		}
	}
}

// closeLua sends every request with Connection: close: each one opens a
// new connection, whose TLS handshake wrk does before writing the request.
const closeLua = `
local initKeepAlive = init
function init(args)
	wrk.headers["Connection"] = "close"
	initKeepAlive(args)
end
`

// benchHTTPS runs cfg.tls's HTTPS runs of the edge and nginx, after
// checking that both answer a link over TLS 1.3 with the bench's
// certificate: per kind, a warm-up of each, then rounds alternating which
// starts. run is benchLayout's runScript.
func benchHTTPS(d data, n int, l layout, cfg benchConfig, res *sizeResult, edgeS, nginx *server,
	run func(script string, s *server, dur time.Duration, args ...string) (wrkRun, error)) error {
	if len(cfg.tls) == 0 {
		return nil
	}
	keys, err := os.ReadFile(filepath.Join(d.dir, "keys"))
	if err != nil {
		return err
	}
	slug, _, _ := strings.Cut(string(keys), "\n")
	for s, resumes := range map[*server]*bool{edgeS.tls: &res.EdgeHTTPSResumes, nginx.tls: &res.NginxHTTPSResumes} {
		if *resumes, err = checkHTTPS(d.dir, s.addr, slug); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	keepAliveScript, closeScript := filepath.Join(d.dir, "random.lua"), filepath.Join(d.dir, "close.lua")
	if err := os.WriteFile(closeScript, []byte(luaScript+closeLua), 0o644); err != nil {
		return err
	}
	for _, kind := range cfg.tls {
		script, runs := keepAliveScript, map[*server]*[]wrkRun{edgeS.tls: &res.EdgeHTTPS, nginx.tls: &res.NginxHTTPS}
		if kind == handshake {
			script, runs = closeScript, map[*server]*[]wrkRun{edgeS.tls: &res.EdgeHandshake, nginx.tls: &res.NginxHandshake}
		}
		pair := []*server{edgeS.tls, nginx.tls}
		for _, s := range pair {
			if _, err := run(script, s, cfg.warmup); err != nil {
				return err
			}
		}
		for i := range cfg.rounds {
			for k := range pair {
				s := pair[(i+k)%len(pair)]
				log.Printf("%d links, %s: HTTPS %s, round %d, %s", n, l.Name, kind, i+1, s.name)
				r, err := run(script, s, cfg.duration)
				if err != nil {
					return err
				}
				*runs[s] = append(*runs[s], r)
			}
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
