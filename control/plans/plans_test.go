package plans

import (
	"errors"
	"testing"

	"github.com/h0p/h0p/shared/apierror"
)

func code(err error) apierror.Code {
	var e *apierror.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestTable(t *testing.T) {
	free, ent := Get("free"), Get("enterprise")
	if Get("nonsense").Name != Free || Get("").Name != Free {
		t.Error("unknown plans are not free")
	}
	if code(free.CheckLimit(LinksPerMonth, 25, 1)) != apierror.PlanLimitReached || free.CheckLimit(LinksPerMonth, 24, 1) != nil {
		t.Error("free links per month")
	}
	if code(free.CheckLimit(Webhooks, 0, 1)) != apierror.FeatureNotAvailable {
		t.Error("free webhooks")
	}
	if ent.CheckLimit(LinksPerMonth, 1e9, 1000) != nil || ent.Remaining(Tags, 1e6) != -1 {
		t.Error("enterprise is not unlimited")
	}
	if code(free.CheckFeature(FeaturePassword)) != apierror.FeatureNotAvailable || Get("pro").CheckFeature(FeaturePassword) != nil {
		t.Error("password feature")
	}
	if code(Get("pro").CheckFeature(FeatureVariants)) != apierror.FeatureNotAvailable || Get("business").CheckFeature(FeatureVariants) != nil {
		t.Error("variants feature")
	}
	if free.Remaining(LinksPerMonth, 20) != 5 || free.Remaining(LinksPerMonth, 30) != 0 {
		t.Error("Remaining")
	}
	for _, n := range Names {
		if !Valid(string(n)) {
			t.Errorf("%s not valid", n)
		}
	}
}

// Served shows what has endpoints, features true or false: today every
// limit and feature of the table.
func TestServed(t *testing.T) {
	for _, n := range Names {
		p, s := Get(string(n)), Get(string(n)).Served()
		if len(s.Limits) != len(ServedLimits) || len(s.Features) != len(ServedFeatures) {
			t.Errorf("%s: served %v %v", n, s.Limits, s.Features)
		}
		for _, l := range ServedLimits {
			if v, ok := p.Limits[l]; !ok || s.Limits[l] != v {
				t.Errorf("%s: limit %s served %d, table %d (in table: %v)", n, l, s.Limits[l], v, ok)
			}
		}
		for _, f := range ServedFeatures {
			if v, ok := s.Features[f]; !ok || v != p.Features[f] {
				t.Errorf("%s: feature %s served %v (shown: %v), table %v", n, f, v, ok, p.Features[f])
			}
		}
		for l := range p.Limits {
			if _, ok := s.Limits[l]; !ok {
				t.Errorf("%s: limit %s has endpoints and is not served", n, l)
			}
		}
		for f := range p.Features {
			if _, ok := s.Features[f]; !ok {
				t.Errorf("%s: feature %s has endpoints and is not served", n, f)
			}
		}
	}
	if !Get("pro").Features[FeatureWebhooks] {
		t.Error("the table lost pro's webhooks")
	}
}
