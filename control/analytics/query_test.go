package analytics

import (
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
