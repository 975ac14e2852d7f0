package analytics

import (
	"slices"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestBuckets(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name       string
		zone       string
		iv         Interval
		start, end string
		want       []string // UTC boundaries
	}{
		{"hours", "UTC", Hour, "2026-03-02T10:17:00Z", "2026-03-02T12:00:00Z",
			[]string{"2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z"}},
		{"hours at +05:30", "Asia/Kolkata", Hour, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z",
			[]string{"2026-03-02T09:30:00Z", "2026-03-02T10:30:00Z", "2026-03-02T11:30:00Z"}},
		{"hours at +12:45", "Pacific/Chatham", Hour, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z",
			[]string{"2026-03-02T09:15:00Z", "2026-03-02T10:15:00Z", "2026-03-02T11:15:00Z"}},
		// Lord Howe moves by half an hour: 02:00 +10:30 becomes 02:30 +11
		// on 2026-10-04 (15:30 UTC); the hour of 01:00 lasts until 02:00
		// local, which is now 15:00 UTC, and the next hour begins at 02:30.
		{"half-hour daylight saving", "Australia/Lord_Howe", Hour, "2026-10-03T14:30:00Z", "2026-10-03T16:30:00Z",
			[]string{"2026-10-03T14:30:00Z", "2026-10-03T15:30:00Z", "2026-10-03T16:00:00Z", "2026-10-03T17:00:00Z"}},
		{"days across spring in New York", "America/New_York", Day, "2026-03-07T05:00:00Z", "2026-03-10T04:00:00Z",
			[]string{"2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", "2026-03-10T04:00:00Z"}},
		{"months", "Europe/Paris", Month, "2026-01-15T00:00:00Z", "2026-04-01T00:00:00Z",
			[]string{"2025-12-31T23:00:00Z", "2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z", "2026-04-30T22:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := Query{Org: "o", GroupBy: GroupTimeseries, Interval: tt.iv, Location: mustZone(t, tt.zone),
				Start: utc(tt.start), End: utc(tt.end)}
			if err := q.Check(); err != nil {
				t.Fatal(err)
			}
			got := q.Buckets()
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if !got[i].Equal(utc(tt.want[i])) {
					t.Errorf("boundary %d: %v, want %s", i, got[i].UTC(), tt.want[i])
				}
				if got[i].Location() != q.Location {
					t.Errorf("boundary %d is in %v", i, got[i].Location())
				}
			}
		})
	}
}

func TestDefaultInterval(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		d    time.Duration
		want Interval
	}{{time.Hour, Hour}, {48 * time.Hour, Hour}, {49 * time.Hour, Day}, {90 * 24 * time.Hour, Day}, {365 * 24 * time.Hour, Month}} {
		if got := DefaultInterval(t0, t0.Add(tt.d)); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestPieces(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	type piece struct {
		bucket   int
		unit     Interval
		from, to string
	}
	tests := []struct {
		name string
		q    Query
		want []piece
	}{
		{"whole UTC days", Query{GroupBy: GroupCount, Start: at("2026-03-02T00:00:00Z"), End: at("2026-03-05T00:00:00Z")},
			[]piece{{0, Day, "2026-03-02T00:00:00Z", "2026-03-05T00:00:00Z"}}},
		{"unaligned ends", Query{GroupBy: GroupCount, Start: at("2026-03-02T22:17:00Z"), End: at("2026-03-04T01:30:00Z")},
			[]piece{{0, 0, "2026-03-02T22:17:00Z", "2026-03-02T23:00:00Z"}, {0, Hour, "2026-03-02T23:00:00Z", "2026-03-03T00:00:00Z"},
				{0, Day, "2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z"}, {0, Hour, "2026-03-04T00:00:00Z", "2026-03-04T01:00:00Z"},
				{0, 0, "2026-03-04T01:00:00Z", "2026-03-04T01:30:00Z"}}},
		{"a day in New York: hours only", Query{GroupBy: GroupTimeseries, Interval: Day, Location: mustZone(t, "America/New_York"),
			Start: at("2026-03-03T05:00:00Z"), End: at("2026-03-04T05:00:00Z")},
			[]piece{{0, Hour, "2026-03-03T05:00:00Z", "2026-03-04T05:00:00Z"}}},
		{"a day in India: parts of hours at both ends", Query{GroupBy: GroupTimeseries, Interval: Day, Location: mustZone(t, "Asia/Kolkata"),
			Start: at("2026-03-02T18:30:00Z"), End: at("2026-03-03T18:30:00Z")},
			[]piece{{0, 0, "2026-03-02T18:30:00Z", "2026-03-02T19:00:00Z"}, {0, Hour, "2026-03-02T19:00:00Z", "2026-03-03T18:00:00Z"},
				{0, 0, "2026-03-03T18:00:00Z", "2026-03-03T18:30:00Z"}}},
		{"before 1970", Query{GroupBy: GroupCount, Start: at("1969-12-31T00:00:00Z"), End: at("1970-01-01T00:30:00Z")},
			[]piece{{0, 0, "1970-01-01T00:00:00Z", "1970-01-01T00:30:00Z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Org = "o"
			if err := tt.q.Check(); err != nil {
				t.Fatal(err)
			}
			var got []piece
			for _, p := range tt.q.Pieces() {
				got = append(got, piece{p.Bucket, p.Unit, p.From.UTC().Format(time.RFC3339), p.To.UTC().Format(time.RFC3339)})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestRollupDimension(t *testing.T) {
	us := Match{In: []string{"US"}}
	for _, tt := range []struct {
		g    GroupBy
		f    Filter
		want Dimension
		ok   bool
	}{
		{GroupCount, Filter{}, DimTotal, true},
		{GroupCountries, Filter{}, DimCountry, true},
		{GroupCountries, Filter{Country: us}, DimCountry, true},
		{GroupTopLinks, Filter{Country: us, Link: us}, DimCountry, true},
		{GroupDevices, Filter{Country: us}, DimDevice, false},
		{GroupCount, Filter{Country: us, OS: us}, DimOS, false},
	} {
		q := Query{GroupBy: tt.g, Filter: tt.f}
		if got, ok := q.RollupDimension(); ok != tt.ok || ok && got != tt.want {
			t.Errorf("%s %+v: %v %v, want %v %v", tt.g, tt.f, got, ok, tt.want, tt.ok)
		}
	}
}
