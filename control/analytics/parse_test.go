package analytics

import (
	"errors"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/h0p/h0p/shared/apierror"
)

func field(err error) string {
	if e, ok := errors.AsType[*apierror.Error](err); ok && e.Code == apierror.ValidationError && len(e.Details) == 1 {
		return e.Details[0].Field
	}
	return ""
}

func TestParse(t *testing.T) {
	if g, err := ParseGroupBy(""); g != GroupCount || err != nil {
		t.Errorf("empty groupBy: %v %v", g, err)
	}
	for _, g := range GroupBys {
		if got, err := ParseGroupBy(string(g)); got != g || err != nil {
			t.Errorf("groupBy %s: %v %v", g, got, err)
		}
	}
	if iv, err := ParseGranularity("day"); iv != Day || err != nil {
		t.Errorf("interval day: %v %v", iv, err)
	}
	if iv, err := ParseGranularity(""); iv != 0 || err != nil {
		t.Errorf("no interval: %v %v", iv, err)
	}
	if loc, err := ParseTimezone("Asia/Kolkata"); err != nil || loc.String() != "Asia/Kolkata" {
		t.Errorf("timezone: %v %v", loc, err)
	}
	if loc, err := ParseTimezone(""); err != nil || loc != time.UTC {
		t.Errorf("no timezone: %v %v", loc, err)
	}
	if b, err := ParseBots("only"); b != BotsOnly || err != nil {
		t.Errorf("bots only: %v %v", b, err)
	}
	for _, tt := range []struct {
		param string
		err   error
	}{
		{"groupBy", second(ParseGroupBy("cities"))},
		{"granularity", second(ParseGranularity("week"))},
		{"timezone", second(ParseTimezone("Mars/Olympus"))},
		{"timezone", second(ParseTimezone("Local"))},
		{"timezone", second(ParseTimezone("../../etc/passwd"))},
		{"bots", second(ParseBots("yes"))},
		{"unique", second(ParseUnique("1"))},
		{"start", second(ParseTime("start", "yesterday", time.UTC))},
		{"trigger", second(ParseMatch("trigger", []string{"qr,email"}))},
		{"cursor", third(DecodeCursor("abc"))},
	} {
		if got := field(tt.err); got != tt.param {
			t.Errorf("%v names %q, want %q", tt.err, got, tt.param)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }

func TestParseRange(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	keepFrom := now.AddDate(0, 0, -30)
	paris, _ := time.LoadLocation("Europe/Paris")
	s, e, err := ParseRange("", "", "", time.UTC, now, keepFrom)
	if err != nil || !e.Equal(now) || !s.Equal(now.Add(-24*time.Hour)) {
		t.Errorf("default range: %v %v %v", s, e, err)
	}
	s, e, err = ParseRange("", "2026-12-01", "2026-12-02T10:00:00Z", paris, now, keepFrom)
	if err != nil || !s.Equal(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)) || !e.Equal(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("date in Paris: %v %v %v", s, e, err)
	}
	for interval, want := range map[string]time.Time{
		"24h": now.Add(-24 * time.Hour),
		"7d":  now.AddDate(0, 0, -7),
		"30d": now.AddDate(0, 0, -30),
		"90d": now.AddDate(0, 0, -90),
		"1y":  now.AddDate(-1, 0, 0),
		"mtd": time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), // December 1st in Paris
		"ytd": time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC),
		"all": keepFrom,
	} {
		s, e, err := ParseRange(interval, "", "", paris, now, keepFrom)
		if err != nil || !s.Equal(want) || !e.Equal(now) {
			t.Errorf("interval %s: %v..%v %v, want from %v", interval, s, e, err, want)
		}
	}
	for _, tt := range []struct{ interval, start, end, param string }{
		{"", "2026-12-03", "2026-12-02", "start"},
		{"", "2026-12-02", "2026-12-02", "start"},
		{"", "", "soon", "end"},
		{"", "2026-13-01", "", "start"},
		{"2w", "", "", "interval"},
		{"7d", "2026-12-01", "", "interval"},
	} {
		if _, _, err := ParseRange(tt.interval, tt.start, tt.end, time.UTC, now, keepFrom); field(err) != tt.param {
			t.Errorf("%q %q..%q: %v, want an error naming %s", tt.interval, tt.start, tt.end, err, tt.param)
		}
	}
}

func TestParseMatch(t *testing.T) {
	m, err := ParseMatch("country", []string{"us, BR", "-fr", "", " ! de "})
	want := Match{In: []string{"US", "BR"}, Not: []string{"FR", "DE"}}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v %v, want %+v", m, err, want)
	}
	if m, _ := ParseMatch("device", nil); !m.Any() {
		t.Errorf("no values: %+v", m)
	}
	if m, err := ParseMatch("trigger", []string{"QR"}); err != nil || !reflect.DeepEqual(m.In, []string{"QR"}) {
		t.Errorf("trigger QR: %+v %v", m, err)
	}
}

func TestParseFilter(t *testing.T) {
	q := url.Values{"country": {"us,!br"}, "linkId": {"link_1", "link_2"}, "trigger": {"qr"}, "key": {"ignored"}}
	f, err := ParseFilter(func(p string) []string { return q[p] })
	want := Filter{Country: Match{In: []string{"US"}, Not: []string{"BR"}}, Link: Match{In: []string{"link_1", "link_2"}},
		Trigger: Match{In: []string{"qr"}}}
	if err != nil || !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v %v, want %+v", f, err, want)
	}
	q["trigger"] = []string{"sms"}
	if _, err := ParseFilter(func(p string) []string { return q[p] }); field(err) != "trigger" {
		t.Errorf("bad trigger: %v", err)
	}
}

func TestMatch(t *testing.T) {
	f := Filter{Country: Match{In: []string{"us", "BR"}, Not: []string{"BR"}}, Link: Match{In: []string{"link_A"}}}
	for _, tt := range []struct {
		d    Dimension
		v    string
		want bool
	}{
		{DimCountry, "US", true}, {DimCountry, "br", false}, {DimCountry, "FR", false},
		{DimLink, "link_A", true}, {DimLink, "link_a", false}, {DimDevice, "anything", true},
	} {
		if got := f.Matches(tt.d, tt.v); got != tt.want {
			t.Errorf("%d %q: %v, want %v", tt.d, tt.v, got, tt.want)
		}
	}
	a, b := Match{In: []string{"l1", "l2"}, Not: []string{"l3"}}, Match{In: []string{"l2", "l4"}, Not: []string{"l5"}}
	if got := a.And(b); !reflect.DeepEqual(got, Match{In: []string{"l2"}, Not: []string{"l3", "l5"}}) {
		t.Errorf("and: %+v", got)
	}
	if got := (Match{}).And(b); !reflect.DeepEqual(got.In, b.In) {
		t.Errorf("any and b: %+v", got)
	}
	if got := a.And(Match{In: []string{"l9"}}); got.In == nil || len(got.In) != 0 || got.Any() {
		t.Errorf("disjoint: %+v selects something", got)
	}
}

func TestCheckRetention(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	keep := 30 * 24 * time.Hour
	if err := CheckRetention(now.Add(-keep), now, keep, "free"); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if err := CheckRetention(now.AddDate(-20, 0, 0), now, 0, "enterprise"); err != nil {
		t.Errorf("no limit: %v", err)
	}
	err := CheckRetention(now.Add(-keep-time.Second), now, keep, "free")
	e, ok := errors.AsType[*apierror.Error](err)
	if !ok || e.Code != apierror.PlanLimitReached || e.Details[0].Field != "start" {
		t.Fatalf("beyond: %v", err)
	}
	if want := "the free plan keeps 30 days of clicks: start must be on or after 2026-11-06T10:00:00Z"; e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}
}

func TestCursor(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 123, time.UTC)
	id := [16]byte{1, 2, 3, 255}
	gt, gid, err := DecodeCursor(EncodeCursor(at, id))
	if err != nil || !gt.Equal(at) || gid != id {
		t.Errorf("round trip: %v %v %v", gt, gid, err)
	}
}
