package edge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medama-io/go-useragent/agents"

	"github.com/h0p/h0p/shared/kv"
)

// visit is what the rules of a link may look at in one request.
type visit struct {
	now     time.Time
	ip      netip.Addr
	agent   agent
	country string   // ISO 3166-1 alpha-2, "" when unknown
	langs   []string // primary language subtags from Accept-Language, in order
	query   url.Values
	cookies func(name string) string
}

// decision is what the edge answers.
type decision struct {
	outcome  outcome
	status   int
	location string // for redirects
	page     string // HTML body for pages
	cache    string // Cache-Control
	index    bool   // no X-Robots-Tag: noindex
	cookie   string // a Set-Cookie value, or ""
}

const (
	cacheNone      = "no-store"
	cachePermanent = "public, max-age=3600"
)

// passwordCookie names the cookie proving a visitor gave link id's password.
func passwordCookie(id string) string { return "h0p_pw_" + id }

// variantCookie names the cookie that keeps a visitor on one A/B variant.
func variantCookie(id string) string { return "h0p_v_" + id }

// passwordToken is the value of the password cookie: an expiry and an HMAC
// keyed with the link's password hash (which only edges and control have),
// so any edge can check it and changing the password logs everyone out.
func passwordToken(l *kv.Link, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, []byte(l.PasswordHash))
	m.Write([]byte(l.ID + "|" + exp))
	return exp + "." + hex.EncodeToString(m.Sum(nil))
}

func validPasswordToken(l *kv.Link, token string, now time.Time) bool {
	exp, mac, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() >= t {
		return false
	}
	want := passwordToken(l, time.Unix(t, 0))
	_, wantMAC, _ := strings.Cut(want, ".")
	return hmac.Equal([]byte(mac), []byte(wantMAC))
}

// decide applies the link's logic in the product's order: disabled, not yet
// valid, expired, password, preview bots, rules, variants, destination.
func (s *Server) decide(l *kv.Link, v *visit, domain *kv.Domain) decision {
	now := v.now.UnixMilli()
	if l.Disabled || l.ValidSince != 0 && now < l.ValidSince {
		return decision{outcome: outcomeNotFound}
	}
	if l.ExpiresAt != 0 && now >= l.ExpiresAt || l.ClicksExhausted {
		switch {
		case l.ExpiredURL != "":
			return decision{outcome: outcomeExpired, status: 302, location: l.ExpiredURL, cache: cacheNone}
		case domain != nil && domain.ExpiredURL != "":
			return decision{outcome: outcomeExpired, status: 302, location: s.domainURLs.get(domain.ExpiredURL), cache: cacheNone}
		}
		return decision{outcome: outcomeExpired, status: 410, page: expiredPage, cache: cacheNone}
	}
	if l.PasswordHash != "" && !validPasswordToken(l, v.cookies(passwordCookie(l.ID)), v.now) {
		return decision{outcome: outcomePassword, status: 200, page: passwordPage(""), cache: cacheNone}
	}
	index := l.Indexable || domain != nil && domain.Indexable
	if v.agent.social && l.Preview != (kv.Preview{}) {
		return decision{outcome: outcomePreview, status: 200, page: previewPage(l), cache: cacheNone, index: index}
	}
	dest, targeted := l.URL, false
	for i := range l.Rules {
		if matches(&l.Rules[i], v, now) {
			dest, targeted = l.Rules[i].URL, true
			break
		}
	}
	var cookie string
	if !targeted && len(l.Variants) > 0 {
		var i int
		i, cookie = pickVariant(l, v)
		dest = l.Variants[i].URL
	}
	status := statusOf(int(l.Status), domain)
	cache := cacheNone
	if (status == 301 || status == 308) && len(l.Rules) == 0 && len(l.Variants) == 0 && l.ExpiresAt == 0 && l.MaxClicks == 0 {
		cache = cachePermanent
	}
	return decision{outcome: outcomeRedirect, status: status, location: destination(dest, l, v.query),
		cache: cache, index: index, cookie: cookie}
}

// matches reports whether every condition of r that is set holds.
func matches(r *kv.Rule, v *visit, now int64) bool {
	if r.After != 0 && now < r.After || r.Before != 0 && now >= r.Before {
		return false
	}
	if len(r.Devices) > 0 && !anyOf(r.Devices, func(d string) bool { return deviceIs(v, d) }) {
		return false
	}
	if len(r.OS) > 0 && !anyOf(r.OS, func(o string) bool { return sameName(string(v.agent.os), o) }) {
		return false
	}
	if len(r.Browsers) > 0 && !anyOf(r.Browsers, func(b string) bool { return sameName(string(v.agent.browser), b) }) {
		return false
	}
	if len(r.Countries) > 0 && !anyOf(r.Countries, func(c string) bool { return c == v.country }) {
		return false
	}
	if len(r.Languages) > 0 && !anyOf(r.Languages, func(l string) bool {
		return len(v.langs) > 0 && anyOf(v.langs, func(got string) bool { return got == l })
	}) {
		return false
	}
	for _, q := range r.Query {
		got, ok := v.query[q.Name]
		if !ok || q.Value != "" && !anyOf(got, func(x string) bool { return x == q.Value }) {
			return false
		}
	}
	return true
}

func anyOf(list []string, f func(string) bool) bool {
	for _, x := range list {
		if f(x) {
			return true
		}
	}
	return false
}

// sameName compares product names leniently: case and spaces do not matter
// ("macOS" is "MacOS", "Samsung Browser" is "samsungbrowser").
func sameName(a, b string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "") }
	return a != "" && norm(a) == norm(b)
}

func deviceIs(v *visit, d string) bool {
	switch d {
	case "ios":
		return v.agent.os == agents.OSIOS
	case "android":
		return v.agent.os == agents.OSAndroid
	case "mobile":
		return v.agent.device == agents.DeviceMobile || v.agent.device == agents.DeviceTablet
	case "desktop":
		return v.agent.device == agents.DeviceDesktop
	}
	return false
}

// pickVariant keeps a returning visitor on their variant (cookie) and draws
// a weighted one for a new visitor, returning the cookie to set.
func pickVariant(l *kv.Link, v *visit) (int, string) {
	if c := v.cookies(variantCookie(l.ID)); c != "" {
		if i, err := strconv.Atoi(c); err == nil && i >= 0 && i < len(l.Variants) {
			return i, ""
		}
	}
	total := uint32(0)
	for _, vr := range l.Variants {
		total += vr.Weight
	}
	i := 0
	if total > 0 {
		n := rand.Uint32N(total)
		for i = 0; i < len(l.Variants)-1 && n >= l.Variants[i].Weight; i++ {
			n -= l.Variants[i].Weight
		}
	}
	return i, variantCookie(l.ID) + "=" + strconv.Itoa(i) + "; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
}

// trackingParams are consumed by the edge and never forwarded.
var trackingParams = map[string]bool{"qr": true, noTrackParam: true}

// destination builds the final URL: the request's query merged in (the
// request's parameters win) unless the link says not to, then the link's
// UTM parameters set. A query of the edge's own parameters alone leaves
// the destination as it is, the same Location as without them.
func destination(dest string, l *kv.Link, query url.Values) string {
	forward := !l.NoForwardQuery && forwards(query)
	if !forward && len(l.UTM) == 0 {
		return dest
	}
	u, err := url.Parse(dest)
	if err != nil {
		return dest
	}
	q := u.Query()
	if forward {
		for k, vs := range query {
			if !trackingParams[k] {
				q[k] = vs
			}
		}
	}
	for _, p := range l.UTM {
		q.Set(p.Name, p.Value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// forwards reports whether query has a parameter that is not the edge's
// own.
func forwards(query url.Values) bool {
	for k := range query {
		if !trackingParams[k] {
			return true
		}
	}
	return false
}
