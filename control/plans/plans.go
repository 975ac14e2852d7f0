// Package plans is the one table of what each plan allows. Services check it
// before a change; the API shows it with the org's usage.
//
//	plan        links/mo  domains  tags  API keys  webhooks  clicks/mo  files     file storage  retention  password  rules  variants  custom domains  webhooks
//	free              25        0     5         3         0      1,000        25        50 MiB    30 days   -         -      -         -               -
//	pro            1,000        3    25        10         5     50,000     1,000         1 GiB     1 year   yes       yes    -         yes             yes
//	business      10,000       40   200        50        20    250,000    10,000        20 GiB    3 years   yes       yes    yes       yes             yes
//	enterprise   no limit  no limit  no limit  no limit no limit no limit  no limit  no limit     10 years  yes       yes    yes       yes             yes
//
// "links/mo" counts links created in the calendar month (UTC), deleted ones
// included; "tags", "API keys", "domains", "webhooks", "files" and "file
// storage" (the bytes of the org's files, each file counted whole even when
// its bytes are stored once for several) count what exists.
// Targeting rules include the ios, android and geo shorthands. Rate limits
// are not per plan (see control/ratelimit): h0p dev's top-plan org keeps the
// product's 5/s and 100/min.
//
// # What is served
//
// The table is the product's, whole. What GET /v1/org shows is
// Plan.Served: only ServedLimits and ServedFeatures, the ones H0p has
// endpoints for and enforces (today, all of them), every served feature
// shown true or false. A client reading its org thus never counts on a
// feature it cannot use, and the answer's shape stays that of the table:
// a feature appears the day its endpoints do, by adding it to the lists.
package plans

import (
	"fmt"
	"time"

	"github.com/h0p/h0p/shared/apierror"
)

// Name of a plan.
type Name string

const (
	Free       Name = "free"
	Pro        Name = "pro"
	Business   Name = "business"
	Enterprise Name = "enterprise"
)

// Limit names, as the API shows them.
const (
	LinksPerMonth  = "linksPerMonth"
	CustomDomains  = "customDomains"
	Tags           = "tags"
	APIKeys        = "apiKeys"
	Webhooks       = "webhooks"
	ClicksPerMonth = "trackedClicksPerMonth"
	Files          = "files"
	FilesStorage   = "filesStorageBytes"
)

// Feature names, as the API shows them.
const (
	FeaturePassword      = "passwordLinks"
	FeatureRules         = "targetingRules"
	FeatureVariants      = "abVariants"
	FeatureCustomDomains = "customDomains"
	FeatureWebhooks      = "webhooks"
)

// ServedLimits and ServedFeatures are the limits and features H0p has
// endpoints for and enforces today (see the package doc): links created a
// month, custom domains, tags, API keys, webhooks, tracked clicks a
// month, files and their bytes; password links, targeting rules, A/B
// variants, custom domains and webhooks.
var (
	ServedLimits   = []string{LinksPerMonth, CustomDomains, Tags, APIKeys, Webhooks, ClicksPerMonth, Files, FilesStorage}
	ServedFeatures = []string{FeaturePassword, FeatureRules, FeatureVariants, FeatureCustomDomains, FeatureWebhooks}
)

// Served is p as clients are shown it: its ServedLimits, and each of
// ServedFeatures true or false.
func (p Plan) Served() Plan {
	out := Plan{Name: p.Name, Retention: p.Retention, Limits: map[string]int{}, Features: map[string]bool{}}
	for _, l := range ServedLimits {
		out.Limits[l] = p.Limits[l]
	}
	for _, f := range ServedFeatures {
		out.Features[f] = p.Features[f]
	}
	return out
}

// Plan is one row of the table. A limit of 0 means no limit.
type Plan struct {
	Name      Name            `json:"name"`
	Limits    map[string]int  `json:"limits"`
	Retention time.Duration   `json:"-"`
	Features  map[string]bool `json:"features"`
}

const day = 24 * time.Hour

var table = map[Name]Plan{
	Free: {Free, map[string]int{LinksPerMonth: 25, CustomDomains: -1, Tags: 5, APIKeys: 3, Webhooks: -1, ClicksPerMonth: 1_000,
		Files: 25, FilesStorage: 50 << 20},
		30 * day, map[string]bool{}},
	Pro: {Pro, map[string]int{LinksPerMonth: 1_000, CustomDomains: 3, Tags: 25, APIKeys: 10, Webhooks: 5, ClicksPerMonth: 50_000,
		Files: 1_000, FilesStorage: 1 << 30},
		365 * day, map[string]bool{FeaturePassword: true, FeatureRules: true, FeatureCustomDomains: true, FeatureWebhooks: true}},
	Business: {Business, map[string]int{LinksPerMonth: 10_000, CustomDomains: 40, Tags: 200, APIKeys: 50, Webhooks: 20, ClicksPerMonth: 250_000,
		Files: 10_000, FilesStorage: 20 << 30},
		3 * 365 * day, allFeatures()},
	Enterprise: {Enterprise, map[string]int{LinksPerMonth: 0, CustomDomains: 0, Tags: 0, APIKeys: 0, Webhooks: 0, ClicksPerMonth: 0,
		Files: 0, FilesStorage: 0},
		10 * 365 * day, allFeatures()},
}

func allFeatures() map[string]bool {
	return map[string]bool{FeaturePassword: true, FeatureRules: true, FeatureVariants: true, FeatureCustomDomains: true, FeatureWebhooks: true}
}

// Names lists the plans from smallest to largest.
var Names = []Name{Free, Pro, Business, Enterprise}

// Get returns a plan by name; an unknown or empty name is Free.
func Get(name string) Plan {
	if p, ok := table[Name(name)]; ok {
		return p
	}
	return table[Free]
}

// Valid reports whether name is a plan.
func Valid(name string) bool {
	_, ok := table[Name(name)]
	return ok
}

// Period is the usage period of t: its calendar month in UTC, "2026-11".
func Period(t time.Time) string { return t.UTC().Format("2006-01") }

// CheckLimit refuses going from used to used+adding of limit name.
// A limit of -1 means the plan does not have the feature at all.
func (p Plan) CheckLimit(name string, used, adding int) error {
	max := p.Limits[name]
	switch {
	case max == 0:
		return nil
	case max < 0:
		return apierror.New(apierror.FeatureNotAvailable, "the %s plan does not include %s", p.Name, name)
	case used+adding > max:
		return &apierror.Error{Code: apierror.PlanLimitReached,
			Message: fmt.Sprintf("the %s plan allows %d %s; %d used", p.Name, max, name, used),
			Details: []apierror.Detail{{Field: name, Reason: fmt.Sprintf("limit %d reached", max)}}}
	}
	return nil
}

// Remaining is how many more of limit name fit (-1: no limit).
func (p Plan) Remaining(name string, used int) int {
	max := p.Limits[name]
	switch {
	case max == 0:
		return -1
	case max < 0 || used >= max:
		return 0
	}
	return max - used
}

// CheckFeature refuses a feature outside the plan.
func (p Plan) CheckFeature(feature string) error {
	if p.Features[feature] {
		return nil
	}
	return &apierror.Error{Code: apierror.FeatureNotAvailable,
		Message: fmt.Sprintf("%s is not available on the %s plan", feature, p.Name),
		Details: []apierror.Detail{{Field: feature, Reason: "not in plan " + string(p.Name)}}}
}
