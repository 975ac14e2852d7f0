package kv

import "fmt"

// Certificate is the TLS certificate an edge serves for a custom domain,
// chosen by SNI: the chain (leaf first) in PEM, and the private key sealed
// by control (shared/sealed, purpose CertificateKeyPurpose) — it never
// rests in the store nor travels through raft in plaintext; an edge opens
// it into memory. Version grows with each certificate of the host, so an
// edge knows when to parse again.
type Certificate struct {
	Host      string // lowercase, punycode
	ChainPEM  []byte
	SealedKey []byte
	NotAfter  int64 // unix seconds
	Version   uint64
}

// CertificateKeyPurpose is the shared/sealed purpose of certificate keys.
const CertificateKeyPurpose = "h0p certificate key"

const (
	certTagHost      = 1
	certTagChain     = 2
	certTagSealedKey = 3
	certTagNotAfter  = 4
	certTagVersion   = 5
)

// PutCertificate is a command that sets host c.Host's certificate.
func PutCertificate(c Certificate) Command {
	return Command{Ops: []Op{{Type: OpPutCertificate, Certificate: &c}}}
}

// DeleteCertificate is a command that removes host's certificate.
func DeleteCertificate(host string) Command {
	return Command{Ops: []Op{{Type: OpDeleteCertificate, Certificate: &Certificate{Host: host}}}}
}

// CertificateKey is the key of host's certificate.
func CertificateKey(host string) []byte { return append([]byte(prefixCertificate), host...) }

// AppendCertificate appends the record encoding of c to b.
func AppendCertificate(b []byte, c *Certificate) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.string(certTagHost, c.Host)
	w.bytes(certTagChain, c.ChainPEM)
	w.bytes(certTagSealedKey, c.SealedKey)
	w.uint(certTagNotAfter, uint64(c.NotAfter))
	w.uint(certTagVersion, c.Version)
	return w.b
}

// DecodeCertificate decodes a Certificate record.
func DecodeCertificate(b []byte) (Certificate, error) {
	body, err := checkVersion(b, RecordVersion, "certificate record")
	if err != nil {
		return Certificate{}, err
	}
	var c Certificate
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case certTagHost:
			c.Host = string(val)
		case certTagChain:
			c.ChainPEM = append([]byte(nil), val...)
		case certTagSealedKey:
			c.SealedKey = append([]byte(nil), val...)
		case certTagNotAfter:
			c.NotAfter = int64(r.uint(tag, val))
		case certTagVersion:
			c.Version = r.uint(tag, val)
		}
	}
	if r.err != nil {
		return Certificate{}, fmt.Errorf("decode certificate record: %w", r.err)
	}
	return c, nil
}
