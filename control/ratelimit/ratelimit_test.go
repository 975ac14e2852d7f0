package ratelimit

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// assertHeaders checks the named headers that SetHeaders writes for d; a
// want of "" means the header must be absent.
func assertHeaders(t *testing.T, d Decision, want map[string]string) {
	t.Helper()
	h := http.Header{}
	d.SetHeaders(h)
	for name, w := range want {
		if got := h.Get(name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
}

var defaultPolicy = `"second";q=5;w=1, "minute";q=100;w=60`

func TestSetHeaders(t *testing.T) {
	second := func(r int, reset time.Duration) Window {
		return Window{Name: "second", Quota: 5, Period: time.Second, Remaining: r, Reset: reset}
	}
	minute := func(r int, reset time.Duration) Window {
		return Window{Name: "minute", Quota: 100, Period: time.Minute, Remaining: r, Reset: reset}
	}
	tests := []struct {
		name string
		d    Decision
		want map[string]string
	}{
		{
			name: "first request of a new key",
			d:    Decision{Allowed: true, Windows: [2]Window{second(4, time.Second), minute(99, time.Minute)}},
			want: map[string]string{
				"RateLimit-Policy": defaultPolicy,
				"RateLimit":        `"second";r=4;t=1`,
				"Retry-After":      "",
			},
		},
		{
			name: "minute window lower",
			d: Decision{Allowed: true, Windows: [2]Window{
				{Name: "second", Quota: 50, Period: time.Second, Remaining: 49, Reset: time.Second},
				minute(42, 34800*time.Millisecond),
			}},
			want: map[string]string{
				"RateLimit-Policy": `"second";q=50;w=1, "minute";q=100;w=60`,
				"RateLimit":        `"minute";r=42;t=35`,
				"Retry-After":      "",
			},
		},
		{
			name: "fewest remaining wins, not the smaller share",
			d:    Decision{Allowed: true, Windows: [2]Window{second(4, 600*time.Millisecond), minute(42, 34800*time.Millisecond)}},
			want: map[string]string{"RateLimit": `"second";r=4;t=1`},
		},
		{
			name: "tie on remaining names the one whose remaining grows later",
			d:    Decision{Allowed: true, Windows: [2]Window{second(0, time.Second), minute(0, 59*time.Second)}},
			want: map[string]string{"RateLimit": `"minute";r=0;t=59`},
		},
		{
			name: "refused by the second window",
			d: Decision{RetryAfter: 200 * time.Millisecond,
				Windows: [2]Window{second(0, 200*time.Millisecond), minute(95, 57*time.Second)}},
			want: map[string]string{
				"RateLimit-Policy": defaultPolicy,
				"RateLimit":        `"second";r=0;t=1`,
				"Retry-After":      "1",
			},
		},
		{
			name: "refused by the minute window",
			d: Decision{RetryAfter: 4*time.Second + time.Nanosecond,
				Windows: [2]Window{
					{Name: "second", Quota: 5, Period: time.Second, Remaining: 5},
					{Name: "minute", Quota: 10, Period: time.Minute, Remaining: 0, Reset: 4*time.Second + time.Nanosecond},
				}},
			want: map[string]string{
				"RateLimit-Policy": `"second";q=5;w=1, "minute";q=10;w=60`,
				"RateLimit":        `"minute";r=0;t=5`,
				"Retry-After":      "5",
			},
		},
		{
			name: "Retry-After is at least 1",
			d:    Decision{RetryAfter: time.Nanosecond, Windows: [2]Window{second(0, time.Nanosecond), minute(1, 59*time.Second)}},
			want: map[string]string{"Retry-After": "1", "RateLimit": `"second";r=0;t=1`},
		},
		{
			name: "zero decision writes nothing",
			d:    Decision{},
			want: map[string]string{"RateLimit-Policy": "", "RateLimit": "", "Retry-After": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertHeaders(t, tt.d, tt.want)
		})
	}
}

func TestWholeSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{
		{-time.Second, 0},
		{0, 0},
		{time.Nanosecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{59400 * time.Millisecond, 60},
	} {
		if got := wholeSeconds(tt.d); got != tt.want {
			t.Errorf("wholeSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// Only a context marked by Interactive is interactive, and the mark
// survives contexts derived from it.
func TestInteractive(t *testing.T) {
	type otherKey struct{}
	plain := context.WithValue(context.Background(), otherKey{}, true)
	marked, cancel := context.WithCancel(Interactive(context.Background()))
	defer cancel()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"background", context.Background(), false},
		{"another key's value", plain, false},
		{"marked, then derived", marked, true},
	} {
		if got := IsInteractive(tt.ctx); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
