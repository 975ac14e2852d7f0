package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/shared/kv"
)

// The HTTPS side: a second public listener (Config.TLSAddr) served by
// fasthttp's server over crypto/tls with the same handler as the plain
// side. The certificate is chosen by SNI from the replicated store
// (kv.Certificate); its sealed key is opened into memory once per version
// of the host's certificate and kept parsed, so a renewed certificate is
// served from the first handshake after its record arrives, with no
// restart. A ClientHello without SNI, or naming a host without a
// certificate, fails the handshake.

// KeyOpener opens a certificate's sealed private key (shared/sealed.Key,
// purpose kv.CertificateKeyPurpose).
type KeyOpener interface {
	Open(sealed []byte) ([]byte, error)
}

// certificateReader is a store that holds the custom domains'
// certificates: replication.Store.
type certificateReader interface {
	Certificate(host string) (kv.Certificate, bool, error)
}

// tlsSide is the HTTPS listener and what it serves.
type tlsSide struct {
	ln    net.Listener
	srv   *fasthttp.Server
	store certificateReader
	keys  KeyOpener

	mu     sync.Mutex
	parsed map[string]parsedCert // by host
}

type parsedCert struct {
	version uint64
	cert    *tls.Certificate
}

// listenTLS opens the HTTPS listener on s.cfg.TLSAddr.
func (s *Server) listenTLS(logger fasthttpLogger) error {
	store, ok := s.links.(certificateReader)
	if !ok || s.cfg.CertificateKeys == nil {
		return errors.New("edge: an HTTPS address needs a store with certificates and a key opener")
	}
	t := &tlsSide{store: store, keys: s.cfg.CertificateKeys, parsed: map[string]parsedCert{}}
	ln, err := net.Listen("tcp", s.cfg.TLSAddr)
	if err != nil {
		return fmt.Errorf("listen edge HTTPS on %s: %w", s.cfg.TLSAddr, err)
	}
	t.ln = tls.NewListener(ln, &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: t.certificate,
		NextProtos:     []string{"http/1.1"},
	})
	t.srv = s.newFasthttpServer(logger)
	s.tls = t
	return nil
}

// TLSAddr is the address of the HTTPS listener ("": none).
func (s *Server) TLSAddr() string {
	if s.tls == nil {
		return ""
	}
	return s.tls.ln.Addr().String()
}

func (s *Server) closeTLS() {
	if s.tls != nil {
		s.tls.ln.Close()
	}
}

// serve serves until ctx ends, then drains like the plain side.
func (t *tlsSide) serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- t.srv.Serve(t.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve edge HTTPS: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := t.srv.ShutdownWithContext(shutdownCtx); err != nil {
		return fmt.Errorf("drain edge HTTPS: %w", err)
	}
	return nil
}

// certificate is tls.Config.GetCertificate: the certificate of the host
// the client names.
func (t *tlsSide) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	var buf [256]byte
	host, ok := normalizeHost(buf[:0], []byte(hello.ServerName))
	if !ok || len(host) == 0 {
		return nil, errors.New("edge HTTPS: no server name")
	}
	rec, found, err := t.store.Certificate(string(host))
	switch {
	case err != nil:
		return nil, fmt.Errorf("edge HTTPS: %w", err)
	case !found:
		return nil, fmt.Errorf("edge HTTPS: no certificate for %s", host)
	}
	t.mu.Lock()
	p, ok := t.parsed[rec.Host]
	t.mu.Unlock()
	if ok && p.version == rec.Version {
		return p.cert, nil
	}
	key, err := t.keys.Open(rec.SealedKey)
	if err != nil {
		return nil, fmt.Errorf("edge HTTPS: key of %s: %w", rec.Host, err)
	}
	cert, err := tls.X509KeyPair(rec.ChainPEM, key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("edge HTTPS: certificate of %s: %w", rec.Host, err)
	}
	t.mu.Lock()
	if cur, ok := t.parsed[rec.Host]; !ok || cur.version < rec.Version {
		t.parsed[rec.Host] = parsedCert{version: rec.Version, cert: &cert}
	}
	t.mu.Unlock()
	return &cert, nil
}
