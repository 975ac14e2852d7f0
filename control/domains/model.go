package domains

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
)

// DefaultRedirectStatus is the edges' own redirect status.
const DefaultRedirectStatus = 302

const maxURLLen = 2048

// Input is what a client writes when it creates or changes a domain.
type Input struct {
	Name           jsonbody.Opt[string] `json:"name"`
	RootURL        jsonbody.Opt[string] `json:"rootUrl"`
	NotFoundURL    jsonbody.Opt[string] `json:"notFoundUrl"`
	ExpiredURL     jsonbody.Opt[string] `json:"expiredUrl"`
	RedirectStatus jsonbody.Opt[int]    `json:"redirectStatus"`
	Indexable      jsonbody.Opt[bool]   `json:"indexable"`
	DoNotTrack     jsonbody.Opt[bool]   `json:"doNotTrack"`
	HTTPSRedirect  jsonbody.Opt[bool]   `json:"httpsRedirect"`
	HSTS           jsonbody.Opt[bool]   `json:"hsts"`
	Primary        jsonbody.Opt[bool]   `json:"primary"`
}

// DecodeInput reads a request body.
func DecodeInput(b []byte) (Input, error) {
	var in Input
	return in, jsonbody.Decode(b, &in)
}

// settings are a domain's attributes (store.Domain.Attrs).
type settings struct {
	RootURL        string `json:"rootUrl,omitempty"`
	NotFoundURL    string `json:"notFoundUrl,omitempty"`
	ExpiredURL     string `json:"expiredUrl,omitempty"`
	RedirectStatus int    `json:"redirectStatus,omitempty"`
	Indexable      bool   `json:"indexable,omitempty"`
	DoNotTrack     bool   `json:"doNotTrack,omitempty"`
	// NoHTTPSRedirect: negative so that settings stored before it existed
	// read as the default, redirecting (as kv.Domain does).
	NoHTTPSRedirect bool `json:"noHttpsRedirect,omitempty"`
	HSTS            bool `json:"hsts,omitempty"`
}

// Domain is a stored domain with its settings and last DNS findings decoded.
type Domain struct {
	store.Domain
	settings settings
	found    []Record
}

// Record is one DNS record, expected or found.
type Record struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

func decode(sd store.Domain) (Domain, error) {
	d := Domain{Domain: sd}
	if len(sd.Attrs) > 0 {
		if err := json.Unmarshal(sd.Attrs, &d.settings); err != nil {
			return Domain{}, fmt.Errorf("domain %s attrs: %w", sd.ID, err)
		}
	}
	if len(sd.Records) > 0 {
		if err := json.Unmarshal(sd.Records, &d.found); err != nil {
			return Domain{}, fmt.Errorf("domain %s records: %w", sd.ID, err)
		}
	}
	return d, nil
}

func (d *Domain) encode() (store.Domain, error) {
	attrs, err := json.Marshal(d.settings)
	if err != nil {
		return store.Domain{}, err
	}
	sd := d.Domain
	sd.Attrs = attrs
	if string(attrs) == "{}" {
		sd.Attrs = nil
	}
	sd.Records = nil
	if d.found != nil {
		if sd.Records, err = json.Marshal(d.found); err != nil {
			return store.Domain{}, err
		}
	}
	return sd, nil
}

// Served reports whether the edges have the domain.
func (d Domain) Served() bool { return d.Status == store.DomainVerified }

// record is what the edges get.
func (d Domain) record() kv.Domain {
	return kv.Domain{Host: d.Name, OrgID: d.OrgID, RootURL: d.settings.RootURL, NotFoundURL: d.settings.NotFoundURL,
		ExpiredURL: d.settings.ExpiredURL, Version: d.Version, DoNotTrack: d.settings.DoNotTrack,
		RedirectStatus: uint16(d.settings.RedirectStatus), Indexable: d.settings.Indexable,
		NoHTTPSRedirect: d.settings.NoHTTPSRedirect, HSTS: d.settings.HSTS}
}

func checkURL(field, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > maxURLLen {
		return apierror.Invalid(field, fmt.Sprintf("must be an http(s) URL with a host, at most %d bytes", maxURLLen))
	}
	return nil
}

// apply sets what in sets on d's settings (not name or primary).
func (d *Domain) apply(in Input) error {
	for _, f := range []struct {
		name string
		opt  jsonbody.Opt[string]
		dst  *string
	}{{"rootUrl", in.RootURL, &d.settings.RootURL}, {"notFoundUrl", in.NotFoundURL, &d.settings.NotFoundURL},
		{"expiredUrl", in.ExpiredURL, &d.settings.ExpiredURL}} {
		if !f.opt.Set {
			continue
		}
		if err := checkURL(f.name, f.opt.V); err != nil {
			return err
		}
		*f.dst = f.opt.V // null: ""
	}
	if in.RedirectStatus.Set {
		switch v := in.RedirectStatus.V; {
		case in.RedirectStatus.Null:
			d.settings.RedirectStatus = 0
		case v == 301 || v == 302 || v == 307 || v == 308:
			d.settings.RedirectStatus = v
		default:
			return apierror.Invalid("redirectStatus", "must be 301, 302, 307 or 308")
		}
	}
	if in.Indexable.Set {
		d.settings.Indexable = in.Indexable.V
	}
	if in.DoNotTrack.Set {
		d.settings.DoNotTrack = in.DoNotTrack.V
	}
	if in.HTTPSRedirect.Set {
		d.settings.NoHTTPSRedirect = !in.HTTPSRedirect.Null && !in.HTTPSRedirect.V // null: the default, on
	}
	if in.HSTS.Set {
		d.settings.HSTS = in.HSTS.V
	}
	// HSTS tells browsers never to use plain HTTP for the host: with the
	// redirect off the two settings contradict each other.
	if d.settings.HSTS && d.settings.NoHTTPSRedirect {
		field := "hsts"
		if in.HTTPSRedirect.Set && !in.HSTS.Set {
			field = "httpsRedirect"
		}
		return apierror.Invalid(field, "hsts needs httpsRedirect: turn hsts off first, or both in one request")
	}
	return nil
}

// Records are what a domain expects and what its last check found.
type Records struct {
	Expected []Record `json:"expected"`
	Found    []Record `json:"found"`
}

// View is how a domain is shown, by the API and in audit entries.
type View struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Status         string     `json:"status"`
	Primary        bool       `json:"primary"`
	RootURL        *string    `json:"rootUrl"`
	NotFoundURL    *string    `json:"notFoundUrl"`
	ExpiredURL     *string    `json:"expiredUrl"`
	RedirectStatus int        `json:"redirectStatus"`
	Indexable      bool       `json:"indexable"`
	DoNotTrack     bool       `json:"doNotTrack"`
	HTTPSRedirect  bool       `json:"httpsRedirect"`
	HSTS           bool       `json:"hsts"`
	Token          string     `json:"verificationToken"`
	Records        *Records   `json:"records,omitempty"`
	VerifiedAt     *time.Time `json:"verifiedAt"`
	LastCheckedAt  *time.Time `json:"lastCheckedAt"`
	// ServedUntil is set while a verified domain fails its checks: the end
	// of its grace period.
	ServedUntil *time.Time `json:"servedUntil,omitempty"`
	// Certificate is left out (zero) of audit entries: it is no setting.
	Certificate CertificateView `json:"certificate,omitzero"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
