package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/acme"

	"github.com/h0p/h0p/shared/kv"
)

// Challenges publishes HTTP-01 answers. In production it writes through
// raft, so every edge answers GET /.well-known/acme-challenge/<token> with
// keyAuthorization from its replicated store.
type Challenges interface {
	Put(ctx context.Context, token, keyAuthorization string) error
	Delete(ctx context.Context, token string) error
}

// Store keeps issued certificates, one per host, and the ACME account key.
// It only ever receives private keys sealed.
type Store interface {
	// Certificate returns host's certificate; ok is false if it has none.
	Certificate(ctx context.Context, host string) (c Certificate, ok bool, err error)
	PutCertificate(ctx context.Context, c Certificate) error
	// AccountKey returns the sealed account key; ok is false if none is kept.
	AccountKey(ctx context.Context) (sealedKey []byte, ok bool, err error)
	PutAccountKey(ctx context.Context, sealedKey []byte) error
	// Failure returns host's failing attempts; ok is false when none was
	// made or the last one succeeded.
	Failure(ctx context.Context, host string) (f Failure, ok bool, err error)
	PutFailure(ctx context.Context, f Failure) error
	DeleteFailure(ctx context.Context, host string) error
}

// Failure is what the Store holds of a host whose attempts are failing.
type Failure struct {
	Host     string
	Failures int       // in a row, at least 1
	Message  string    // the last one's, without the host (failureMessage)
	At       time.Time // when the last one failed
	Next     time.Time // no attempt before
}

// Sealer seals private keys before they reach the Store; *sealed.Key
// satisfies it.
type Sealer interface {
	Seal(plaintext []byte) []byte
	Open(sealed []byte) ([]byte, error)
}

// Certificate is what the Store holds for a host.
type Certificate struct {
	Host      string
	ChainPEM  []byte // leaf first, then the intermediates
	SealedKey []byte // the PEM PKCS #8 private key, sealed
	NotBefore time.Time
	NotAfter  time.Time
}

// Leaf parses the first certificate of the chain.
func (c Certificate) Leaf() (*x509.Certificate, error) {
	b, _ := pem.Decode(c.ChainPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate for %s: no PEM certificate in the chain", c.Host)
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate for %s: %w", c.Host, err)
	}
	return leaf, nil
}

// KeyPair opens the private key into memory and returns the certificate
// ready to serve, as an edge does.
func (c Certificate) KeyPair(s Sealer) (tls.Certificate, error) {
	keyPEM, err := s.Open(c.SealedKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate for %s: open the private key: %w", c.Host, err)
	}
	defer clear(keyPEM)
	kp, err := tls.X509KeyPair(c.ChainPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate for %s: %w", c.Host, err)
	}
	return kp, nil
}

// Manager obtains and renews certificates by ACME with HTTP-01 challenges.
// Set the fields, then call Obtain, RenewDue or Run; the fields must not
// change afterwards. Obtain and RenewDue are safe for concurrent use.
type Manager struct {
	DirectoryURL string // the ACME directory, e.g. Let's Encrypt's
	Email        string // the account's contact; may be empty
	// CARoot holds PEM roots trusted, besides the system's, for the ACME
	// server's HTTPS: a private CA or a test server. Unused if HTTPClient
	// is set.
	CARoot []byte
	// HTTPClient talks to the ACME server; nil: one trusting the system
	// roots and CARoot.
	HTTPClient *http.Client

	Challenges Challenges
	Store      Store
	Sealer     Sealer

	// RenewBefore is how long before expiry a certificate is renewed; zero:
	// when a third of its lifetime remains (30 days of a 90-day certificate).
	RenewBefore time.Duration
	// Interval is how often Run looks for certificates to obtain or renew;
	// zero: 10 minutes.
	Interval time.Duration
	// Backoff is the wait before retrying a host after a failure, doubled on
	// each further failure up to MaxBackoff; zero: 10 minutes and 6 hours,
	// which keeps a failing host within Let's Encrypt's limit of 5 failed
	// validations an hour.
	Backoff, MaxBackoff time.Duration

	Now    func() time.Time
	Logger *slog.Logger

	mu     sync.Mutex
	client *acme.Client // under mu
}

// Obtain gets a new certificate for host, with a new ECDSA P-256 key, and
// puts it in the Store. It registers the ACME account on first use.
func (m *Manager) Obtain(ctx context.Context, host string) (Certificate, error) {
	c, err := m.obtain(ctx, host)
	if err != nil {
		return Certificate{}, fmt.Errorf("certificate for %s: %w", host, err)
	}
	return c, nil
}

func (m *Manager) obtain(ctx context.Context, host string) (Certificate, error) {
	if err := checkHost(host); err != nil {
		return Certificate{}, err
	}
	client, err := m.acmeClient(ctx)
	if err != nil {
		return Certificate{}, err
	}
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(host))
	if err != nil {
		return Certificate{}, fmt.Errorf("new order: %w", err)
	}
	for _, u := range order.AuthzURLs {
		if err := m.authorize(ctx, client, u); err != nil {
			return Certificate{}, err
		}
	}
	if order, err = client.WaitOrder(ctx, order.URI); err != nil {
		return Certificate{}, fmt.Errorf("wait for the order: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Certificate{}, fmt.Errorf("generate the key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{host}}, key)
	if err != nil {
		return Certificate{}, fmt.Errorf("certificate request: %w", err)
	}
	der, _, err := client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return Certificate{}, fmt.Errorf("finalize the order: %w", err)
	}
	leaf, err := checkChain(der, host, key.Public())
	if err != nil {
		return Certificate{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return Certificate{}, err
	}
	var chain []byte
	for _, d := range der {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	c := Certificate{
		Host:      host,
		ChainPEM:  chain,
		SealedKey: m.Sealer.Seal(keyPEM),
		NotBefore: leaf.NotBefore,
		NotAfter:  leaf.NotAfter,
	}
	clear(keyPEM)
	if err := m.Store.PutCertificate(ctx, c); err != nil {
		return Certificate{}, fmt.Errorf("store: %w", err)
	}
	m.logger().Info("certificate obtained", "host", host, "serial", leaf.SerialNumber.Text(16), "notAfter", leaf.NotAfter)
	return c, nil
}

// authorize completes the HTTP-01 challenge of one authorization, unless
// the server holds it valid already (a recent order for the same host).
func (m *Manager) authorize(ctx context.Context, client *acme.Client, url string) error {
	z, err := client.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("get authorization: %w", err)
	}
	if z.Status == acme.StatusValid {
		return nil
	}
	var chal *acme.Challenge
	for _, c := range z.Challenges {
		if c.Type == "http-01" {
			chal = c
		}
	}
	if chal == nil {
		return fmt.Errorf("the ACME server offers no http-01 challenge for %s", z.Identifier.Value)
	}
	keyAuth, err := client.HTTP01ChallengeResponse(chal.Token)
	if err != nil {
		return fmt.Errorf("challenge response: %w", err)
	}
	if err := m.Challenges.Put(ctx, chal.Token, keyAuth); err != nil {
		return fmt.Errorf("publish the challenge: %w", err)
	}
	defer func() {
		// Remove the answer even when ctx ended: edges need not keep it.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := m.Challenges.Delete(dctx, chal.Token); err != nil {
			m.logger().Warn("challenge answer not deleted", "host", z.Identifier.Value, "err", err)
		}
	}()
	if _, err := client.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accept the challenge: %w", err)
	}
	if _, err := client.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("wait for authorization: %w", err)
	}
	return nil
}

// acmeClient returns the registered client, loading or creating the account
// key on first use.
func (m *Manager) acmeClient(ctx context.Context) (*acme.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil {
		return m.client, nil
	}
	key, err := m.accountKey(ctx)
	if err != nil {
		return nil, err
	}
	hc := m.HTTPClient
	if hc == nil {
		if hc, err = clientTrusting(m.CARoot); err != nil {
			return nil, err
		}
	}
	client := &acme.Client{Key: key, DirectoryURL: m.DirectoryURL, HTTPClient: hc, UserAgent: "h0p"}
	var acct acme.Account
	if m.Email != "" {
		acct.Contact = []string{"mailto:" + m.Email}
	}
	// Registering a known key returns ErrAccountAlreadyExists and binds the
	// client to that account, as a lookup would.
	if _, err := client.Register(ctx, &acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("register the ACME account: %w", err)
	}
	m.client = client
	return client, nil
}

func (m *Manager) accountKey(ctx context.Context) (crypto.Signer, error) {
	s, ok, err := m.Store.AccountKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the account key: %w", err)
	}
	if ok {
		keyPEM, err := m.Sealer.Open(s)
		if err != nil {
			return nil, fmt.Errorf("open the account key: %w", err)
		}
		defer clear(keyPEM)
		b, _ := pem.Decode(keyPEM)
		if b == nil {
			return nil, errors.New("account key: not PEM")
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("account key: %w", err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("account key: %T cannot sign", k)
		}
		return signer, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the account key: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	defer clear(keyPEM)
	if err := m.Store.PutAccountKey(ctx, m.Sealer.Seal(keyPEM)); err != nil {
		return nil, fmt.Errorf("store the account key: %w", err)
	}
	return key, nil
}

// RenewAt is when c is due: RenewBefore its expiry, or when a third of its
// lifetime remains.
func (m *Manager) RenewAt(c Certificate) time.Time {
	before := m.RenewBefore
	if before == 0 {
		before = c.NotAfter.Sub(c.NotBefore) / 3
	}
	return c.NotAfter.Add(-before)
}

// Due reports whether c should be renewed now.
func (m *Manager) Due(c Certificate) bool {
	return !m.now().Before(m.RenewAt(c))
}

// RenewDue obtains a certificate for each host that has none or whose
// certificate is due, skipping hosts that failed recently (backing off
// exponentially, from the failures in the Store, so a new leader's manager
// carries on its predecessor's backoff). It returns the failures joined,
// each naming its host.
func (m *Manager) RenewDue(ctx context.Context, hosts []string) error {
	var errs []error
	for _, host := range hosts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last, failing, err := m.Store.Failure(ctx, host)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate for %s: load the last failure: %w", host, err))
			continue
		}
		if failing && m.now().Before(last.Next) {
			continue
		}
		c, ok, err := m.Store.Certificate(ctx, host)
		if err != nil {
			err = fmt.Errorf("certificate for %s: load: %w", host, err)
		} else if ok && !m.Due(c) && !failing {
			continue // the common case: nothing to do, nothing written
		} else if !ok || m.Due(c) {
			_, err = m.Obtain(ctx, host)
			if ctx.Err() != nil {
				return ctx.Err() // stopped, not failed: no backoff
			}
		}
		// Reached with err nil and no attempt only when a failure outlived
		// a success (its deletion failed): record forgets it now.
		if rerr := m.record(ctx, host, last, failing, err); rerr != nil {
			errs = append(errs, rerr)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run calls RenewDue with hosts() at start and then every Interval, until
// ctx ends, logging each failure with its host and when it is retried.
func (m *Manager) Run(ctx context.Context, hosts func() []string) {
	every := m.Interval
	if every == 0 {
		every = 10 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_ = m.RenewDue(ctx, hosts()) // record has logged each failure
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Leaf returns the leaf of host's certificate, which holds no key
// material, and when it is due for renewal; leaf is nil if host has none.
func (m *Manager) Leaf(ctx context.Context, host string) (leaf *x509.Certificate, renewAt time.Time, err error) {
	c, ok, err := m.Store.Certificate(ctx, host)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("certificate for %s: load: %w", host, err)
	}
	if !ok {
		return nil, time.Time{}, nil
	}
	if leaf, err = c.Leaf(); err != nil {
		return nil, time.Time{}, err
	}
	return leaf, m.RenewAt(c), nil
}

// LastFailure returns, while host's attempts fail, the last one's error
// (without the host, which the caller knows), when it was made and the
// earliest next attempt; message is "" once an attempt succeeded, and
// before any. It reads the Store, so every control node answers the same
// whichever made the attempts.
func (m *Manager) LastFailure(ctx context.Context, host string) (message string, at, next time.Time, err error) {
	f, ok, err := m.Store.Failure(ctx, host)
	if err != nil {
		return "", time.Time{}, time.Time{}, fmt.Errorf("certificate for %s: load the last failure: %w", host, err)
	}
	if !ok {
		return "", time.Time{}, time.Time{}, nil
	}
	return f.Message, f.At, f.Next, nil
}

// failureMessage says why an attempt for host failed, in the ACME
// server's words when it gave some, without naming host: valid UTF-8, never
// empty, at most kv.MaxCertificateFailureMessage bytes.
func failureMessage(host string, err error) string {
	msg := strings.ToValidUTF8(rawFailureMessage(host, err), "\uFFFD")
	if msg == "" {
		return "unknown error"
	}
	if len(msg) <= kv.MaxCertificateFailureMessage {
		return msg
	}
	const more = "…"
	cut := kv.MaxCertificateFailureMessage - len(more)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + more
}

func rawFailureMessage(host string, err error) string {
	if az, ok := errors.AsType[*acme.AuthorizationError](err); ok {
		why := make([]string, len(az.Errors))
		for i, e := range az.Errors {
			why[i] = e.Error()
			if ae, ok := errors.AsType[*acme.Error](e); ok && ae.Detail != "" {
				why[i] = ae.Detail
			}
		}
		return "the ACME server could not validate the domain: " + strings.Join(why, "; ")
	}
	if ae, ok := errors.AsType[*acme.Error](err); ok && ae.Detail != "" {
		return "the ACME server refused: " + strings.TrimSpace(ae.Detail)
	}
	return strings.TrimSpace(strings.TrimPrefix(err.Error(), "certificate for "+host+": "))
}

// record keeps the outcome of an attempt for host in the Store: a failure
// (last, when failing, is the one before) with its backoff, or, after a
// success, the deletion of the previous failure. A success after none
// writes nothing.
func (m *Manager) record(ctx context.Context, host string, last Failure, failing bool, err error) error {
	if err == nil {
		if !failing {
			return nil
		}
		if err := m.Store.DeleteFailure(ctx, host); err != nil {
			return fmt.Errorf("certificate for %s: forget the last failure: %w", host, err)
		}
		return nil
	}
	f := Failure{Host: host, Failures: 1, Message: failureMessage(host, err), At: m.now()}
	if failing {
		f.Failures = last.Failures + 1
	}
	wait, limit := m.Backoff, m.MaxBackoff
	if wait == 0 {
		wait = 10 * time.Minute
	}
	if limit == 0 {
		limit = 6 * time.Hour
	}
	for i := 1; i < f.Failures && wait < limit; i++ {
		wait *= 2
	}
	wait = min(wait, limit)
	f.Next = f.At.Add(wait)
	m.logger().Warn("certificate not obtained; retrying later", "host", host, "failures", f.Failures, "retryIn", wait, "err", err)
	if err := m.Store.PutFailure(ctx, f); err != nil {
		return fmt.Errorf("certificate for %s: keep the failure: %w", host, err)
	}
	return nil
}

func (m *Manager) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

// checkHost accepts a lowercase DNS name without port or wildcard: HTTP-01
// cannot prove control of a wildcard or of an address.
func checkHost(host string) error {
	switch {
	case host == "" || len(host) > 253:
		return errors.New("host: empty or too long")
	case host != strings.ToLower(host):
		return errors.New("host: not lowercase")
	case strings.HasPrefix(host, "*."):
		return errors.New("host: HTTP-01 cannot validate a wildcard")
	case net.ParseIP(host) != nil:
		return errors.New("host: an address, not a name")
	case !strings.Contains(host, "."):
		return errors.New("host: not a fully qualified name")
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host: bad label %q", label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("host: bad character %q", r)
			}
		}
	}
	return nil
}

// checkChain parses what the ACME server issued and checks that the leaf
// names host and holds our key, so a confused server cannot plant a wrong
// certificate in the Store.
func checkChain(der [][]byte, host string, pub crypto.PublicKey) (*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, errors.New("the ACME server returned no certificate")
	}
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil {
		return nil, fmt.Errorf("parse the issued certificate: %w", err)
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !k.Equal(pub) {
		return nil, errors.New("issued certificate: not for our key")
	}
	return leaf, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode the key: %w", err)
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func clientTrusting(roots []byte) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if len(roots) > 0 && !pool.AppendCertsFromPEM(roots) {
		return nil, errors.New("CARoot: no PEM certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}
