package api_test

import (
	"fmt"
	"testing"
)

// GET /v1/org shows the limits and features H0p has endpoints for, every
// feature true or false, and the org's usage of each limit.
func TestOrgShowsOnlyServedPlanFeatures(t *testing.T) {
	e := mustStart(t)
	free := mustOrgOnPlan(t, e, "free", "free")
	for _, tc := range []struct{ key, limits, features string }{
		{free, "map[apiKeys:3 customDomains:0 files:25 filesStorageBytes:5.24288e+07 linksPerMonth:25 tags:5 trackedClicksPerMonth:1000 webhooks:0]", "map[abVariants:false customDomains:false passwordLinks:false targetingRules:false webhooks:false]"},
		{e.key, "map[apiKeys:<nil> customDomains:<nil> files:<nil> filesStorageBytes:<nil> linksPerMonth:<nil> tags:<nil> trackedClicksPerMonth:<nil> webhooks:<nil>]", "map[abVariants:true customDomains:true passwordLinks:true targetingRules:true webhooks:true]"},
	} {
		org := e.mustCall(t, 200, "GET", "/v1/org", tc.key, "")
		if got := fmt.Sprint(org["limits"]); got != tc.limits {
			t.Errorf("%s limits %s, want %s", org["plan"], got, tc.limits)
		}
		if got := fmt.Sprint(org["features"]); got != tc.features {
			t.Errorf("%s features %s, want %s", org["plan"], got, tc.features)
		}
		if got := fmt.Sprint(org["usage"]); got != "map[apiKeys:1 apiRequestsThisMonth:map[errors:0 rateLimited:0 requests:0] customDomains:0 files:0 filesStorageBytes:0 linksCreatedThisMonth:0 tags:0 trackedClicksThisMonth:0 webhooks:0]" {
			t.Errorf("%s usage %s", org["plan"], got)
		}
		if got := fmt.Sprint(org["clickTracking"]); got != "map[paused:false resumesAt:<nil>]" {
			t.Errorf("%s clickTracking %s", org["plan"], got)
		}
	}
}

// The org's usage counts its custom domains.
func TestOrgUsageCountsCustomDomains(t *testing.T) {
	e := mustStart(t)
	e.mustCall(t, 201, "POST", "/v1/domains", e.key, `{"name":"go.example.com"}`)
	org := e.mustCall(t, 200, "GET", "/v1/org", e.key, "")
	if got := org["usage"].(map[string]any)["customDomains"]; got != float64(1) {
		t.Errorf("usage customDomains %v, want 1", got)
	}
}
