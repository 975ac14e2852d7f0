package kv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with testdata/name (hex, 32 bytes a line), so a
// change to the wire format shows up as a failing test and a readable diff.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var sb strings.Builder
	for i := 0; i < len(got); i += 32 {
		sb.WriteString(hex.EncodeToString(got[i:min(i+32, len(got))]))
		sb.WriteByte('\n')
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if sb.String() != string(want) {
		t.Errorf("%s changed: the wire format is a contract between nodes of different versions.\ngot:\n%s\nwant:\n%s", name, sb.String(), want)
	}
}

var sampleLink = Link{
	ID:      "link_01JH8ZQ4V2M3N4P5Q6R7S8T9VW",
	OrgID:   "org_01JH8ZQ4V2M3N4P5Q6R7S8T9VX",
	Domain:  "h0p.link",
	Slug:    "Ab3dE7x",
	URL:     "https://example.com/a?b=1",
	Version: 3,
}

func TestLinkGolden(t *testing.T) {
	b := AppendLink(nil, &sampleLink)
	checkGolden(t, "link_v1.hex", b)
	got, err := DecodeLink(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleLink) {
		t.Errorf("round trip: got %+v, want %+v", got, sampleLink)
	}
}

// fullLink sets every field, so its golden file pins every tag. A new
// field gets a new golden, named after it (link_full_<field>_v1.hex); the
// older ones stay as records older writers wrote (TestDecodeOlderRecords).
var fullLink = Link{
	ID: "link_01JH8ZQ4V2M3N4P5Q6R7S8T9VW", OrgID: "org_1", Domain: "h0p.link", Slug: "full", URL: "https://example.com/",
	Version: 2, Status: 301, ExpiresAt: 1798761600000, ExpiredURL: "https://example.com/expired",
	ValidSince: 1767225600000, MaxClicks: 1000, Disabled: true, PasswordHash: "$argon2id$v=19$m=1,t=1,p=1$AA$AA",
	NoForwardQuery: true, UTM: []QueryParam{{"utm_source", "news"}, {"utm_medium", "email"}},
	Rules: []Rule{
		{URL: "https://apps.apple.com/x", Devices: []string{"ios"}},
		{URL: "https://example.de/", Countries: []string{"DE", "AT"}, Languages: []string{"de"},
			OS: []string{"Windows"}, Browsers: []string{"Firefox"}, Query: []QueryParam{{"ref", ""}, {"plan", "pro"}},
			After: 1767225600000, Before: 1798761600000},
	},
	Variants:        []Variant{{"https://a.example/", 70}, {"https://b.example/", 30}},
	Preview:         Preview{Title: "T", Description: "D", Image: "https://example.com/i.png"},
	Indexable:       true,
	ClicksExhausted: true,
	DoNotTrack:      true,
}

func TestFullLinkGolden(t *testing.T) {
	b := AppendLink(nil, &fullLink)
	checkGolden(t, "link_full_donottrack_v1.hex", b)
	got, err := DecodeLink(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fullLink) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, fullLink)
	}
}

func TestLinkStateGolden(t *testing.T) {
	s := LinkState{Version: 9, Domain: "h0p.link", Slug: "x", Deleted: true}
	b := AppendLinkState(nil, &s)
	checkGolden(t, "linkstate_v1.hex", b)
	got, err := DecodeLinkState(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != s {
		t.Errorf("round trip: got %+v, want %+v", got, s)
	}
}

func TestCommandGolden(t *testing.T) {
	c := Command{Ops: []Op{
		{Type: OpPutLink, Link: &sampleLink},
		{Type: OpDeleteLink, Delete: &LinkDelete{ID: "link_01JH8ZQ4V2M3N4P5Q6R7S8T9VY", Version: 2}},
	}}
	b := c.Encode()
	checkGolden(t, "command_v1.hex", b)
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
}

func TestNodeCommandGolden(t *testing.T) {
	c := PutNode(Node{ID: "c1", Role: "control", APIAddr: "https://127.0.0.1:8443"})
	b := c.Encode()
	checkGolden(t, "command_put_node_v1.hex", b)
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
}

func TestDomainCommandsGolden(t *testing.T) {
	c := Command{Ops: []Op{
		{Type: OpPutDomain, Domain: &Domain{Host: "go.example", OrgID: "org_1", RootURL: "https://example.com/",
			NotFoundURL: "https://example.com/404", ExpiredURL: "https://example.com/expired", Version: 3}},
		{Type: OpDeleteDomain, Domain: &Domain{Host: "old.example"}},
	}}
	b := c.Encode()
	checkGolden(t, "command_domains_v1.hex", b)
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
}

func TestDomainDoNotTrackGolden(t *testing.T) {
	c := Command{Ops: []Op{{Type: OpPutDomain, Domain: &Domain{Host: "quiet.example", OrgID: "org_1", Version: 2, DoNotTrack: true}}}}
	b := c.Encode()
	checkGolden(t, "command_domain_donottrack_v1.hex", b)
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
}

func TestDomainSettingsGolden(t *testing.T) {
	c := Command{Ops: []Op{{Type: OpPutDomain, Domain: &Domain{Host: "go.example", OrgID: "org_1", Version: 4,
		RedirectStatus: 308, Indexable: true, NoHTTPSRedirect: true, HSTS: true}}}}
	b := c.Encode()
	checkGolden(t, "command_domain_settings_v1.hex", b)
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
	// Certified is the edge's mirror's, never the record's.
	d := *c.Ops[0].Domain
	d.Certified = true
	if again, _ := DecodeDomain(AppendDomain(nil, &d)); again.Certified {
		t.Error("Certified was encoded")
	}
}

// readGolden is the bytes of testdata/name (checkGolden's hex).
func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(string(raw), "\n", ""))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// TestDecodeOlderRecords: records written before a field existed decode
// with that field at its zero value, the product default.
func TestDecodeOlderRecords(t *testing.T) {
	beforeDoNotTrack := fullLink
	beforeDoNotTrack.DoNotTrack = false
	got, err := DecodeLink(readGolden(t, "link_full_v1.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, beforeDoNotTrack) {
		t.Errorf("link_full_v1.hex:\n got %+v\nwant %+v", got, beforeDoNotTrack)
	}
	c, err := DecodeCommand(readGolden(t, "command_domains_v1.hex"))
	if err != nil {
		t.Fatal(err)
	}
	// A record from before the settings: 302, not indexable, plain HTTP
	// redirected to HTTPS, no HSTS.
	if d := c.Ops[0].Domain; d.Host != "go.example" || d.DoNotTrack || d.RedirectStatus != 0 || d.Indexable ||
		d.NoHTTPSRedirect || d.HSTS {
		t.Errorf("command_domains_v1.hex: domain %+v", d)
	}
}

func TestSaltCommandGolden(t *testing.T) {
	s := Salt{Day: SaltDay(time.Date(2026, 12, 6, 23, 59, 59, 0, time.UTC))}
	for i := range s.Value {
		s.Value[i] = byte(i)
	}
	c := PutSalt(s)
	b := c.Encode()
	checkGolden(t, "command_salt_v1.hex", b)
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
	if s.Day != 20793 {
		t.Errorf("SaltDay(2026-12-06) = %d, want 20793", s.Day)
	}
	if k := SaltKey(s.Day); string(k[:2]) != prefixSalt || len(k) != 10 {
		t.Errorf("SaltKey = %q", k)
	}
}

func TestChallengeCommandsGolden(t *testing.T) {
	put := PutChallenge(Challenge{Token: "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", KeyAuth: "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"})
	del := DeleteChallenge("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0")
	b := append(put.Encode(), del.Encode()...)
	checkGolden(t, "command_challenge_v1.hex", b)
	for _, c := range []Command{put, del} {
		got, err := DecodeCommand(c.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip: got %+v, want %+v", got, c)
		}
	}
}

func TestCertificateCommandsGolden(t *testing.T) {
	put := PutCertificate(Certificate{Host: "links.example.test", ChainPEM: []byte("-----BEGIN CERTIFICATE-----\n"),
		SealedKey: []byte{1, 2, 3, 4}, NotAfter: 1_800_000_000, Version: 3})
	del := DeleteCertificate("links.example.test")
	acct := PutACMEAccount([]byte{5, 6, 7})
	checkGolden(t, "command_certificate_v1.hex", append(append(put.Encode(), del.Encode()...), acct.Encode()...))
	for _, c := range []Command{put, del, acct} {
		got, err := DecodeCommand(c.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip: got %+v, want %+v", got, c)
		}
	}
}

func TestCertificateFailureGolden(t *testing.T) {
	f := CertificateFailure{Host: "broken.example.test", Failures: 3,
		Message: "the ACME server could not validate the domain: no A record", At: 1_800_000_000, Next: 1_800_002_400}
	rec := AppendCertificateFailure(nil, &f)
	checkGolden(t, "certificate_failure_v1.hex", rec)
	got, err := DecodeCertificateFailure(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got != f {
		t.Errorf("record round trip: got %+v, want %+v", got, f)
	}
	put, del := PutCertificateFailure(f), DeleteCertificateFailure(f.Host)
	checkGolden(t, "command_certificate_failure_v1.hex", append(put.Encode(), del.Encode()...))
	for _, c := range []Command{put, del} {
		got, err := DecodeCommand(c.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip: got %+v, want %+v", got, c)
		}
	}
	if _, err := DecodeCertificateFailure([]byte{9}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("wrong record version: %v, want ErrCorrupt", err)
	}
}

func TestDecodeSkipsUnknownFields(t *testing.T) {
	b := AppendLink(nil, &sampleLink)
	w := fieldWriter{b: b}
	w.string(99, "a field from a newer writer")
	got, err := DecodeLink(w.b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleLink) {
		t.Errorf("got %+v, want %+v", got, sampleLink)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := PutLink(sampleLink).Encode()
	tests := map[string][]byte{
		"empty":           {},
		"wrong version":   append([]byte{9}, good[1:]...),
		"truncated":       good[:len(good)-3],
		"trailing bytes":  append(append([]byte{}, good...), 0),
		"huge op count":   {CommandVersion, 0xff, 0xff, 0xff, 0x7f},
		"unknown op":      {CommandVersion, 1, 77, 0},
		"put without id":  Command{Ops: []Op{{Type: OpPutLink, Link: &Link{Domain: "a", Slug: "b", Version: 1}}}}.Encode(),
		"delete no vers.": Command{Ops: []Op{{Type: OpDeleteLink, Delete: &LinkDelete{ID: "x"}}}}.Encode(),
		"nul in slug":     PutLink(Link{ID: "i", Domain: "a", Slug: "b\x00c", Version: 1}).Encode(),
		"short salt":      {CommandVersion, 1, byte(OpPutSalt), 3, 1, 2, 3},
		"token not b64":   PutChallenge(Challenge{Token: "a/b", KeyAuth: "a/b.t"}).Encode(),
		"no key auth":     PutChallenge(Challenge{Token: "abc"}).Encode(),
		"key auth space":  PutChallenge(Challenge{Token: "abc", KeyAuth: "abc .t"}).Encode(),
		"token too long":  DeleteChallenge(strings.Repeat("a", MaxChallengeToken+1)).Encode(),
		"empty delete":    DeleteChallenge("").Encode(),
		"cert no key":     PutCertificate(Certificate{Host: "a.example", ChainPEM: []byte("c"), Version: 1}).Encode(),
		"cert no host":    DeleteCertificate("").Encode(),
		"failure no host": PutCertificateFailure(CertificateFailure{Failures: 1, Message: "m"}).Encode(),
		"failure no msg":  PutCertificateFailure(CertificateFailure{Host: "a.example", Failures: 1}).Encode(),
		"failure count 0": PutCertificateFailure(CertificateFailure{Host: "a.example", Message: "m"}).Encode(),
		"failure long":    PutCertificateFailure(CertificateFailure{Host: "a.example", Failures: 1, Message: strings.Repeat("m", MaxCertificateFailureMessage+1)}).Encode(),
		"failure utf8":    PutCertificateFailure(CertificateFailure{Host: "a.example", Failures: 1, Message: "\xff"}).Encode(),
		"failure delete":  DeleteCertificateFailure("").Encode(),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeCommand(b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestLinkKeyOrdering(t *testing.T) {
	// The NUL separator keeps "a.com"+"x" apart from "a.co"+"mx".
	if bytes.Equal(LinkKey("a.com", "x"), LinkKey("a.co", "mx")) {
		t.Fatal("keys collide")
	}
	k := LinkKey("h0p.link", "abc")
	if !IsLinkKey(k) || bytes.Compare(k, LinkKeyLowerBound) < 0 || bytes.Compare(k, LinkKeyUpperBound) >= 0 {
		t.Errorf("link key %q outside [%q, %q)", k, LinkKeyLowerBound, LinkKeyUpperBound)
	}
	var buf [64]byte
	if got := AppendLinkKey(buf[:0], []byte("h0p.link"), []byte("abc")); !bytes.Equal(got, k) {
		t.Errorf("AppendLinkKey %q, LinkKey %q", got, k)
	}
}

func BenchmarkDecodeLink(b *testing.B) {
	rec := AppendLink(nil, &sampleLink)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeLink(rec); err != nil {
			b.Fatal(err)
		}
	}
}
