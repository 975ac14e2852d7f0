package links

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/control/slug"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/geo"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/urlhost"
)

// RuleInput is a targeting rule as clients write it.
type RuleInput struct {
	URL      string            `json:"url"`
	Device   []string          `json:"device,omitempty"`
	OS       []string          `json:"os,omitempty"`
	Browser  []string          `json:"browser,omitempty"`
	Country  []string          `json:"country,omitempty"`
	Language []string          `json:"language,omitempty"`
	Query    map[string]string `json:"query,omitempty"` // name → value; "" means "present"
	After    *time.Time        `json:"after,omitempty"`
	Before   *time.Time        `json:"before,omitempty"`
}

type Variant struct {
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

type UTM struct {
	Source   string `json:"source,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Term     string `json:"term,omitempty"`
	Content  string `json:"content,omitempty"`
}

type Preview struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Image       string `json:"image,omitempty"`
}

// Input is a link as a client writes it (create, update, upsert, bulk,
// import): each member may be absent (kept, or its default on create),
// null (cleared) or a value. Its json tags are the API's names.
type Input struct {
	URL            jsonbody.Opt[string]            `json:"url"`
	Domain         jsonbody.Opt[string]            `json:"domain"`
	Key            jsonbody.Opt[string]            `json:"key"`
	Title          jsonbody.Opt[string]            `json:"title"`
	Description    jsonbody.Opt[string]            `json:"description"`
	Image          jsonbody.Opt[string]            `json:"image"`
	ExternalID     jsonbody.Opt[string]            `json:"externalId"`
	Comments       jsonbody.Opt[string]            `json:"comments"`
	Tags           jsonbody.Opt[[]string]          `json:"tags"`
	ExpiresAt      jsonbody.Opt[time.Time]         `json:"expiresAt"`
	ValidSince     jsonbody.Opt[time.Time]         `json:"validSince"`
	ExpiredURL     jsonbody.Opt[string]            `json:"expiredUrl"`
	Password       jsonbody.Opt[string]            `json:"password"`
	IOS            jsonbody.Opt[string]            `json:"ios"`
	Android        jsonbody.Opt[string]            `json:"android"`
	Geo            jsonbody.Opt[map[string]string] `json:"geo"`
	Rules          jsonbody.Opt[[]RuleInput]       `json:"rules"`
	Variants       jsonbody.Opt[[]Variant]         `json:"variants"`
	UTM            jsonbody.Opt[UTM]               `json:"utm"`
	ForwardQuery   jsonbody.Opt[bool]              `json:"forwardQuery"`
	Archived       jsonbody.Opt[bool]              `json:"archived"`
	Disabled       jsonbody.Opt[bool]              `json:"disabled"`
	DoIndex        jsonbody.Opt[bool]              `json:"doIndex"`
	DoNotTrack     jsonbody.Opt[bool]              `json:"doNotTrack"`
	RedirectStatus jsonbody.Opt[int]               `json:"redirectStatus"`
	MaxClicks      jsonbody.Opt[int64]             `json:"maxClicks"`
	Preview        jsonbody.Opt[Preview]           `json:"preview"`

	// createdAt backdates an imported link to when the file says it was
	// made.
	createdAt time.Time
}

// changes reports whether in sets anything but url and domain, which
// pick the link an upsert finds.
func (in Input) changes() bool {
	return in.Key.Set || in.Title.Set || in.Description.Set || in.Image.Set || in.ExternalID.Set ||
		in.Comments.Set || in.Tags.Set || in.ExpiresAt.Set || in.ValidSince.Set || in.ExpiredURL.Set ||
		in.Password.Set || in.IOS.Set || in.Android.Set || in.Geo.Set || in.Rules.Set || in.Variants.Set ||
		in.UTM.Set || in.ForwardQuery.Set || in.Archived.Set || in.Disabled.Set || in.DoIndex.Set ||
		in.DoNotTrack.Set || in.RedirectStatus.Set || in.MaxClicks.Set || in.Preview.Set
}

// DecodeInput reads a JSON object into an Input by jsonbody's rules: the
// first name problem in the body (unknown, matching only
// case-insensitively, given twice, nested too deep), else the first value
// of the wrong type, is one VALIDATION_ERROR naming its field.
func DecodeInput(raw []byte) (Input, error) {
	var in *Input // stays nil for null
	if err := jsonbody.Decode(raw, &in); err != nil {
		return Input{}, err
	}
	if in == nil {
		return Input{}, apierror.Invalid("body", "must be a JSON object")
	}
	return *in, nil
}

// attrs is the part of a link kept as one JSON document (store.Link.Attrs).
type attrs struct {
	Description    string            `json:"description,omitempty"`
	Image          string            `json:"image,omitempty"`
	Comments       string            `json:"comments,omitempty"`
	ExpiredURL     string            `json:"expiredUrl,omitempty"`
	IOS            string            `json:"ios,omitempty"`
	Android        string            `json:"android,omitempty"`
	Geo            map[string]string `json:"geo,omitempty"`
	Rules          []RuleInput       `json:"rules,omitempty"`
	Variants       []Variant         `json:"variants,omitempty"`
	UTM            UTM               `json:"utm,omitzero"`
	NoForwardQuery bool              `json:"noForwardQuery,omitempty"`
	RedirectStatus int               `json:"redirectStatus,omitempty"`
	MaxClicks      int64             `json:"maxClicks,omitempty"`
	Preview        Preview           `json:"preview,omitzero"`
	DoIndex        bool              `json:"doIndex,omitempty"`
	DoNotTrack     bool              `json:"doNotTrack,omitempty"`
}

// Link is a link with its attributes and tag names decoded.
type Link struct {
	store.Link
	attrs
	TagNames []string
}

func decodeAttrs(raw json.RawMessage) (attrs, error) {
	var a attrs
	if len(raw) == 0 {
		return a, nil
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("link attributes: %w", err)
	}
	return a, nil
}

// problems collects field-level validation errors, so a client learns every
// invalid field at once.
type problems []apierror.Detail

func (p *problems) add(field, reason string) {
	*p = append(*p, apierror.Detail{Field: field, Reason: reason})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	msg := p[0].Field + ": " + p[0].Reason
	if len(p) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(p)-1)
	}
	return &apierror.Error{Code: apierror.ValidationError, Message: msg, Details: p}
}

// checkURL validates a destination-like URL: absolute http(s), a host
// browsers accept, a valid port, no credentials, bounded, and not onto H0p
// itself (own, nil for URLs that are not destinations: loops.go).
func (p *problems) checkURL(field, raw string, max int, own *ownHosts) {
	if raw == "" {
		p.add(field, "is required")
		return
	}
	if len(raw) > max {
		p.add(field, fmt.Sprintf("must be at most %d bytes", max))
		return
	}
	if strings.TrimSpace(raw) != raw || strings.ContainsAny(raw, " \t\r\n") {
		p.add(field, "must not contain whitespace")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		p.add(field, "is not a valid URL")
		return
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		p.add(field, "must be an absolute http or https URL")
		return
	}
	if u.Hostname() == "" {
		p.add(field, "must have a host")
		return
	}
	if u.User != nil {
		p.add(field, "must not contain credentials")
		return
	}
	host, err := urlhost.OfURL(u)
	if err != nil {
		p.add(field, "has a host browsers refuse: "+err.Error())
		return
	}
	port, ok := urlPort(u, scheme)
	if !ok {
		p.add(field, "has an invalid port")
		return
	}
	if why := own.loop(host, port); why != "" {
		p.add(field, why)
	}
}

// checkImage validates an image field: a file's ID (checked against the
// files in the write's transaction: checkFiles) or an image URL.
func (p *problems) checkImage(field, v string) {
	if !isFile(v) {
		p.checkURL(field, v, maxImageURLLen, nil)
	} else if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r > unicode.MaxASCII || unicode.IsSpace(r) }) {
		p.add(field, "no such file")
	}
}

func (p *problems) checkText(field, v string, max int) {
	if !utf8.ValidString(v) {
		p.add(field, "must be valid UTF-8")
	} else if len(v) > max {
		p.add(field, fmt.Sprintf("must be at most %d bytes", max))
	} else if strings.ContainsFunc(v, func(r rune) bool { return r == 0 }) {
		p.add(field, "must not contain NUL")
	}
}

// notInName is what a one-line name (a tag's) must not hold: a control
// character (Unicode Cc: C0, DEL, C1), a line or paragraph separator, or
// '|', which separates tags in CSV files (a tag holding one could not be
// exported).
func notInName(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '|'
}

var devices = []string{"ios", "android", "mobile", "desktop"}

func (p *problems) checkRule(field string, r *RuleInput, own *ownHosts) {
	p.checkURL(field+".url", r.URL, MaxURLLen, own)
	if len(r.Device)+len(r.OS)+len(r.Browser)+len(r.Country)+len(r.Language)+len(r.Query) == 0 && r.After == nil && r.Before == nil {
		p.add(field, "needs at least one condition")
	}
	for i, d := range r.Device {
		r.Device[i] = strings.ToLower(d)
		if !slices.Contains(devices, r.Device[i]) {
			p.add(field+".device", "must be ios, android, mobile or desktop")
		}
	}
	for _, list := range []struct {
		name string
		vs   []string
	}{{"os", r.OS}, {"browser", r.Browser}} {
		for _, v := range list.vs {
			if v == "" || len(v) > 32 {
				p.add(field+"."+list.name, "entries must be 1 to 32 characters")
			}
		}
	}
	for i, c := range r.Country {
		r.Country[i] = strings.ToUpper(c)
		if !geo.IsCountry(r.Country[i]) {
			p.add(field+".country", fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code", c))
		}
	}
	for i, l := range r.Language {
		r.Language[i] = strings.ToLower(l)
		if len(l) < 2 || len(l) > 3 || strings.IndexFunc(l, func(r rune) bool { return !unicode.IsLetter(r) || r > unicode.MaxASCII }) >= 0 {
			p.add(field+".language", fmt.Sprintf("%q is not a language code (like en, de, pt)", l))
		}
	}
	for name, v := range r.Query {
		if name == "" || len(name) > 64 || len(v) > 256 {
			p.add(field+".query", "names must be 1 to 64 characters and values at most 256")
		}
	}
	if r.After != nil && r.Before != nil && !r.After.Before(*r.Before) {
		p.add(field+".before", "must be after after")
	}
}

// Limits on link fields.
const (
	MaxURLLen       = 8 << 10
	maxTags         = 20
	maxRules        = 50
	maxGeo          = 250
	passwordMaxLen  = 128
	maxTitleLen     = 512
	maxDescLen      = 2048
	maxCommentsLen  = 4096
	maxExternalID   = 255
	maxUTMFieldLen  = 256
	maxImageURLLen  = 2048
	maxPreviewTitle = 256
	maxPreviewDesc  = 1024
)

// reservedKeys are paths the edge answers itself, or keeps for itself.
func validateKey(k string) error {
	if err := slug.Validate(k); err != nil {
		return err
	}
	if k == "_h0p" || strings.HasPrefix(k, "_h0p/") {
		return errors.New("is reserved")
	}
	return nil
}

// applyInput sets the fields in, validating them; now is for "in the
// future" checks of fields that change.
func (l *Link) applyInput(in Input, now time.Time, own *ownHosts) error {
	var p problems
	str := func(o jsonbody.Opt[string], dst *string, field string, max int) {
		if o.Set {
			*dst = o.V // null clears to ""
			p.checkText(field, *dst, max)
		}
	}
	optURL := func(o jsonbody.Opt[string], dst *string, field string) {
		if o.Set {
			*dst = o.V
			if *dst != "" {
				p.checkURL(field, *dst, MaxURLLen, own)
			}
		}
	}
	if in.URL.Set {
		l.URL = in.URL.V
		p.checkURL("url", l.URL, MaxURLLen, own)
	}
	if in.Key.Set && !in.Key.Null {
		if err := validateKey(in.Key.V); err != nil {
			p.add("key", err.Error())
		}
		l.Key = in.Key.V
	}
	str(in.Title, &l.Title, "title", maxTitleLen)
	str(in.Description, &l.Description, "description", maxDescLen)
	str(in.Comments, &l.Comments, "comments", maxCommentsLen)
	if in.Image.Set {
		l.Image = in.Image.V
		if l.Image != "" {
			p.checkImage("image", l.Image)
		}
	}
	if in.ExternalID.Set {
		l.ExternalID = strings.TrimSpace(in.ExternalID.V)
		p.checkText("externalId", l.ExternalID, maxExternalID)
		if strings.ContainsFunc(l.ExternalID, unicode.IsControl) {
			p.add("externalId", "must not contain control characters")
		}
	}
	if in.Tags.Set {
		l.TagNames = nil
		seen := map[string]bool{}
		for _, t := range in.Tags.V {
			if strings.ContainsFunc(t, notInName) {
				p.add("tags", "names must not contain control characters, line breaks or '|'")
				continue
			}
			t = strings.TrimSpace(t)
			if t == "" || len(t) > 50 || !utf8.ValidString(t) {
				p.add("tags", "names must be 1 to 50 characters")
				continue
			}
			if !seen[strings.ToLower(t)] {
				seen[strings.ToLower(t)] = true
				l.TagNames = append(l.TagNames, t)
			}
		}
		if len(l.TagNames) > maxTags {
			p.add("tags", fmt.Sprintf("at most %d tags", maxTags))
		}
	}
	if in.ExpiresAt.Set {
		l.ExpiresAt = in.ExpiresAt.V.UTC().Truncate(time.Millisecond)
		if !in.ExpiresAt.Null && !l.ExpiresAt.After(now) {
			p.add("expiresAt", "must be in the future")
		}
	}
	if in.ValidSince.Set {
		l.ValidSince = in.ValidSince.V.UTC().Truncate(time.Millisecond)
	}
	optURL(in.ExpiredURL, &l.ExpiredURL, "expiredUrl")
	optURL(in.IOS, &l.IOS, "ios")
	optURL(in.Android, &l.Android, "android")
	if in.Geo.Set {
		l.Geo = map[string]string{}
		for c, u := range in.Geo.V {
			cc := strings.ToUpper(c)
			if !geo.IsCountry(cc) {
				p.add("geo", fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code", c))
				continue
			}
			p.checkURL("geo."+cc, u, MaxURLLen, own)
			l.Geo[cc] = u
		}
		if len(l.Geo) > maxGeo {
			p.add("geo", fmt.Sprintf("at most %d countries", maxGeo))
		}
		if len(l.Geo) == 0 {
			l.Geo = nil
		}
	}
	if in.Rules.Set {
		l.Rules = in.Rules.V
		if len(l.Rules) > maxRules {
			p.add("rules", fmt.Sprintf("at most %d rules", maxRules))
		}
		for i := range l.Rules {
			p.checkRule(fmt.Sprintf("rules[%d]", i), &l.Rules[i], own)
		}
	}
	if in.Variants.Set {
		l.Variants = in.Variants.V
		if len(l.Variants) > 0 {
			if len(l.Variants) < 2 || len(l.Variants) > 4 {
				p.add("variants", "must have 2 to 4 destinations")
			}
			sum := 0
			for i, v := range l.Variants {
				p.checkURL(fmt.Sprintf("variants[%d].url", i), v.URL, MaxURLLen, own)
				if v.Weight < 1 || v.Weight > 99 {
					p.add(fmt.Sprintf("variants[%d].weight", i), "must be 1 to 99")
				}
				sum += v.Weight
			}
			if sum != 100 {
				p.add("variants", fmt.Sprintf("weights must sum to 100, not %d", sum))
			}
		}
	}
	if in.UTM.Set {
		l.UTM = in.UTM.V
		for name, v := range map[string]string{"source": l.UTM.Source, "medium": l.UTM.Medium, "campaign": l.UTM.Campaign,
			"term": l.UTM.Term, "content": l.UTM.Content} {
			p.checkText("utm."+name, v, maxUTMFieldLen)
		}
	}
	if in.ForwardQuery.Set {
		l.NoForwardQuery = in.ForwardQuery.Set && !in.ForwardQuery.Null && !in.ForwardQuery.V
	}
	if in.RedirectStatus.Set {
		l.RedirectStatus = in.RedirectStatus.V
		if !in.RedirectStatus.Null && !slices.Contains([]int{301, 302, 307, 308}, l.RedirectStatus) {
			p.add("redirectStatus", "must be 301, 302, 307 or 308")
		}
	}
	if in.MaxClicks.Set {
		l.MaxClicks = in.MaxClicks.V
		if !in.MaxClicks.Null && l.MaxClicks < 1 {
			p.add("maxClicks", "must be at least 1")
		}
	}
	if in.Archived.Set {
		l.Archived = in.Archived.V
	}
	if in.Disabled.Set {
		l.Disabled = in.Disabled.V
	}
	if in.DoIndex.Set {
		l.DoIndex = in.DoIndex.V
	}
	if in.DoNotTrack.Set {
		l.DoNotTrack = in.DoNotTrack.V // null clears
	}
	if in.Preview.Set {
		l.Preview = in.Preview.V
		p.checkText("preview.title", l.Preview.Title, maxPreviewTitle)
		p.checkText("preview.description", l.Preview.Description, maxPreviewDesc)
		if l.Preview.Image != "" {
			p.checkImage("preview.image", l.Preview.Image)
		}
	}
	return p.err()
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// record is the edge's view of the link: one codec, shared/kv. The
// shorthands become rules after the explicit ones: ios, android, then geo by
// country code.
func (l *Link) record() kv.Link {
	r := kv.Link{
		ID: l.ID, OrgID: l.OrgID, Domain: l.Domain, Slug: l.Key, URL: l.URL, Version: l.Version,
		Status: uint16(l.RedirectStatus), ExpiresAt: millis(l.ExpiresAt), ExpiredURL: l.ExpiredURL,
		ValidSince: millis(l.ValidSince), Disabled: l.Disabled, PasswordHash: l.PasswordHash,
		NoForwardQuery: l.NoForwardQuery, Indexable: l.DoIndex, DoNotTrack: l.DoNotTrack,
		Preview: kv.Preview{Title: l.Preview.Title, Description: l.Preview.Description, Image: l.Preview.Image},
	}
	if l.MaxClicks > 0 {
		r.MaxClicks = uint64(l.MaxClicks)
		r.ClicksExhausted = l.Clicks >= l.MaxClicks
	}
	for _, p := range []kv.QueryParam{{Name: "utm_source", Value: l.UTM.Source}, {Name: "utm_medium", Value: l.UTM.Medium},
		{Name: "utm_campaign", Value: l.UTM.Campaign}, {Name: "utm_term", Value: l.UTM.Term}, {Name: "utm_content", Value: l.UTM.Content}} {
		if p.Value != "" {
			r.UTM = append(r.UTM, p)
		}
	}
	for _, in := range l.Rules {
		ru := kv.Rule{URL: in.URL, Devices: in.Device, OS: in.OS, Browsers: in.Browser, Countries: in.Country, Languages: in.Language}
		names := make([]string, 0, len(in.Query))
		for n := range in.Query {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			ru.Query = append(ru.Query, kv.QueryParam{Name: n, Value: in.Query[n]})
		}
		if in.After != nil {
			ru.After = in.After.UnixMilli()
		}
		if in.Before != nil {
			ru.Before = in.Before.UnixMilli()
		}
		r.Rules = append(r.Rules, ru)
	}
	if l.IOS != "" {
		r.Rules = append(r.Rules, kv.Rule{URL: l.IOS, Devices: []string{"ios"}})
	}
	if l.Android != "" {
		r.Rules = append(r.Rules, kv.Rule{URL: l.Android, Devices: []string{"android"}})
	}
	countries := make([]string, 0, len(l.Geo))
	for c := range l.Geo {
		countries = append(countries, c)
	}
	slices.Sort(countries)
	for _, c := range countries {
		r.Rules = append(r.Rules, kv.Rule{URL: l.Geo[c], Countries: []string{c}})
	}
	for _, v := range l.Variants {
		r.Variants = append(r.Variants, kv.Variant{URL: v.URL, Weight: uint32(v.Weight)})
	}
	return r
}
