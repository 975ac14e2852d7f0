package clustercert

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside a certificate directory.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// CertFile is the name of node id's certificate in a directory.
func CertFile(id string) string { return id + ".pem" }

// KeyFile is the name of node id's private key in a directory.
func KeyFile(id string) string { return id + "-key.pem" }

// NodeSpec is one certificate to mint.
type NodeSpec struct {
	ID    string
	Role  Role
	Hosts []string // extra SANs beyond loopback: the addresses peers dial
}

// ParseNodeList parses "c1,c2,c3,e1,e2" (the --nodes flag of h0p admin
// certs). Each entry is id or id:role. Without a role, an id starting with
// "e" is an edge and any other id is control. Ids must be unique.
func ParseNodeList(s string) ([]NodeSpec, error) {
	var specs []NodeSpec
	seen := map[string]bool{}
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, roleStr, hasRole := strings.Cut(entry, ":")
		var role Role
		switch {
		case hasRole:
			r, err := ParseRole(roleStr)
			if err != nil {
				return nil, fmt.Errorf("node %q: %w", entry, err)
			}
			role = r
		case strings.HasPrefix(id, "e"):
			role = Edge
		default:
			role = Control
		}
		if err := ValidateID(id); err != nil {
			return nil, err
		}
		if seen[id] {
			return nil, fmt.Errorf("node %q listed twice", id)
		}
		seen[id] = true
		specs = append(specs, NodeSpec{ID: id, Role: role})
	}
	if len(specs) == 0 {
		return nil, errors.New("node list is empty")
	}
	return specs, nil
}

// WriteDir writes ca.pem, ca-key.pem and, for each node, <id>.pem and
// <id>-key.pem into dir (created 0700 if missing; keys are 0600, certificates
// 0644), and the cluster secret unless dir has one (EnsureSecret). Unless overwrite is set it refuses to replace any existing file, and
// in particular an existing CA key, whose loss would orphan every certificate
// it signed. Every certificate is minted before the first file is written.
//
// Node certificates are valid from the time of the call: WriteDir is the
// operator's command, and its clock is the one that matters.
func WriteDir(dir string, ca CA, nodes []NodeSpec, overwrite bool) error {
	caKey, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	type file struct {
		name string
		data []byte
		mode fs.FileMode
	}
	// The CA key goes first so that it is what a refusal names.
	files := []file{{CAKeyFile, caKey, 0o600}, {CAFile, ca.CertPEM(), 0o644}}
	now := time.Now()
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n.ID] {
			return fmt.Errorf("write certificates: node %q listed twice", n.ID)
		}
		seen[n.ID] = true
		certPEM, keyPEM, err := ca.MintNode(n.ID, n.Role, n.Hosts, now)
		if err != nil {
			return err
		}
		files = append(files, file{CertFile(n.ID), certPEM, 0o644}, file{KeyFile(n.ID), keyPEM, 0o600})
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("certificate dir: %w", err)
	}
	if !overwrite {
		// Check everything first so a refusal writes nothing.
		for _, f := range files {
			p := filepath.Join(dir, f.name)
			if _, err := os.Lstat(p); err == nil {
				if f.name == CAKeyFile {
					return fmt.Errorf("write certificates: refusing to replace the CA key %s, which signed the certificates already issued (pass overwrite to replace it): %w", p, fs.ErrExist)
				}
				return fmt.Errorf("write certificates: %s exists (pass overwrite to replace it): %w", p, fs.ErrExist)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("write certificates: %w", err)
			}
		}
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.data, f.mode, overwrite); err != nil {
			return fmt.Errorf("write certificates: %w", err)
		}
	}
	return EnsureSecret(dir)
}

// LoadCA reads the CA certificate and key (ca.pem, ca-key.pem) from dir,
// to mint more certificates with it.
func LoadCA(dir string) (CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return CA{}, fmt.Errorf("load ca: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return CA{}, fmt.Errorf("load ca key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return CA{}, fmt.Errorf("load ca: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return CA{}, errors.New("load ca: the key is not ECDSA")
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return CA{}, fmt.Errorf("load ca: %w", err)
	}
	if !cert.IsCA {
		return CA{}, errors.New("load ca: ca.pem is not a CA certificate")
	}
	return CA{Cert: cert, Key: key}, nil
}

// AddNodes mints certificates for nodes with the CA already in dir and
// writes them beside it, refusing to replace any existing file.
func AddNodes(dir string, nodes []NodeSpec) error {
	ca, err := LoadCA(dir)
	if err != nil {
		return err
	}
	now := time.Now()
	type file struct {
		name string
		data []byte
		mode fs.FileMode
	}
	var files []file
	for _, n := range nodes {
		certPEM, keyPEM, err := ca.MintNode(n.ID, n.Role, n.Hosts, now)
		if err != nil {
			return err
		}
		files = append(files, file{CertFile(n.ID), certPEM, 0o644}, file{KeyFile(n.ID), keyPEM, 0o600})
	}
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil {
			return fmt.Errorf("write certificates: %s exists: %w", filepath.Join(dir, f.name), fs.ErrExist)
		}
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.data, f.mode, false); err != nil {
			return fmt.Errorf("write certificates: %w", err)
		}
	}
	return nil
}

// writeFile creates path with mode. Without overwrite it uses O_EXCL, so a
// file that appeared since the check is still not replaced. With overwrite
// it writes a temporary file and renames it over path, so the mode is the one
// asked for even when the old file had a looser one.
func writeFile(path string, data []byte, mode fs.FileMode, overwrite bool) error {
	if !overwrite {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return errors.Join(err, f.Sync(), f.Close())
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(mode), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Bundle is what a node needs for mutual TLS: the cluster CA and its own
// certificate and key.
type Bundle struct {
	ID   string
	Role Role
	// NotAfter is when the node certificate expires (for an expiry metric:
	// nothing renews it).
	NotAfter time.Time

	cert  tls.Certificate
	roots *x509.CertPool
}

// Load reads ca.pem, <id>.pem and <id>-key.pem from dir. It checks that the
// certificate belongs to node id, carries a role, and was signed by a CA in
// ca.pem, so a misplaced file fails at start rather than at every handshake.
// Expiry is left to the handshakes. ca.pem may hold several CA certificates
// (the old and new one while rotating the CA).
func Load(dir, id string) (*Bundle, error) {
	if err := ValidateID(id); err != nil {
		return nil, fmt.Errorf("load node certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("load cluster ca: %w", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile(id)))
	if err != nil {
		return nil, fmt.Errorf("load node certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile(id)))
	if err != nil {
		return nil, fmt.Errorf("load node key: %w", err)
	}
	return NewBundle(id, caPEM, certPEM, keyPEM)
}

// NewBundle is Load from bytes (for certificates that come from a secret
// store rather than a directory).
func NewBundle(id string, caPEM, certPEM, keyPEM []byte) (*Bundle, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("load cluster ca: no certificate in ca.pem")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load node %s certificate: %w", id, err)
	}
	leaf := cert.Leaf // set by X509KeyPair since Go 1.23
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("load node %s certificate: %w", id, err)
		}
	}
	gotID, role, err := identity(leaf)
	if err != nil {
		return nil, fmt.Errorf("load node %s certificate: %w", id, err)
	}
	if gotID != id {
		return nil, fmt.Errorf("load node %s certificate: it was issued to %q", id, gotID)
	}
	if !signedByOneOf(leaf, caPEM) {
		return nil, fmt.Errorf("load node %s certificate: not signed by the cluster ca in %s", id, CAFile)
	}
	return &Bundle{ID: id, Role: role, NotAfter: leaf.NotAfter, cert: cert, roots: roots}, nil
}

func parseCerts(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
}

func signedByOneOf(leaf *x509.Certificate, caPEM []byte) bool {
	for _, ca := range parseCerts(caPEM) {
		if leaf.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// ServerConfig is for the accepting side of node-to-node traffic: it presents
// the node certificate and requires a client certificate from the cluster CA.
// Which roles may connect is the caller's decision (see PeerIdentity). Each
// call returns a new config.
func (b *Bundle) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    b.roots,
	}
}

// ClientConfig is for the dialing side: it presents the node certificate and
// verifies the server's against the cluster CA and the dialed host (ServerName
// is left empty, so crypto/tls uses the host of the address dialed: the
// server's certificate must name it). Each call returns a new config.
func (b *Bundle) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.cert},
		RootCAs:      b.roots,
	}
}

// Client is the HTTP client a node calls other nodes with (ClientConfig).
// Besides the client's Timeout, each stage of a request is bounded, so
// that a request sent through the Transport alone (a control node
// forwarding an API write to the leader) cannot hang on a frozen peer.
func (b *Bundle) Client() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:       b.ClientConfig(),
			ForceAttemptHTTP2:     true,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		},
	}
}
