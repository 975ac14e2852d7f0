package api

import (
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/plans"
)

// At its plan's tracked clicks, an org's view says tracking is paused and
// when it resumes.
func TestClickTrackingPausesAtThePlanLimit(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	free := plans.Get("free")
	if got := clickTrackingOf(free, accounts.Usage{ClicksThisMonth: 999}, now); got.Paused {
		t.Fatalf("under the limit: %+v", got)
	}
	got := clickTrackingOf(free, accounts.Usage{ClicksThisMonth: 1000}, now)
	if !got.Paused || got.ResumesAt == nil || *got.ResumesAt != "2027-01-01T00:00:00Z" || !strings.Contains(got.Message, "keep redirecting") {
		t.Fatalf("at the limit: %+v", got)
	}
	if got := clickTrackingOf(plans.Get("enterprise"), accounts.Usage{ClicksThisMonth: 1 << 40}, now); got.Paused {
		t.Fatalf("no limit: %+v", got)
	}
}
