package kv

import (
	"fmt"
	"unicode/utf8"
)

// CertificateFailure is a custom domain's failing attempts to obtain a
// certificate: how many failed in a row, the last one's message (the ACME
// server's words, without the host and without secrets), when it failed
// and the earliest next attempt. The leader's certificate manager keeps it
// here so that every control node shows the same state and a new leader
// keeps the backoff. A success, or the domain's deletion, removes it; the
// FSM keeps one only while its host has a domain record, so an attempt
// that ends after the deletion leaves none. Edges store it and never read
// it.
type CertificateFailure struct {
	Host     string // lowercase, punycode
	Failures uint64 // in a row, at least 1
	Message  string // at most MaxCertificateFailureMessage bytes of UTF-8
	At       int64  // unix seconds
	Next     int64  // unix seconds
}

// MaxCertificateFailureMessage bounds a failure's message.
const MaxCertificateFailureMessage = 1024

const (
	certFailTagHost     = 1
	certFailTagFailures = 2
	certFailTagMessage  = 3
	certFailTagAt       = 4
	certFailTagNext     = 5
)

// PutCertificateFailure is a command that sets host f.Host's failure.
func PutCertificateFailure(f CertificateFailure) Command {
	return Command{Ops: []Op{{Type: OpPutCertificateFailure, CertificateFailure: &f}}}
}

// DeleteCertificateFailure is a command that removes host's failure.
func DeleteCertificateFailure(host string) Command {
	return Command{Ops: []Op{{Type: OpDeleteCertificateFailure, CertificateFailure: &CertificateFailure{Host: host}}}}
}

// CertificateFailureKey is the key of host's failure.
func CertificateFailureKey(host string) []byte { return append([]byte(prefixCertFailure), host...) }

// AppendCertificateFailure appends the record encoding of f to b.
func AppendCertificateFailure(b []byte, f *CertificateFailure) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.string(certFailTagHost, f.Host)
	w.uint(certFailTagFailures, f.Failures)
	w.string(certFailTagMessage, f.Message)
	w.uint(certFailTagAt, uint64(f.At))
	w.uint(certFailTagNext, uint64(f.Next))
	return w.b
}

// DecodeCertificateFailure decodes a CertificateFailure record.
func DecodeCertificateFailure(b []byte) (CertificateFailure, error) {
	body, err := checkVersion(b, RecordVersion, "certificate failure record")
	if err != nil {
		return CertificateFailure{}, err
	}
	var f CertificateFailure
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case certFailTagHost:
			f.Host = string(val)
		case certFailTagFailures:
			f.Failures = r.uint(tag, val)
		case certFailTagMessage:
			f.Message = string(val)
		case certFailTagAt:
			f.At = int64(r.uint(tag, val))
		case certFailTagNext:
			f.Next = int64(r.uint(tag, val))
		}
	}
	if r.err != nil {
		return CertificateFailure{}, fmt.Errorf("decode certificate failure record: %w", r.err)
	}
	return f, nil
}

// validCertificateFailure: what a put_certificate_failure op must hold.
func validCertificateFailure(f *CertificateFailure) bool {
	return f.Host != "" && f.Failures > 0 && f.Message != "" &&
		len(f.Message) <= MaxCertificateFailureMessage && utf8.ValidString(f.Message)
}
