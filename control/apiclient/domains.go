package apiclient

import (
	"context"
	"iter"
	"net/url"
	"time"
)

// Domain is a custom short domain of the org.
type Domain struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Status            string            `json:"status"` // pending, verified, misconfigured
	Primary           bool              `json:"primary"`
	RootURL           *string           `json:"rootUrl"`
	NotFoundURL       *string           `json:"notFoundUrl"`
	ExpiredURL        *string           `json:"expiredUrl"`
	RedirectStatus    int               `json:"redirectStatus"`
	Indexable         bool              `json:"indexable"`
	DoNotTrack        bool              `json:"doNotTrack"`
	HTTPSRedirect     bool              `json:"httpsRedirect"`
	HSTS              bool              `json:"hsts"`
	VerificationToken string            `json:"verificationToken"`
	Records           *DomainRecords    `json:"records,omitempty"`
	VerifiedAt        *time.Time        `json:"verifiedAt"`
	LastCheckedAt     *time.Time        `json:"lastCheckedAt"`
	ServedUntil       *time.Time        `json:"servedUntil,omitempty"`
	Certificate       DomainCertificate `json:"certificate"`
	CreatedAt         time.Time         `json:"createdAt"`
	UpdatedAt         time.Time         `json:"updatedAt"`
}

// DomainRecords are the DNS records a domain needs (Expected) and those
// its last check found.
type DomainRecords struct {
	Expected []DNSRecord `json:"expected"`
	Found    []DNSRecord `json:"found"`
}

// DomainCertificate is the TLS certificate the edges serve for a domain:
// Status is none, pending, issued, renewing or failed; the dates and the
// issuer are nil without a certificate; LastError is set while attempts to
// obtain one fail.
type DomainCertificate struct {
	Status    string              `json:"status"`
	NotBefore *time.Time          `json:"notBefore"`
	NotAfter  *time.Time          `json:"notAfter"`
	RenewsAt  *time.Time          `json:"renewsAt"`
	Issuer    *string             `json:"issuer"`
	LastError *CertificateAttempt `json:"lastError"`
}

// CertificateAttempt is a failed attempt to obtain a certificate.
type CertificateAttempt struct {
	Message       string    `json:"message"`
	At            time.Time `json:"at"`
	NextAttemptAt time.Time `json:"nextAttemptAt"`
}

// DNSRecord is one DNS record.
type DNSRecord struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// DomainInput is a domain as a client writes it; only the fields set are
// sent, and Clear names fields to send as null (cleared).
type DomainInput struct {
	Name           *string `json:"name,omitempty"`
	RootURL        *string `json:"rootUrl,omitempty"`
	NotFoundURL    *string `json:"notFoundUrl,omitempty"`
	ExpiredURL     *string `json:"expiredUrl,omitempty"`
	RedirectStatus *int    `json:"redirectStatus,omitempty"`
	Indexable      *bool   `json:"indexable,omitempty"`
	DoNotTrack     *bool   `json:"doNotTrack,omitempty"`
	HTTPSRedirect  *bool   `json:"httpsRedirect,omitempty"`
	HSTS           *bool   `json:"hsts,omitempty"`
	Primary        *bool   `json:"primary,omitempty"`

	Clear []string `json:"-"`
}

// MarshalJSON writes the fields set, and null for each field of Clear.
func (in DomainInput) MarshalJSON() ([]byte, error) {
	return withNulls(domainInputJSON(in), in.Clear)
}

type domainInputJSON DomainInput

// AddDomain adds a custom domain (POST /v1/domains); it is pending until
// its DNS records check out (VerifyDomain).
func (c *Client) AddDomain(ctx context.Context, in DomainInput) (Domain, error) {
	var d Domain
	return d, c.Do(ctx, "POST", "/v1/domains", nil, in, &d)
}

// ListDomains reads one page of the org's domains, oldest first.
func (c *Client) ListDomains(ctx context.Context, q ListQuery) (Page[Domain], error) {
	var p Page[Domain]
	return p, c.Do(ctx, "GET", "/v1/domains", q.Values(), nil, &p)
}

// AllDomains yields every domain of the org.
func (c *Client) AllDomains(ctx context.Context, q ListQuery) iter.Seq2[Domain, error] {
	return all(ctx, q.Cursor, func(ctx context.Context, cursor string) (Page[Domain], error) {
		q.Cursor = cursor
		return c.ListDomains(ctx, q)
	})
}

// GetDomain reads domain id.
func (c *Client) GetDomain(ctx context.Context, id string) (Domain, error) {
	var d Domain
	return d, c.Do(ctx, "GET", "/v1/domains/"+url.PathEscape(id), nil, nil, &d)
}

// UpdateDomain changes the settings in sets.
func (c *Client) UpdateDomain(ctx context.Context, id string, in DomainInput) (Domain, error) {
	var d Domain
	return d, c.Do(ctx, "PATCH", "/v1/domains/"+url.PathEscape(id), nil, in, &d)
}

// VerifyDomain checks domain id's DNS records now and answers the domain
// with its new status and what the check found.
func (c *Client) VerifyDomain(ctx context.Context, id string) (Domain, error) {
	var d Domain
	return d, c.Do(ctx, "POST", "/v1/domains/"+url.PathEscape(id)+"/verify", nil, nil, &d)
}

// DeleteDomain deletes domain id; force deletes its links too (the API
// refuses to delete a domain that has links otherwise).
func (c *Client) DeleteDomain(ctx context.Context, id string, force bool) error {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	return c.Do(ctx, "DELETE", "/v1/domains/"+url.PathEscape(id), q, nil, nil)
}
