package kv

import "fmt"

// RecordVersion is the format version byte of Link and LinkState records.
const RecordVersion byte = 1

// Link is what an edge needs to answer a request for one short link. Control
// decides every field before the command is logged. Times are Unix
// milliseconds, 0 meaning unset. The zero value of every field is the
// product default (302, forward the query, no expiry, …), so an absent field
// decodes to the default.
type Link struct {
	ID      string // link_…
	OrgID   string // org_…
	Domain  string // lowercase host, e.g. "localhost"
	Slug    string // case-sensitive path after the host, without the leading '/'
	URL     string // destination
	Version uint64 // per-link version, bigger for every change

	Status         uint16 // redirect status: 301, 302, 307 or 308; 0 means 302
	ExpiresAt      int64
	ExpiredURL     string // where an expired link goes; "" for the domain's or a 410
	ValidSince     int64  // not found before this
	MaxClicks      uint64 // expired after this many clicks; 0 for no limit
	Disabled       bool
	PasswordHash   string // argon2id PHC string; "" for no password
	NoForwardQuery bool   // do not merge the request's query into the destination
	UTM            []QueryParam
	Rules          []Rule // in order, first match wins; shorthands (ios, android, geo) already expanded
	Variants       []Variant
	Preview        Preview
	Indexable      bool // allow search engines (no X-Robots-Tag: noindex)
	// ClicksExhausted: control counted MaxClicks clicks; the link answers
	// as expired. (Set by click ingestion.)
	ClicksExhausted bool
	DoNotTrack      bool // its redirects capture no click
}

// QueryParam is one query parameter; in a rule, an empty Value means "present".
type QueryParam struct {
	Name, Value string
}

// Rule sends matching requests to URL. All the conditions that are set must
// hold; within a list, any element matches.
type Rule struct {
	URL       string
	Devices   []string // ios, android, mobile, desktop
	OS        []string
	Browsers  []string
	Countries []string // ISO 3166-1 alpha-2
	Languages []string // primary language subtags, lowercase
	Query     []QueryParam
	After     int64 // only at or after
	Before    int64 // only before
}

// Variant is one A/B destination with its weight (weights sum to 100).
type Variant struct {
	URL    string
	Weight uint32
}

// Preview is what social and chat bots are shown.
type Preview struct {
	Title, Description, Image string
}

// Field tags of a Link record. Never reuse a tag number.
const (
	linkTagID             = 1
	linkTagOrgID          = 2
	linkTagDomain         = 3
	linkTagSlug           = 4
	linkTagURL            = 5
	linkTagVersion        = 6
	linkTagStatus         = 7
	linkTagExpiresAt      = 8
	linkTagExpiredURL     = 9
	linkTagValidSince     = 10
	linkTagMaxClicks      = 11
	linkTagDisabled       = 12
	linkTagPasswordHash   = 13
	linkTagNoForwardQuery = 14
	linkTagUTM            = 15 // repeated QueryParam
	linkTagRule           = 16 // repeated Rule
	linkTagVariant        = 17 // repeated Variant
	linkTagPreview        = 18
	linkTagIndexable      = 19
	linkTagExhausted      = 20
	linkTagDoNotTrack     = 21
)

// Tags inside nested records.
const (
	paramTagName  = 1
	paramTagValue = 2

	ruleTagURL      = 1
	ruleTagDevice   = 2
	ruleTagOS       = 3
	ruleTagBrowser  = 4
	ruleTagCountry  = 5
	ruleTagLanguage = 6
	ruleTagQuery    = 7
	ruleTagAfter    = 8
	ruleTagBefore   = 9

	variantTagURL    = 1
	variantTagWeight = 2

	previewTagTitle       = 1
	previewTagDescription = 2
	previewTagImage       = 3
)

func appendParam(p QueryParam) []byte {
	w := fieldWriter{}
	w.string(paramTagName, p.Name)
	w.string(paramTagValue, p.Value)
	return w.b
}

// nested writes a sub-record field, even when empty (an empty rule still
// counts as a rule).
func (w *fieldWriter) nested(tag uint64, b []byte) { w.bytes(tag, b) }

// AppendLink appends the record encoding of l to b.
func AppendLink(b []byte, l *Link) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.string(linkTagID, l.ID)
	w.string(linkTagOrgID, l.OrgID)
	w.string(linkTagDomain, l.Domain)
	w.string(linkTagSlug, l.Slug)
	w.string(linkTagURL, l.URL)
	w.uint(linkTagVersion, l.Version)
	w.uint(linkTagStatus, uint64(l.Status))
	w.uint(linkTagExpiresAt, uint64(l.ExpiresAt))
	w.string(linkTagExpiredURL, l.ExpiredURL)
	w.uint(linkTagValidSince, uint64(l.ValidSince))
	w.uint(linkTagMaxClicks, l.MaxClicks)
	w.bool(linkTagDisabled, l.Disabled)
	w.string(linkTagPasswordHash, l.PasswordHash)
	w.bool(linkTagNoForwardQuery, l.NoForwardQuery)
	for _, p := range l.UTM {
		w.nested(linkTagUTM, appendParam(p))
	}
	for _, r := range l.Rules {
		rw := fieldWriter{}
		rw.string(ruleTagURL, r.URL)
		for _, v := range r.Devices {
			rw.bytes(ruleTagDevice, []byte(v))
		}
		for _, v := range r.OS {
			rw.bytes(ruleTagOS, []byte(v))
		}
		for _, v := range r.Browsers {
			rw.bytes(ruleTagBrowser, []byte(v))
		}
		for _, v := range r.Countries {
			rw.bytes(ruleTagCountry, []byte(v))
		}
		for _, v := range r.Languages {
			rw.bytes(ruleTagLanguage, []byte(v))
		}
		for _, q := range r.Query {
			rw.nested(ruleTagQuery, appendParam(q))
		}
		rw.uint(ruleTagAfter, uint64(r.After))
		rw.uint(ruleTagBefore, uint64(r.Before))
		w.nested(linkTagRule, rw.b)
	}
	for _, v := range l.Variants {
		vw := fieldWriter{}
		vw.string(variantTagURL, v.URL)
		vw.uint(variantTagWeight, uint64(v.Weight))
		w.nested(linkTagVariant, vw.b)
	}
	if l.Preview != (Preview{}) {
		pw := fieldWriter{}
		pw.string(previewTagTitle, l.Preview.Title)
		pw.string(previewTagDescription, l.Preview.Description)
		pw.string(previewTagImage, l.Preview.Image)
		w.nested(linkTagPreview, pw.b)
	}
	w.bool(linkTagIndexable, l.Indexable)
	w.bool(linkTagExhausted, l.ClicksExhausted)
	w.bool(linkTagDoNotTrack, l.DoNotTrack)
	return w.b
}

func decodeParam(b []byte) (QueryParam, error) {
	var p QueryParam
	r := fieldReader{b: b}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case paramTagName:
			p.Name = string(val)
		case paramTagValue:
			p.Value = string(val)
		}
	}
	return p, r.err
}

func decodeRule(b []byte) (Rule, error) {
	var ru Rule
	r := fieldReader{b: b}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case ruleTagURL:
			ru.URL = string(val)
		case ruleTagDevice:
			ru.Devices = append(ru.Devices, string(val))
		case ruleTagOS:
			ru.OS = append(ru.OS, string(val))
		case ruleTagBrowser:
			ru.Browsers = append(ru.Browsers, string(val))
		case ruleTagCountry:
			ru.Countries = append(ru.Countries, string(val))
		case ruleTagLanguage:
			ru.Languages = append(ru.Languages, string(val))
		case ruleTagQuery:
			p, err := decodeParam(val)
			if err != nil {
				return Rule{}, err
			}
			ru.Query = append(ru.Query, p)
		case ruleTagAfter:
			ru.After = int64(r.uint(tag, val))
		case ruleTagBefore:
			ru.Before = int64(r.uint(tag, val))
		}
	}
	return ru, r.err
}

// DecodeLink decodes a Link record. Strings are copied, so b may be reused.
func DecodeLink(b []byte) (Link, error) {
	body, err := checkVersion(b, RecordVersion, "link record")
	if err != nil {
		return Link{}, err
	}
	var l Link
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case linkTagID:
			l.ID = string(val)
		case linkTagOrgID:
			l.OrgID = string(val)
		case linkTagDomain:
			l.Domain = string(val)
		case linkTagSlug:
			l.Slug = string(val)
		case linkTagURL:
			l.URL = string(val)
		case linkTagVersion:
			l.Version = r.uint(tag, val)
		case linkTagStatus:
			l.Status = uint16(r.uint(tag, val))
		case linkTagExpiresAt:
			l.ExpiresAt = int64(r.uint(tag, val))
		case linkTagExpiredURL:
			l.ExpiredURL = string(val)
		case linkTagValidSince:
			l.ValidSince = int64(r.uint(tag, val))
		case linkTagMaxClicks:
			l.MaxClicks = r.uint(tag, val)
		case linkTagDisabled:
			l.Disabled = r.uint(tag, val) != 0
		case linkTagPasswordHash:
			l.PasswordHash = string(val)
		case linkTagNoForwardQuery:
			l.NoForwardQuery = r.uint(tag, val) != 0
		case linkTagUTM:
			p, err := decodeParam(val)
			if err != nil {
				return Link{}, fmt.Errorf("decode link record: %w", err)
			}
			l.UTM = append(l.UTM, p)
		case linkTagRule:
			ru, err := decodeRule(val)
			if err != nil {
				return Link{}, fmt.Errorf("decode link record: %w", err)
			}
			l.Rules = append(l.Rules, ru)
		case linkTagVariant:
			var v Variant
			vr := fieldReader{b: val}
			for t, x, ok := vr.next(); ok; t, x, ok = vr.next() {
				switch t {
				case variantTagURL:
					v.URL = string(x)
				case variantTagWeight:
					v.Weight = uint32(vr.uint(t, x))
				}
			}
			if vr.err != nil {
				return Link{}, fmt.Errorf("decode link record: %w", vr.err)
			}
			l.Variants = append(l.Variants, v)
		case linkTagPreview:
			pr := fieldReader{b: val}
			for t, x, ok := pr.next(); ok; t, x, ok = pr.next() {
				switch t {
				case previewTagTitle:
					l.Preview.Title = string(x)
				case previewTagDescription:
					l.Preview.Description = string(x)
				case previewTagImage:
					l.Preview.Image = string(x)
				}
			}
			if pr.err != nil {
				return Link{}, fmt.Errorf("decode link record: %w", pr.err)
			}
		case linkTagIndexable:
			l.Indexable = r.uint(tag, val) != 0
		case linkTagExhausted:
			l.ClicksExhausted = r.uint(tag, val) != 0
		case linkTagDoNotTrack:
			l.DoNotTrack = r.uint(tag, val) != 0
		}
	}
	if r.err != nil {
		return Link{}, fmt.Errorf("decode link record: %w", r.err)
	}
	return l, nil
}

// LinkState is the FSM's bookkeeping for one link ID: which version it last
// applied and where the link currently lives, or that it was deleted.
type LinkState struct {
	Version uint64
	Domain  string
	Slug    string
	Deleted bool
}

const (
	stateTagVersion = 1
	stateTagDomain  = 2
	stateTagSlug    = 3
	stateTagDeleted = 4
)

// AppendLinkState appends the record encoding of s to b.
func AppendLinkState(b []byte, s *LinkState) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.uint(stateTagVersion, s.Version)
	w.string(stateTagDomain, s.Domain)
	w.string(stateTagSlug, s.Slug)
	w.bool(stateTagDeleted, s.Deleted)
	return w.b
}

// DecodeLinkState decodes a LinkState record.
func DecodeLinkState(b []byte) (LinkState, error) {
	body, err := checkVersion(b, RecordVersion, "link state")
	if err != nil {
		return LinkState{}, err
	}
	var s LinkState
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case stateTagVersion:
			s.Version = r.uint(tag, val)
		case stateTagDomain:
			s.Domain = string(val)
		case stateTagSlug:
			s.Slug = string(val)
		case stateTagDeleted:
			s.Deleted = r.uint(tag, val) != 0
		}
	}
	if r.err != nil {
		return LinkState{}, fmt.Errorf("decode link state: %w", r.err)
	}
	return s, nil
}

// Node is a member of the raft group as the cluster knows it: control nodes
// publish their API address so followers can forward writes to the leader and
// edges can find control. It holds no secret.
type Node struct {
	ID      string `json:"id"`
	Role    string `json:"role"`              // "control" or "edge"
	APIAddr string `json:"apiAddr,omitempty"` // control API base URL; empty for edges
}

const (
	nodeTagID      = 1
	nodeTagRole    = 2
	nodeTagAPIAddr = 3
)

// AppendNode appends the record encoding of n to b.
func AppendNode(b []byte, n *Node) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.string(nodeTagID, n.ID)
	w.string(nodeTagRole, n.Role)
	w.string(nodeTagAPIAddr, n.APIAddr)
	return w.b
}

// DecodeNode decodes a Node record.
func DecodeNode(b []byte) (Node, error) {
	body, err := checkVersion(b, RecordVersion, "node record")
	if err != nil {
		return Node{}, err
	}
	var n Node
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case nodeTagID:
			n.ID = string(val)
		case nodeTagRole:
			n.Role = string(val)
		case nodeTagAPIAddr:
			n.APIAddr = string(val)
		}
	}
	if r.err != nil {
		return Node{}, fmt.Errorf("decode node record: %w", r.err)
	}
	return n, nil
}

// Domain is a short domain's own settings, used when no link answers.
type Domain struct {
	Host        string // lowercase, punycode
	OrgID       string
	RootURL     string // where "/" goes; "" for a 404
	NotFoundURL string // where unknown slugs go; "" for a 404 page
	ExpiredURL  string // where expired links go when they name none
	Version     uint64
	DoNotTrack  bool // redirects of its links capture no click
	// RedirectStatus is the status of its links that set none (kv.Link's
	// Status 0): 301, 302, 307 or 308; 0 means 302.
	RedirectStatus uint16
	Indexable      bool // robots.txt allows crawling; answers carry no X-Robots-Tag: noindex
	// NoHTTPSRedirect keeps plain HTTP requests on HTTP even when the host
	// has a certificate. Negative so that a record written before the
	// field existed decodes to the default, redirecting.
	NoHTTPSRedirect bool
	HSTS            bool // answers over HTTPS carry Strict-Transport-Security

	// Certified is not part of the record: the edge store's in-memory
	// mirror sets it when the host has a certificate (kv.Certificate), so
	// the edge knows from one lookup whether plain HTTP goes to HTTPS.
	// AppendDomain ignores it; DecodeDomain leaves it false.
	Certified bool
}

// RedirectsToHTTPS reports whether a plain HTTP request for d's host goes
// to HTTPS: it has a certificate and does not opt out.
func (d *Domain) RedirectsToHTTPS() bool { return d.Certified && !d.NoHTTPSRedirect }

const (
	domainTagHost            = 1
	domainTagOrgID           = 2
	domainTagRootURL         = 3
	domainTagNotFoundURL     = 4
	domainTagExpiredURL      = 5
	domainTagVersion         = 6
	domainTagDoNotTrack      = 7
	domainTagRedirectStatus  = 8
	domainTagIndexable       = 9
	domainTagNoHTTPSRedirect = 10
	domainTagHSTS            = 11
)

// AppendDomain appends the record encoding of d to b.
func AppendDomain(b []byte, d *Domain) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.string(domainTagHost, d.Host)
	w.string(domainTagOrgID, d.OrgID)
	w.string(domainTagRootURL, d.RootURL)
	w.string(domainTagNotFoundURL, d.NotFoundURL)
	w.string(domainTagExpiredURL, d.ExpiredURL)
	w.uint(domainTagVersion, d.Version)
	w.bool(domainTagDoNotTrack, d.DoNotTrack)
	w.uint(domainTagRedirectStatus, uint64(d.RedirectStatus))
	w.bool(domainTagIndexable, d.Indexable)
	w.bool(domainTagNoHTTPSRedirect, d.NoHTTPSRedirect)
	w.bool(domainTagHSTS, d.HSTS)
	return w.b
}

// DecodeDomain decodes a Domain record.
func DecodeDomain(b []byte) (Domain, error) {
	body, err := checkVersion(b, RecordVersion, "domain record")
	if err != nil {
		return Domain{}, err
	}
	var d Domain
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case domainTagHost:
			d.Host = string(val)
		case domainTagOrgID:
			d.OrgID = string(val)
		case domainTagRootURL:
			d.RootURL = string(val)
		case domainTagNotFoundURL:
			d.NotFoundURL = string(val)
		case domainTagExpiredURL:
			d.ExpiredURL = string(val)
		case domainTagVersion:
			d.Version = r.uint(tag, val)
		case domainTagDoNotTrack:
			d.DoNotTrack = r.uint(tag, val) != 0
		case domainTagRedirectStatus:
			d.RedirectStatus = uint16(r.uint(tag, val))
		case domainTagIndexable:
			d.Indexable = r.uint(tag, val) != 0
		case domainTagNoHTTPSRedirect:
			d.NoHTTPSRedirect = r.uint(tag, val) != 0
		case domainTagHSTS:
			d.HSTS = r.uint(tag, val) != 0
		}
	}
	if r.err != nil {
		return Domain{}, fmt.Errorf("decode domain record: %w", r.err)
	}
	return d, nil
}
