package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/shared/apierror"
)

// The resources' URIs.
const (
	LinkTemplate = "h0p://links/{id}"
	StatsSummary = "h0p://stats/summary"
	linkPrefix   = "h0p://links/"
)

func (h *handlers) addResources(s *mcpsdk.Server) {
	s.AddResourceTemplate(&mcpsdk.ResourceTemplate{
		Name: "link", Title: "A link", URITemplate: LinkTemplate, MIMEType: "application/json",
		Description: "One link of the organization by id (link_…), as get_link answers it: destination, short link, settings, clicks.",
	}, h.readLink)
	s.AddResource(&mcpsdk.Resource{
		Name: "stats_summary", Title: "Clicks of the last 30 days", URI: StatsSummary, MIMEType: "application/json",
		Description: "The organization's clicks over the last 30 days: the total, the 10 links and the 10 countries with the most.",
	}, h.readSummary)
}

func (h *handlers) readLink(ctx context.Context, req *mcpsdk.ReadResourceRequest) (*mcpsdk.ReadResourceResult, error) {
	uri := req.Params.URI
	id, ok := strings.CutPrefix(uri, linkPrefix)
	if !ok || checkID("id", ids.Link, id) != nil {
		return nil, mcpsdk.ResourceNotFoundError(uri)
	}
	out, err := h.call(ctx, req.Extra, http.MethodGet, "/v1/links/"+id, nil, nil)
	if apiclient.IsCode(err, apierror.NotFound) {
		return nil, mcpsdk.ResourceNotFoundError(uri)
	}
	if err != nil {
		return nil, err
	}
	return jsonResource(uri, out), nil
}

// readSummary is three stats reads: the total, the top links and the top
// countries of the last 30 days.
func (h *handlers) readSummary(ctx context.Context, req *mcpsdk.ReadResourceRequest) (*mcpsdk.ReadResourceResult, error) {
	summary := map[string]json.RawMessage{"interval": json.RawMessage(`"30d"`)}
	for _, part := range []struct{ name, groupBy string }{{"total", "count"}, {"topLinks", "top_links"}, {"countries", "countries"}} {
		q := url.Values{"interval": {"30d"}, "groupBy": {part.groupBy}}
		if part.groupBy != "count" {
			q.Set("limit", "10")
		}
		out, err := h.call(ctx, req.Extra, http.MethodGet, "/v1/stats", q, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", part.name, err)
		}
		summary[part.name] = out
	}
	b, err := json.Marshal(summary)
	if err != nil {
		return nil, err
	}
	return jsonResource(req.Params.URI, b), nil
}

func jsonResource(uri string, b []byte) *mcpsdk.ReadResourceResult {
	return &mcpsdk.ReadResourceResult{Contents: []*mcpsdk.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(b)}}}
}

// --- prompts -----------------------------------------------------------

func addPrompts(s *mcpsdk.Server) {
	s.AddPrompt(&mcpsdk.Prompt{
		Name: "campaign_links", Title: "Campaign links",
		Description: "Creates one tracked short link of a URL per traffic source of a campaign (UTM variants) and reports them.",
		Arguments: []*mcpsdk.PromptArgument{
			{Name: "url", Description: "the page the campaign sends people to", Required: true},
			{Name: "campaign", Description: "the campaign's name, its utm_campaign (e.g. spring_sale)", Required: true},
			{Name: "sources", Description: "comma-separated sources (default: newsletter,twitter,linkedin,facebook)"},
			{Name: "domain", Description: "the short links' domain (default: the organization's default)"},
		},
	}, campaignLinks)
	s.AddPrompt(&mcpsdk.Prompt{
		Name: "weekly_report", Title: "Weekly clicks report",
		Description: "Reports the organization's last 7 days of clicks: totals, trend, top links, countries and referers.",
		Arguments: []*mcpsdk.PromptArgument{
			{Name: "timezone", Description: "IANA zone of the days (default UTC), e.g. Europe/Paris"},
		},
	}, weeklyReport)
}

// mediums are the utm_medium of well-known sources.
var mediums = map[string]string{"newsletter": "email", "email": "email", "twitter": "social", "x": "social",
	"linkedin": "social", "facebook": "social", "instagram": "social", "google": "cpc", "reddit": "social"}

func campaignLinks(_ context.Context, req *mcpsdk.GetPromptRequest) (*mcpsdk.GetPromptResult, error) {
	args := req.Params.Arguments
	target, campaign := strings.TrimSpace(args["url"]), strings.TrimSpace(args["campaign"])
	if target == "" || campaign == "" {
		return nil, fmt.Errorf("campaign_links needs url and campaign")
	}
	sources := splitList(args["sources"])
	if len(sources) == 0 {
		sources = []string{"newsletter", "twitter", "linkedin", "facebook"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Create tracked short links to %s for the campaign %q, one per source, with H0p's tools.\n\n", target, campaign)
	b.WriteString("1. Call bulk_create_links once with these links (each: url, utm, tags, externalId")
	if d := strings.TrimSpace(args["domain"]); d != "" {
		fmt.Fprintf(&b, ", domain %q", d)
	}
	b.WriteString("):\n")
	for _, src := range sources {
		medium := mediums[strings.ToLower(src)]
		if medium == "" {
			medium = "referral"
		}
		fmt.Fprintf(&b, "   - url %s, utm {source: %q, medium: %q, campaign: %q}, tags [%q], externalId %q\n",
			target, src, medium, campaign, campaign, campaign+"-"+src)
	}
	b.WriteString("2. For a result with an error: ALREADY_EXIST means the link was made before — read it with get_link by " +
		"externalId; fix a VALIDATION_ERROR's fields and create that one again with create_link.\n")
	b.WriteString("3. Answer with a table: source, shortLink, destination with its UTM parameters.\n")
	b.WriteString("4. Say that get_stats with tag " + campaign + " and groupBy utm_sources will compare the sources once clicks come in.")
	return &mcpsdk.GetPromptResult{
		Description: "Campaign links for " + campaign,
		Messages:    []*mcpsdk.PromptMessage{{Role: "user", Content: &mcpsdk.TextContent{Text: b.String()}}},
	}, nil
}

func weeklyReport(_ context.Context, req *mcpsdk.GetPromptRequest) (*mcpsdk.GetPromptResult, error) {
	tz := strings.TrimSpace(req.Params.Arguments["timezone"])
	zone := ""
	if tz != "" {
		zone = fmt.Sprintf(", timezone %q", tz)
	}
	text := fmt.Sprintf(`Write a short report of the last 7 days of clicks on our H0p links. Call get_stats with interval 7d%[1]s:
1. groupBy count with unique true: total clicks and visitors;
2. groupBy timeseries with granularity day: the trend, busiest and quietest day;
3. groupBy top_links with limit 5, then countries with limit 5, then referers with limit 5.
Compare with the 7 days before (start and end of that week) for the totals. Answer in a few lines and one table
of the top links (short link, destination, clicks). Say plainly if there were no clicks.`, zone)
	return &mcpsdk.GetPromptResult{
		Description: "Weekly clicks report",
		Messages:    []*mcpsdk.PromptMessage{{Role: "user", Content: &mcpsdk.TextContent{Text: text}}},
	}, nil
}

func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
