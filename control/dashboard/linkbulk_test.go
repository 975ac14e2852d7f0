package dashboard_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/apiclient"
)

// mustLinks makes a link for each of tags (a comma-separated list, ""
// for none) and answers their IDs.
func (s *stack) mustLinks(t *testing.T, tags ...string) []string {
	t.Helper()
	var ids []string
	for i, tg := range tags {
		in := apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/" + string(rune('a'+i)))}
		if tg != "" {
			in.Tags = strings.Split(tg, ",")
		}
		l, err := s.owner(t).CreateLink(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	return ids
}

// TestBulkDeleteAndTag: links ticked in the table are deleted after a
// confirmation page, or given a tag beside the ones they have; the
// person goes back to the table they came from, told what was done. A
// POST without the CSRF token changes nothing.
func TestBulkDeleteAndTag(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "member")
	ids := s.mustLinks(t, "", "old", "old,other", "")

	p := b.get("/links?sort=clicks")
	if p.status != 200 || !strings.Contains(p.body, `action="/links/bulk"`) || !strings.Contains(p.body, `name="id" value="`+ids[0]+`"`) ||
		!strings.Contains(p.body, `name="back" value="/links?sort=clicks"`) || !strings.Contains(p.body, `href="/links/import"`) {
		t.Fatalf("the links table's bulk form: %d\n%s", p.status, p.body)
	}

	for _, form := range []url.Values{
		{"id": {ids[0]}, "action": {"delete"}, "confirm": {"yes"}},
		{"id": {ids[0]}, "action": {"tag"}, "tag": {"x"}, "csrf": {"forged"}},
	} {
		if p := b.post("/links/bulk", form); p.status != http.StatusForbidden {
			t.Errorf("POST /links/bulk %v: %d, want 403", form, p.status)
		}
	}

	p = b.submit("/links", "/links/bulk", url.Values{"id": {ids[1], ids[2], ids[3]}, "action": {"tag"}, "tag": {"new"},
		"back": {"/links?sort=clicks"}})
	if p.status != http.StatusSeeOther || p.location() != "/links?sort=clicks" {
		t.Fatalf("add a tag: %d %s\n%s", p.status, p.location(), p.body)
	}
	for i, want := range []string{"", "new,old", "new,old,other", "new"} {
		l, err := s.owner(t).GetLink(ctx, ids[i])
		tags := slices.Sorted(slices.Values(l.Tags))
		if err != nil || strings.Join(tags, ",") != want {
			t.Errorf("link %d's tags %v (%v), want %s", i, tags, err, want)
		}
	}
	if p := b.get("/links?sort=clicks"); !strings.Contains(p.body, "Tag new added to 3 links.") {
		t.Errorf("no word of the tags:\n%s", p.body)
	}

	if p := b.submit("/links", "/links/bulk", url.Values{"action": {"delete"}}); p.status != http.StatusSeeOther ||
		!strings.Contains(b.get("/links").body, "Select at least one link.") {
		t.Errorf("nothing selected: %d", p.status)
	}
	p = b.submit("/links", "/links/bulk", url.Values{"id": {ids[0], ids[1]}, "action": {"delete"}, "back": {"https://evil.example/"}})
	if p.status != 200 || !strings.Contains(p.body, "Delete 2 links?") || !strings.Contains(p.body, "example.com/a") ||
		!strings.Contains(p.body, `name="confirm"`) || !strings.Contains(p.body, `name="back" value="/links"`) {
		t.Fatalf("the confirmation page: %d\n%s", p.status, p.body)
	}
	if _, err := s.owner(t).GetLink(ctx, ids[0]); err != nil {
		t.Errorf("deleted before the confirmation: %v", err)
	}
	p = b.submit("/links", "/links/bulk", url.Values{"id": {ids[0], ids[1]}, "action": {"delete"}, "confirm": {"yes"},
		"back": {"/links"}})
	if p.status != http.StatusSeeOther || p.location() != "/links" {
		t.Fatalf("delete: %d\n%s", p.status, p.body)
	}
	for i, gone := range []bool{true, true, false, false} {
		if _, err := s.owner(t).GetLink(ctx, ids[i]); gone != apiclient.IsCode(err, "NOT_FOUND") {
			t.Errorf("link %d after the delete: %v", i, err)
		}
	}
	if p := b.get("/links"); !strings.Contains(p.body, "Deleted 2 links.") {
		t.Errorf("no word of the delete:\n%s", p.body)
	}

	// Another org's link is refused alone; the rest is done.
	theirs, err := s.mustOrgOf(t, "Other", "eve@example.com").CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/t")})
	if err != nil {
		t.Fatal(err)
	}
	b.submit("/links", "/links/bulk", url.Values{"id": {ids[2], theirs.ID}, "action": {"tag"}, "tag": {"more"}})
	if p := b.get("/links"); !strings.Contains(p.body, "Tag more added to 1 link. 1 refused: "+theirs.ID) {
		t.Errorf("a bulk action with another org's link:\n%s", p.body)
	}
}

// upload posts file as the import form's file field, with the CSRF
// token of the import page.
func (b *browser) upload(file string) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", b.csrf("/links/import"))
	fw, err := mw.CreateFormFile("file", "links.csv")
	if err != nil {
		b.t.Fatal(err)
	}
	fw.Write([]byte(file))
	mw.Close()
	req, err := http.NewRequest("POST", b.base+"/links/import", &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// TestImportAndExport: an uploaded CSV file becomes links, the rows the
// API refuses shown with their line and why; the export is the org's
// links as CSV, which reads back.
func TestImportAndExport(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "member")

	if p := b.get("/links/import"); p.status != 200 || !strings.Contains(p.body, `enctype="multipart/form-data"`) {
		t.Fatalf("the import page: %d\n%s", p.status, p.body)
	}
	p := b.upload("url,key,tags\nhttps://example.com/one,one,imported\nftp://example.com/bad,bad,\nhttps://example.com/two,two,imported\n")
	if p.status != 200 || !strings.Contains(p.body, "2 imported, 1 refused") || !strings.Contains(p.body, `<td class="num">3</td>`) ||
		!strings.Contains(p.body, "url ") {
		t.Fatalf("the import's answer: %d\n%s", p.status, p.body)
	}
	got, err := s.owner(t).ListLinks(ctx, apiclient.LinkQuery{Tag: "imported"})
	if err != nil || len(got.Data) != 2 {
		t.Fatalf("imported links: %+v %v", got.Data, err)
	}
	if p := b.upload("no,header,we,know\n1,2,3,4\n"); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="file-err"`) {
		t.Errorf("a file of no known format: %d\n%s", p.status, p.body)
	}
	req, _ := http.NewRequest("POST", b.base+"/links/import", strings.NewReader("--x--"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if p := b.do(req); p.status != http.StatusForbidden {
		t.Errorf("an import without the CSRF token: %d", p.status)
	}

	p = b.get("/links/export")
	if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(p.header.Get("Content-Disposition"), "links.csv") {
		t.Fatalf("export: %d %v\n%s", p.status, p.header, p.body)
	}
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil || len(rows) != 3 || !slices.Contains(rows[0], "url") || !strings.Contains(p.body, "https://example.com/two") {
		t.Errorf("the exported file: %v\n%s", err, p.body)
	}
}
