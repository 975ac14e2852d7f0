package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"golang.org/x/net/html"
)

var linkIDRe = regexp.MustCompile(`^/links/(link_[0-9A-Z]+)$`)

// TestLinkLifecycle: create a link with tags (a bad URL first: the API's
// error beside its field, what was typed kept), find it by search and by
// tag, edit it, archive it, download its QR code, delete it after the
// confirmation page.
func TestLinkLifecycle(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "member")

	p := b.submit("/links/new", "/links/new", url.Values{"url": {"ftp://example.com/x"}, "tags": {"spring, news"},
		"title": {"Spring sale"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="url-err"`) ||
		!strings.Contains(p.body, `value="spring, news"`) || !strings.Contains(p.body, `aria-invalid="true"`) {
		t.Fatalf("a bad URL: %d\n%s", p.status, p.body)
	}
	p = b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/spring"}, "tags": {"spring, news"},
		"title": {"Spring sale"}, "key": {"spring"}, "utm.source": {"newsletter"}, "expiresAt": {"2099-01-02T03:04"}})
	m := linkIDRe.FindStringSubmatch(p.location())
	if p.status != http.StatusSeeOther || m == nil {
		t.Fatalf("create: %d %q\n%s", p.status, p.location(), p.body)
	}
	id := m[1]
	l, err := s.owner(t).GetLink(ctx, id)
	if err != nil || l.Key != "spring" || strings.Join(l.Tags, ",") != "news,spring" && strings.Join(l.Tags, ",") != "spring,news" ||
		l.UTM.Source != "newsletter" || l.ExpiresAt == nil || l.ExpiresAt.UTC().Format("2006-01-02T15:04") != "2099-01-02T03:04" {
		t.Fatalf("created: %+v %v", l, err)
	}
	p = b.get(p.location())
	if p.status != 200 || !strings.Contains(p.body, "Link created.") || !strings.Contains(p.body, l.ShortLink) {
		t.Errorf("the link's page: %d\n%s", p.status, p.body)
	}
	// The same key again: the API's conflict, beside the key.
	p = b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/other"}, "key": {"spring"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="key-err"`) {
		t.Errorf("a taken key: %d\n%s", p.status, p.body)
	}

	for _, q := range []string{"/links?q=spring", "/links?tag=news", "/links?domain=localhost&sort=clicks"} {
		if p := b.get(q); p.status != 200 || !strings.Contains(p.body, "/links/"+id) {
			t.Errorf("GET %s: %d, the link not listed", q, p.status)
		}
	}
	if p := b.get("/links?q=autumn"); p.status != 200 || strings.Contains(p.body, "/links/"+id) || !strings.Contains(p.body, "No links match") {
		t.Errorf("a search that matches nothing: %d", p.status)
	}

	p = b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", url.Values{"url": {"https://example.com/summer"},
		"key": {"spring"}, "domain": {"localhost"}, "tags": {"summer"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", p.status, p.body)
	}
	l, err = s.owner(t).GetLink(ctx, id)
	if err != nil || l.URL != "https://example.com/summer" || strings.Join(l.Tags, ",") != "summer" || l.Title != nil ||
		l.ExpiresAt != nil || l.UTM.Source != "" {
		t.Errorf("edited (emptied fields cleared): %+v %v", l, err)
	}

	if p := b.submit("/links/"+id, "/links/"+id+"/archive", url.Values{"archived": {"true"}}); p.status != http.StatusSeeOther {
		t.Fatalf("archive: %d\n%s", p.status, p.body)
	}
	if l, err = s.owner(t).GetLink(ctx, id); err != nil || !l.Archived {
		t.Errorf("archived: %+v %v", l.Archived, err)
	}

	for format, ct := range map[string]string{"png": "image/png", "svg": "image/svg+xml"} {
		p := b.get("/links/" + id + "/qr?format=" + format)
		if p.status != 200 || p.header.Get("Content-Type") != ct || len(p.body) < 100 ||
			!strings.Contains(p.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("QR %s: %d %q %q", format, p.status, p.header.Get("Content-Type"), p.header.Get("Content-Disposition"))
		}
	}

	if p := b.get("/links/" + id + "/delete"); p.status != 200 || !strings.Contains(p.body, "cannot be undone") {
		t.Errorf("the confirmation page: %d", p.status)
	}
	if p := b.submit("/links/"+id+"/delete", "/links/"+id+"/delete", nil); p.status != http.StatusSeeOther || p.location() != "/links" {
		t.Fatalf("delete: %d %q", p.status, p.location())
	}
	if _, err := s.owner(t).GetLink(ctx, id); !apiclient.IsCode(err, "NOT_FOUND") {
		t.Errorf("after delete: %v", err)
	}
	if p := b.get("/links"); !strings.Contains(p.body, "Link deleted.") {
		t.Error("no word of the deletion")
	}
}

// TestLinksPaging: the table pages through the API's cursor, forward and
// back, never listing a link twice.
func TestLinksPaging(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	var ins []apiclient.LinkInput
	for i := range 120 {
		ins = append(ins, apiclient.LinkInput{URL: apiclient.Ptr(fmt.Sprintf("https://example.com/%d", i))})
	}
	for len(ins) > 0 {
		n := min(len(ins), 100)
		if _, err := s.owner(t).BulkCreateLinks(ctx, ins[:n]); err != nil {
			t.Fatal(err)
		}
		ins = ins[n:]
	}
	b := s.mustPerson(t, "ada@example.com", "member")
	rowRe := regexp.MustCompile(`<a href="/links/(link_[0-9A-Z]+)">`)
	nextRe := regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	prevRe := regexp.MustCompile(`<a href="([^"]+)" rel="prev">`)
	seen := map[string]bool{}
	var pages []string
	path := "/links"
	for {
		p := b.get(path)
		if p.status != 200 {
			t.Fatalf("GET %s: %d", path, p.status)
		}
		pages = append(pages, p.body)
		for _, m := range rowRe.FindAllStringSubmatch(p.body, -1) {
			if seen[m[1]] {
				t.Errorf("%s listed twice", m[1])
			}
			seen[m[1]] = true
		}
		m := nextRe.FindStringSubmatch(p.body)
		if m == nil {
			break
		}
		path = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	if len(seen) != 120 || len(pages) != 3 {
		t.Fatalf("%d links on %d pages, want 120 on 3", len(seen), len(pages))
	}
	// Back from the last page: the second, then the first.
	m := prevRe.FindStringSubmatch(pages[2])
	if m == nil {
		t.Fatal("no Previous on the last page")
	}
	if p := b.get(strings.ReplaceAll(m[1], "&amp;", "&")); rowRe.FindString(p.body) != rowRe.FindString(pages[1]) {
		t.Error("Previous from the last page is not the second")
	}
	if prevRe.MatchString(pages[0]) || !prevRe.MatchString(pages[1]) {
		t.Error("Previous on the first page, or none on the second")
	}
}

// TestLinkTargeting: device and country destinations and A/B variants
// are written from their fields, shown on the link's page, and cleared
// when emptied; the API's errors on one of their parts are shown beside
// the field.
func TestLinkTargeting(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "member")

	p := b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/"},
		"variants": {"https://example.com/a 50\nhttps://example.com/b 40"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="variants-err"`) || !strings.Contains(p.body, "100") {
		t.Errorf("weights that do not sum to 100: %d\n%s", p.status, p.body)
	}
	p = b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/"}, "geo": {"DE ftp://example.de/"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="geo-err"`) || !strings.Contains(p.body, "DE ") {
		t.Errorf("a bad country URL: %d\n%s", p.status, p.body)
	}
	if p := b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/"}, "geo": {"DE"}}); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, `id="geo-err"`) {
		t.Errorf("a country without a URL: %d", p.status)
	}

	p = b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/"},
		"ios": {"https://apps.example.com/ios"}, "geo": {"de https://example.de/\nFR https://example.fr/"},
		"variants": {"https://example.com/a 60\r\nhttps://example.com/b 40\n"}})
	m := linkIDRe.FindStringSubmatch(p.location())
	if p.status != http.StatusSeeOther || m == nil {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	l, err := s.owner(t).GetLink(ctx, m[1])
	if err != nil || deref(l.IOS) != "https://apps.example.com/ios" || l.Geo["DE"] != "https://example.de/" ||
		l.Geo["FR"] != "https://example.fr/" || len(l.Variants) != 2 || l.Variants[0].Weight != 60 {
		t.Fatalf("created: %+v %v", l, err)
	}
	if p := b.get("/links/" + l.ID); !strings.Contains(p.body, "FR: https://example.fr/") || !strings.Contains(p.body, "60%: https://example.com/a") {
		t.Errorf("the link's page does not show its targeting\n%s", p.body)
	}
	if p := b.get("/links/" + l.ID + "/edit"); !strings.Contains(p.body, "DE https://example.de/\nFR https://example.fr/</textarea>") {
		t.Errorf("the edit form does not hold the countries\n%s", p.body)
	}
	p = b.submit("/links/"+l.ID+"/edit", "/links/"+l.ID+"/edit", url.Values{"url": {"https://example.com/"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", p.status, p.body)
	}
	if l, err = s.owner(t).GetLink(ctx, l.ID); err != nil || l.IOS != nil || len(l.Geo) != 0 || len(l.Variants) != 0 {
		t.Errorf("emptied: %+v %v", l, err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestLinksFilterRefused: a filter the API refuses is said on the page,
// with the filters to correct it.
func TestLinksFilterRefused(t *testing.T) {
	s := mustStart(t)
	b := s.mustPerson(t, "ada@example.com", "member")
	p := b.get("/links?q=" + url.QueryEscape(strings.Repeat("x", 5000)))
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `role="alert"`) || !strings.Contains(p.body, `id="q"`) {
		t.Errorf("a refused filter: %d\n%.2000s", p.status, p.body)
	}
}

// TestLinkRules: the link form adds, fills, reorders and removes
// targeting rules with every condition the API takes; what is saved is
// the API's link, and the API's errors on a rule are shown beside its
// field.
func TestLinkRules(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "member")

	// Add a rule: the form again, a blank rule to fill, its URL focused;
	// nothing created.
	p := b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/"}, "title": {"Spring"}, "rule": {"add"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="rules[0].url" name="rules[0].url" type="url" value="" autofocus`) ||
		!strings.Contains(p.body, `value="Spring"`) {
		t.Fatalf("add a rule: %d\n%s", p.status, p.body)
	}
	if l, err := s.owner(t).ListLinks(ctx, apiclient.LinkQuery{}); err != nil || len(l.Data) != 0 {
		t.Fatalf("a rule button created a link: %+v %v", l.Data, err)
	}

	full := url.Values{"url": {"https://example.com/"},
		"rules[0].url": {"https://example.com/de"}, "rules[0].country": {"de, AT"}, "rules[0].device": {"mobile", "ios"},
		"rules[1].url": {"https://example.com/promo"}, "rules[1].query": {"ref\r\nutm_source = mail"},
		"rules[1].language": {"fr"}, "rules[1].os": {"Windows, macOS"}, "rules[1].browser": {"Firefox"},
		"rules[1].after": {"2099-01-02T03:04"}, "rules[1].before": {"2099-02-02T03:04"},
		"rules[2].url": {""}} // added and left blank: left out
	cases := []struct {
		name, field, value, errID string
	}{
		{"a country that is none", "rules[0].country", "XX", `id="rules[0].country-err"`},
		{"a device that is none", "rules[0].device", "fridge", `id="rules[0]-err"`},
		{"a bad URL", "rules[1].url", "ftp://example.com/", `id="rules[1].url-err"`},
		{"a time that is none", "rules[1].after", "soon", `id="rules[1].after-err"`},
		{"until before from", "rules[1].before", "2099-01-01T00:00", `id="rules[1].before-err"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range full {
				form[k] = v
			}
			form.Set(c.field, c.value)
			if c.field == "rules[0].device" {
				// An unknown device is not sent; the rule keeps none.
				form.Del("rules[0].country")
			}
			p := b.submit("/links/new", "/links/new", form)
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, c.errID) {
				t.Errorf("%d, no %s\n%s", p.status, c.errID, p.body)
			}
		})
	}

	p = b.submit("/links/new", "/links/new", full)
	m := linkIDRe.FindStringSubmatch(p.location())
	if p.status != http.StatusSeeOther || m == nil {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	id := m[1]
	l, err := s.owner(t).GetLink(ctx, id)
	if err != nil || len(l.Rules) != 2 {
		t.Fatalf("created: %+v %v", l, err)
	}
	r0, r1 := l.Rules[0], l.Rules[1]
	if r0.URL != "https://example.com/de" || strings.Join(r0.Country, ",") != "DE,AT" || strings.Join(r0.Device, ",") != "mobile,ios" {
		t.Errorf("rule 1: %+v", r0)
	}
	if r1.URL != "https://example.com/promo" || len(r1.Query) != 2 || r1.Query["ref"] != "" || r1.Query["utm_source"] != "mail" ||
		strings.Join(r1.Language, ",") != "fr" || strings.Join(r1.OS, ",") != "Windows,macOS" || strings.Join(r1.Browser, ",") != "Firefox" ||
		r1.After == nil || r1.After.UTC().Format("2006-01-02T15:04") != "2099-01-02T03:04" ||
		r1.Before == nil || r1.Before.UTC().Format("2006-01-02T15:04") != "2099-02-02T03:04" {
		t.Errorf("rule 2: %+v", r1)
	}
	if p := b.get("/links/" + id); !strings.Contains(p.body, "device mobile or ios, country DE or AT → https://example.com/de") ||
		!strings.Contains(p.body, "query has ref, query utm_source=mail, from 2099-01-02 03:04 UTC") {
		t.Errorf("the link's page does not show its rules\n%s", p.body)
	}

	// The edit form holds the rules; move the second up, then save.
	edit := b.get("/links/" + id + "/edit")
	if !strings.Contains(edit.body, `value="DE, AT"`) || !strings.Contains(edit.body, "ref\nutm_source=mail</textarea>") ||
		!strings.Contains(edit.body, `value="2099-01-02T03:04"`) || !strings.Contains(edit.body, `id="rules[0].device-mobile" name="rules[0].device" value="mobile" checked`) {
		t.Fatalf("the edit form does not hold the rules\n%s", edit.body)
	}
	form := url.Values{"url": {"https://example.com/"}}
	for k, v := range full {
		if strings.HasPrefix(k, "rules[") && !strings.HasPrefix(k, "rules[2]") {
			form[k] = v
		}
	}
	form.Set("rule", "up 1")
	p = b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", form)
	// First now, it has no Move up: its URL has the focus.
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="rules[0].url" name="rules[0].url" type="url" value="https://example.com/promo" autofocus`) {
		t.Fatalf("move up: %d\n%s", p.status, p.body)
	}
	swapped := url.Values{"url": {"https://example.com/"}}
	for k, v := range form {
		switch {
		case strings.HasPrefix(k, "rules[0]"):
			swapped["rules[1]"+k[len("rules[0]"):]] = v
		case strings.HasPrefix(k, "rules[1]"):
			swapped["rules[0]"+k[len("rules[1]"):]] = v
		}
	}
	if p := b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", swapped); p.status != http.StatusSeeOther {
		t.Fatalf("save the moved rules: %d\n%s", p.status, p.body)
	}
	if l, err = s.owner(t).GetLink(ctx, id); err != nil || len(l.Rules) != 2 || l.Rules[0].URL != "https://example.com/promo" {
		t.Fatalf("after the move: %+v %v", l.Rules, err)
	}

	// Remove the first: the form without it; saved, the link has one.
	swapped.Set("rule", "remove 0")
	p = b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", swapped)
	if p.status != http.StatusOK || strings.Contains(p.body, "https://example.com/promo") || !strings.Contains(p.body, `value="https://example.com/de"`) ||
		strings.Contains(p.body, `id="rules[1].url"`) {
		t.Fatalf("remove: %d\n%s", p.status, p.body)
	}
	one := url.Values{"url": {"https://example.com/"}}
	for k, v := range swapped {
		if strings.HasPrefix(k, "rules[1]") {
			one["rules[0]"+k[len("rules[1]"):]] = v
		}
	}
	if p := b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", one); p.status != http.StatusSeeOther {
		t.Fatalf("save one rule: %d\n%s", p.status, p.body)
	}
	if l, err = s.owner(t).GetLink(ctx, id); err != nil || len(l.Rules) != 1 || l.Rules[0].URL != "https://example.com/de" {
		t.Fatalf("after the removal: %+v %v", l.Rules, err)
	}
	// No rules on the form: the link's are cleared.
	if p := b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", url.Values{"url": {"https://example.com/"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save no rules: %d\n%s", p.status, p.body)
	}
	if l, err = s.owner(t).GetLink(ctx, id); err != nil || len(l.Rules) != 0 {
		t.Errorf("rules not cleared: %+v %v", l.Rules, err)
	}
}

// formFields are the values the first form of body with the given action
// posts as a browser does (its inputs and text areas; checkboxes when
// checked; no buttons).
func formFields(t *testing.T, body, action string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if a, _ := attr(n, "action"); n.Type == html.ElementNode && n.Data == "form" && a == action {
			form = n
			break
		}
	}
	if form == nil {
		t.Fatalf("no form to %s in\n%s", action, body)
	}
	vs := url.Values{}
	for n := range form.Descendants() {
		name, ok := attr(n, "name")
		if n.Type != html.ElementNode || !ok {
			continue
		}
		switch n.Data {
		case "textarea":
			var text strings.Builder
			for c := range n.Descendants() {
				if c.Type == html.TextNode {
					text.WriteString(c.Data)
				}
			}
			vs.Add(name, text.String())
		case "input":
			typ, _ := attr(n, "type")
			_, checked := attr(n, "checked")
			if (typ == "checkbox" || typ == "radio") && !checked {
				continue
			}
			v, _ := attr(n, "value")
			vs.Add(name, v)
		}
	}
	return vs
}

// TestLinkRulesRoundTrip: a link's rules shown in the edit form and
// saved unchanged, or only moved, are the rules the API held, with what
// the form does not show: a time's seconds, a time of the hour a
// daylight saving change repeats in the person's timezone, spaces around
// a query value, a comma in an entry, the devices' order.
func TestLinkRulesRoundTrip(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "member")
	u, _ := url.Parse(s.url)
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "h0p_tz", Value: url.QueryEscape("Europe/Berlin"), Path: "/"}})

	dest := "https://example.com/"
	after := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC) // 02:30 in Berlin the first time (CEST)
	before := time.Date(2026, 10, 26, 5, 0, 7, 250e6, time.UTC)
	in := apiclient.LinkInput{URL: &dest, Rules: []apiclient.Rule{
		{URL: "https://example.com/a", Country: []string{"DE"}, After: &after, Before: &before},
		{URL: "https://example.com/b", Device: []string{"mobile", "ios"}, OS: []string{"Windows, 11"},
			Query: map[string]string{"ref": "", "q": " two  words "}},
	}}
	l, err := s.owner(t).CreateLink(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// The rules as JSON, their times in UTC.
	rulesJSON := func(rules []apiclient.Rule) string {
		for _, ru := range rules {
			for _, at := range []*time.Time{ru.After, ru.Before} {
				if at != nil {
					*at = at.UTC()
				}
			}
		}
		j, _ := json.Marshal(rules)
		return string(j)
	}
	held := rulesJSON(l.Rules)

	edit := "/links/" + l.ID + "/edit"
	if p := b.post(edit, formFields(t, b.get(edit).body, edit)); p.status != http.StatusSeeOther {
		t.Fatalf("save unchanged: %d\n%s", p.status, p.body)
	}
	l, err = s.owner(t).GetLink(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if saved := rulesJSON(l.Rules); saved != held {
		t.Errorf("saved unchanged, the rules are\n%s\nwant\n%s", saved, held)
	}

	// Moved down, the first rule is the second, as it was.
	form := formFields(t, b.get(edit).body, edit)
	form.Set("rule", "down 0")
	p := b.post(edit, form)
	if p.status != http.StatusOK {
		t.Fatalf("move down: %d\n%s", p.status, p.body)
	}
	if p := b.post(edit, formFields(t, p.body, edit)); p.status != http.StatusSeeOther {
		t.Fatalf("save moved: %d\n%s", p.status, p.body)
	}
	if l, err = s.owner(t).GetLink(ctx, l.ID); err != nil || len(l.Rules) != 2 {
		t.Fatalf("after the move: %+v %v", l, err)
	}
	l.Rules[0], l.Rules[1] = l.Rules[1], l.Rules[0]
	if saved := rulesJSON(l.Rules); saved != held {
		t.Errorf("moved, the rules are (back in the first order)\n%s\nwant\n%s", saved, held)
	}
}
