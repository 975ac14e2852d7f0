package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	auditRowRe  = regexp.MustCompile(`<td><code>([a-zA-Z.]+)</code></td>`)
	auditNextRe = regexp.MustCompile(`<a href="(/audit\?[^"]+)" rel="next">`)
	auditPrevRe = regexp.MustCompile(`<a href="(/audit\?[^"]*)" rel="prev">`)
)

// actions are the actions of the audit table's rows on p, in order.
func actions(p page) []string {
	var out []string
	for _, m := range auditRowRe.FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestAuditLog: the changes made on the members page are in the audit
// log, by whom and what changed, with the details of before and after;
// the filters (actor, target, time) narrow it, and it pages by cursor.
func TestAuditLog(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	admin := s.mustPerson(t, "ada@example.com", "admin")
	s.mustPerson(t, "bob@example.com", "member")
	adaID, bobID := s.mustMember(t, "ada@example.com").UserID, s.mustMember(t, "bob@example.com").UserID
	if p := admin.submit("/members", "/members/"+bobID+"/role", url.Values{"role": {"admin"}}); p.status != http.StatusSeeOther {
		t.Fatalf("change role: %d\n%s", p.status, p.body)
	}

	p := admin.get("/audit")
	got := actions(p)
	if p.status != 200 || len(got) < 4 || got[0] != "member.updated" || !strings.Contains(p.body, "role: member → admin") ||
		!strings.Contains(p.body, "<details>") || !strings.Contains(p.body, "&#34;role&#34;: &#34;admin&#34;") ||
		!strings.Contains(p.body, "Person admin</td>") || !strings.Contains(p.body, `<time datetime="`) {
		t.Fatalf("the audit log: %d %v\n%s", p.status, got, p.body)
	}
	if !strings.Contains(p.body, "created bob@example.com") {
		t.Errorf("an invitation's summary:\n%s", p.body)
	}

	for _, tc := range []struct {
		query string
		want  func([]string) bool
	}{
		{"actor=" + adaID, func(a []string) bool {
			return len(a) == 2 && a[0] == "member.updated" && a[1] == "member.joined" // ada's own joining is hers
		}},
		{"resourceType=invitation", func(a []string) bool {
			return len(a) == 2 && a[0] == "invitation.created" && a[1] == "invitation.created"
		}},
		{"resourceType=member&resourceId=" + bobID, func(a []string) bool {
			return len(a) >= 1 && a[0] == "member.updated" && !strings.Contains(strings.Join(a, " "), "invitation")
		}},
		{"from=" + url.QueryEscape(time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04")), func(a []string) bool { return len(a) == 0 }},
		{"to=" + url.QueryEscape(time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")), func(a []string) bool { return len(a) == 0 }},
		{"from=" + url.QueryEscape(time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")), func(a []string) bool { return len(a) == len(got) }},
	} {
		p := admin.get("/audit?" + tc.query)
		if a := actions(p); p.status != 200 || !tc.want(a) {
			t.Errorf("GET /audit?%s: %d %v\n%s", tc.query, p.status, a, p.body)
		}
	}
	if p := admin.get("/audit?from=yesterday"); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="from-err"`) {
		t.Errorf("a bad time: %d\n%s", p.status, p.body)
	}

	// More than a page: each role change is an entry.
	owner := s.owner(t)
	for i := range 55 {
		role := []string{"member", "admin"}[i%2]
		if _, err := owner.SetMemberRole(ctx, bobID, role); err != nil {
			t.Fatal(err)
		}
	}
	p = admin.get("/audit?resourceType=member")
	first := actions(p)
	next := auditNextRe.FindStringSubmatch(p.body)
	if len(first) != 50 || next == nil || auditPrevRe.MatchString(p.body) {
		t.Fatalf("page 1: %d rows, next %v", len(first), next)
	}
	p = admin.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	second := actions(p)
	prev := auditPrevRe.FindStringSubmatch(p.body)
	if len(second) != 2+1+55-50 /* two joined, one updated above */ || auditNextRe.MatchString(p.body) || prev == nil || !strings.Contains(p.body, "First page") ||
		!strings.Contains(prev[1], "resourceType=member") {
		t.Fatalf("page 2: %d rows %v, prev %v\n%s", len(second), second, prev, p.body)
	}
	if p := admin.get(strings.ReplaceAll(prev[1], "&amp;", "&")); len(actions(p)) != 50 || auditPrevRe.MatchString(p.body) {
		t.Errorf("back to page 1: %d rows", len(actions(p)))
	}
}
