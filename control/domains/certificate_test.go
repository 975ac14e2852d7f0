package domains

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store"
)

// certFacts is what a certificate manager knows of one host.
type certFacts struct {
	leaf          *x509.Certificate
	renewAt       time.Time
	why           string
	failed, retry time.Time
}

func (f certFacts) Leaf(context.Context, string) (*x509.Certificate, time.Time, error) {
	return f.leaf, f.renewAt, nil
}

func (f certFacts) LastFailure(context.Context, string) (string, time.Time, time.Time, error) {
	return f.why, f.failed, f.retry, nil
}

// TestCertificateStatus: the status each combination of domain status,
// certificate and failure decides (doc.go). The real manager's answers
// are tested through the API with pebble (control/api).
func TestCertificateStatus(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: start, NotAfter: start.Add(90 * 24 * time.Hour),
		Issuer: pkix.Name{CommonName: "Test Intermediate"}}
	renewAt := start.Add(60 * 24 * time.Hour)
	fail := certFacts{why: "the ACME server refused: rate limited", failed: start, retry: start.Add(10 * time.Minute)}
	withLeaf := func(f certFacts) certFacts { f.leaf, f.renewAt = leaf, renewAt; return f }
	tests := []struct {
		name     string
		certs    Certificates // nil: no ACME
		status   string       // the domain's
		now      time.Time
		want     string
		hasDates bool
		hasError bool
	}{
		{"no ACME", nil, store.DomainVerified, start, CertNone, false, false},
		{"not verified", withLeaf(certFacts{}), store.DomainPending, start, CertNone, false, false},
		{"lapsed", withLeaf(certFacts{}), store.DomainMisconfigured, start, CertNone, false, false},
		{"verified, none yet", certFacts{}, store.DomainVerified, start, CertPending, false, false},
		{"first attempt failed", fail, store.DomainVerified, start, CertFailed, false, true},
		{"valid", withLeaf(certFacts{}), store.DomainVerified, start.Add(time.Hour), CertIssued, true, false},
		{"due", withLeaf(certFacts{}), store.DomainVerified, renewAt, CertRenewing, true, false},
		{"due, renewal failing", withLeaf(fail), store.DomainVerified, renewAt.Add(time.Hour), CertRenewing, true, true},
		{"expired, renewal failing", withLeaf(fail), store.DomainVerified, leaf.NotAfter, CertFailed, true, true},
		{"expired, no failure yet", withLeaf(certFacts{}), store.DomainVerified, leaf.NotAfter, CertPending, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Service{Certificates: tt.certs, Now: func() time.Time { return tt.now }}
			got, err := s.certificate(t.Context(), Domain{Domain: store.Domain{ID: "dom_1", Name: "go.example.com", Status: tt.status}})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want {
				t.Errorf("status %q, want %q", got.Status, tt.want)
			}
			if dated := got.NotAfter != nil; dated != tt.hasDates || (got.NotBefore != nil) != dated || (got.RenewsAt != nil) != dated ||
				(got.Issuer != nil) != dated {
				t.Errorf("dates and issuer %+v, want them: %v", got, tt.hasDates)
			}
			if tt.hasDates && (!got.NotAfter.Equal(leaf.NotAfter) || !got.RenewsAt.Equal(renewAt) || *got.Issuer != "Test Intermediate") {
				t.Errorf("dates and issuer %v %v %v, want the leaf's", got.NotAfter, got.RenewsAt, *got.Issuer)
			}
			if (got.LastError != nil) != tt.hasError {
				t.Errorf("lastError %+v, want one: %v", got.LastError, tt.hasError)
			}
			if tt.hasError && (got.LastError.Message != fail.why || !got.LastError.NextAttemptAt.Equal(fail.retry)) {
				t.Errorf("lastError %+v", got.LastError)
			}
		})
	}
}
