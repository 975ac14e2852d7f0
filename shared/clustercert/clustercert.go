package clustercert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// Role is what a node may do in the raft group. It is recorded in the node's
// certificate, so a node cannot claim another role than the one it was
// issued.
type Role string

const (
	// Control nodes run the API and are raft voters.
	Control Role = "control"
	// Edge nodes serve redirects and are raft non-voters.
	Edge Role = "edge"
	// Admin is an operator's certificate (h0p admin status, remove-node,
	// backup): it may call the operator endpoints of control, never join
	// the raft group or ship clicks.
	Admin Role = "admin"
)

// ParseRole accepts "control", "edge" or "admin".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Control, Edge, Admin:
		return r, nil
	}
	return "", fmt.Errorf("unknown node role %q (want %q, %q or %q)", s, Control, Edge, Admin)
}

// IsNode reports whether r is a raft member's role (control or edge).
func (r Role) IsNode() bool { return r == Control || r == Edge }

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	nodeValidity = 365 * 24 * time.Hour
	// backdate covers clock skew between the machine that mints and the
	// nodes: a certificate used a second after minting on a node whose
	// clock is a little behind must not be "not yet valid".
	backdate = 5 * time.Minute

	uriScheme = "h0p"
	uriHost   = "node"
)

// CA is the cluster certificate authority. Its key signs every node
// certificate; whoever holds it can mint a control (voter) certificate, so it
// belongs on the operator's machine, never on a node.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// MintCA creates a self-signed ECDSA P-256 CA valid for ten years from now
// (and from five minutes before it, for clock skew, as node certificates).
func MintCA(commonName string, now time.Time) (CA, error) {
	if commonName == "" {
		return CA{}, errors.New("mint ca: empty common name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CA{}, fmt.Errorf("mint ca: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return CA{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"H0p cluster"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Only node certificates hang below the CA: no intermediates.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return CA{}, fmt.Errorf("mint ca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return CA{}, fmt.Errorf("mint ca: parse: %w", err)
	}
	return CA{Cert: cert, Key: key}, nil
}

// CertPEM is the CA certificate, PEM-encoded (the content of ca.pem).
func (ca CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// KeyPEM is the CA private key as PKCS #8, PEM-encoded (ca-key.pem).
func (ca CA) KeyPEM() ([]byte, error) { return encodeKey(ca.Key) }

// MintNode issues the certificate of node id with role. It is valid for one
// year (never beyond the CA), for both TLS server and client use, and covers
// hosts (IP literals become IP SANs, the rest DNS SANs) plus 127.0.0.1, ::1
// and localhost. CommonName is id; identity and role are in the URI SAN
// h0p://node/<role>/<id>, which is what PeerIdentity reads.
func (ca CA) MintNode(id string, role Role, hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if ca.Cert == nil || ca.Key == nil {
		return nil, nil, errors.New("mint node: ca has no certificate or key")
	}
	if err := ValidateID(id); err != nil {
		return nil, nil, fmt.Errorf("mint node: %w", err)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, nil, fmt.Errorf("mint node %s: %w", id, err)
	}
	if now.After(ca.Cert.NotAfter) {
		return nil, nil, fmt.Errorf("mint node %s: ca expired at %s", id, ca.Cert.NotAfter.Format(time.RFC3339))
	}
	ips, names, err := splitHosts(append([]string{"127.0.0.1", "::1", "localhost"}, hosts...))
	if err != nil {
		return nil, nil, fmt.Errorf("mint node %s: %w", id, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("mint node %s: generate key: %w", id, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(nodeValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	// An operator's certificate only dials: were it a server's too, its
	// holder could answer for a node (a raft peer, a control API) at an
	// address it names.
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if role == Admin {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: id, Organization: []string{"H0p cluster"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usage,
		BasicConstraintsValid: true,
		IPAddresses:           ips,
		DNSNames:              names,
		URIs:                  []*url.URL{nodeURI(id, role)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("mint node %s: %w", id, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("mint node %s: %w", id, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func nodeURI(id string, role Role) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: "/" + string(role) + "/" + id}
}

// PeerIdentity reads the node id and role from the peer's verified
// certificate. A connection whose chain was not verified (no client
// certificate, InsecureSkipVerify) has no identity and is an error, as is a
// certificate without exactly one h0p://node/ URI or whose CommonName
// disagrees with it.
func PeerIdentity(state tls.ConnectionState) (id string, role Role, err error) {
	if len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return "", "", errors.New("peer identity: no verified peer certificate")
	}
	return identity(state.VerifiedChains[0][0])
}

func identity(leaf *x509.Certificate) (string, Role, error) {
	var found *url.URL
	for _, u := range leaf.URIs {
		if u.Scheme != uriScheme || u.Host != uriHost {
			continue
		}
		if found != nil {
			return "", "", errors.New("peer identity: certificate names more than one node")
		}
		found = u
	}
	if found == nil {
		return "", "", errors.New("peer identity: certificate has no h0p://node/ URI")
	}
	roleStr, id, ok := strings.Cut(strings.TrimPrefix(found.Path, "/"), "/")
	if !ok {
		return "", "", fmt.Errorf("peer identity: malformed node URI %q", found)
	}
	role, err := ParseRole(roleStr)
	if err != nil {
		return "", "", fmt.Errorf("peer identity: %w", err)
	}
	if err := ValidateID(id); err != nil {
		return "", "", fmt.Errorf("peer identity: %w", err)
	}
	if leaf.Subject.CommonName != id {
		return "", "", fmt.Errorf("peer identity: common name %q does not match node URI id %q", leaf.Subject.CommonName, id)
	}
	return id, role, nil
}

// ValidateID checks a node id: 1 to 64 characters of lowercase letters,
// digits, '.', '_' and '-', starting with a letter or digit. Because ids name
// files next to the CA's, "ca" and ids ending in "-key" are refused.
func ValidateID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("node id %q: want 1 to 64 characters", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return fmt.Errorf("node id %q: want lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", id)
		}
	}
	if id == "ca" || strings.HasSuffix(id, "-key") {
		return fmt.Errorf("node id %q is reserved (its files would collide with the CA's or a key's)", id)
	}
	return nil
}

// splitHosts sorts hosts into IP and DNS SANs, dropping duplicates.
func splitHosts(hosts []string) ([]net.IP, []string, error) {
	var ips []net.IP
	var names []string
	seen := map[string]bool{}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.ToLower(h)
		if h == "" || strings.ContainsAny(h, ":/ \t[]@") {
			return nil, nil, fmt.Errorf("host %q is neither an IP address nor a DNS name (no ports)", h)
		}
		if !seen[h] {
			seen[h] = true
			names = append(names, h)
		}
	}
	return ips, names, nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
