package domains

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"
)

// Certificates is what the service asks of the certificate manager
// (control/certs.Manager satisfies it), nil when control obtains none.
type Certificates interface {
	// Leaf returns the leaf of host's certificate and when it is due for
	// renewal; leaf is nil if host has none.
	Leaf(ctx context.Context, host string) (leaf *x509.Certificate, renewAt time.Time, err error)
	// LastFailure returns, while host's attempts fail, the last one's
	// error, when it was made and the earliest next attempt; message is ""
	// otherwise. Every control node answers the same, whichever made the
	// attempts.
	LastFailure(ctx context.Context, host string) (message string, at, next time.Time, err error)
}

// Certificate statuses (doc.go).
const (
	CertNone     = "none"
	CertPending  = "pending"
	CertIssued   = "issued"
	CertRenewing = "renewing"
	CertFailed   = "failed"
)

// CertificateView is a domain's certificate as the API shows it: public
// facts only, never key material.
type CertificateView struct {
	Status    string       `json:"status"`
	NotBefore *time.Time   `json:"notBefore"`
	NotAfter  *time.Time   `json:"notAfter"`
	RenewsAt  *time.Time   `json:"renewsAt"`
	Issuer    *string      `json:"issuer"`
	LastError *CertAttempt `json:"lastError"`
}

// CertAttempt is a failed attempt to obtain a certificate.
type CertAttempt struct {
	Message       string    `json:"message"`
	At            time.Time `json:"at"`
	NextAttemptAt time.Time `json:"nextAttemptAt"`
}

// certificate decides d's certificate state (doc.go).
func (s *Service) certificate(ctx context.Context, d Domain) (CertificateView, error) {
	v := CertificateView{Status: CertNone}
	if s.Certificates == nil || !d.Served() {
		return v, nil
	}
	leaf, renewAt, err := s.Certificates.Leaf(ctx, d.Name)
	if err != nil {
		return CertificateView{}, fmt.Errorf("domain %s: %w", d.ID, err)
	}
	msg, at, next, err := s.Certificates.LastFailure(ctx, d.Name)
	if err != nil {
		return CertificateView{}, fmt.Errorf("domain %s: %w", d.ID, err)
	}
	if msg != "" {
		v.LastError = &CertAttempt{Message: msg, At: at.UTC(), NextAttemptAt: next.UTC()}
	}
	now := s.now()
	valid := leaf != nil && now.Before(leaf.NotAfter)
	if leaf != nil {
		v.NotBefore, v.NotAfter, v.RenewsAt = optTime(leaf.NotBefore.UTC()), optTime(leaf.NotAfter.UTC()), optTime(renewAt.UTC())
		v.Issuer = optString(leaf.Issuer.CommonName)
	}
	switch {
	case valid && now.Before(renewAt):
		v.Status = CertIssued
	case valid:
		v.Status = CertRenewing
	case v.LastError != nil:
		v.Status = CertFailed
	default:
		v.Status = CertPending
	}
	return v, nil
}
