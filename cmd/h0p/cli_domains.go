package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/control/apiclient"
)

const domainsUsage = `Usage:
  h0p domains list [--limit N] [--cursor C] [--all]
  h0p domains get DOMAIN
  h0p domains add NAME [--root-url URL] [--not-found-url URL] [--expired-url URL] [--redirect-status N] [--primary]
  h0p domains verify DOMAIN
  h0p domains delete DOMAIN [--force]

DOMAIN is a domain's ID (dom_…) or its name. A domain added is pending until
its DNS records (printed by add and get) check out: then run verify.
Every command takes --json, which prints the API's answer as it came.
The API is H0P_API_URL (default http://127.0.0.1:8080), called with the key H0P_API_KEY.
Run "h0p domains <command> --help" for a command's flags.
`

// runDomains is `h0p domains …`.
func runDomains(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := func(name, synopsis, summary string) *apiCommand {
		return newAPICommand("domains "+name, "domains "+synopsis, summary, stdout, stderr, getenv)
	}
	return subcommand("domains", domainsUsage, args, stdout, stderr, map[string]func([]string) error{
		"list": func(args []string) error {
			return domainsList(ctx, cmd("list", "list [flags]", "Lists the org's custom domains, oldest first."), args)
		},
		"get": func(args []string) error {
			return domainsOne(ctx, cmd("get", "get DOMAIN", "Prints a domain and the DNS records it needs."), args, "GET", "")
		},
		"add": func(args []string) error {
			return domainsAdd(ctx, cmd("add", "add NAME [flags]",
				"Adds a custom domain and prints the DNS records to publish before verify."), args)
		},
		"verify": func(args []string) error {
			return domainsOne(ctx, cmd("verify", "verify DOMAIN",
				"Checks a domain's DNS records now and prints its status and what was found."), args, "POST", "/verify")
		},
		"delete": func(args []string) error {
			c := cmd("delete", "delete DOMAIN [--force]", "Deletes a domain.")
			force := c.fs.Bool("force", false, "delete the domain's links too (without it, a domain with links is refused)")
			return domainsDelete(ctx, c, force, args)
		},
	})
}

func domainsList(ctx context.Context, c *apiCommand, args []string) error {
	var (
		q   apiclient.ListQuery
		all bool
	)
	c.fs.IntVar(&q.Limit, "limit", 0, "domains per page, 1 to 100 (default 50)")
	c.fs.StringVar(&q.Cursor, "cursor", "", "the page after this cursor (a list's nextCursor)")
	c.fs.BoolVar(&all, "all", false, "every page, not just the first")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("domains list: unexpected argument %q", pos[0])
	}
	return printList(ctx, c, "/v1/domains", q.Values(), all, "domains", []string{"ID", "NAME", "STATUS", "CERTIFICATE", "PRIMARY", "CREATED"},
		func(d apiclient.Domain) []string {
			return []string{d.ID, d.Name, d.Status, d.Certificate.Status, yes(d.Primary), when(d.CreatedAt)}
		})
}

// domainsOne is get (GET /v1/domains/{id}) and verify (POST …/verify).
func domainsOne(ctx context.Context, c *apiCommand, args []string, method, suffix string) error {
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s: name one domain, by its ID or name", c.name)
	}
	id, err := c.domainID(ctx, pos[0])
	if err != nil {
		return err
	}
	return c.printDomain(c.call(ctx, method, "/v1/domains/"+id+suffix, nil, nil))
}

func domainsAdd(ctx context.Context, c *apiCommand, args []string) error {
	var in apiclient.DomainInput
	rootURL := c.fs.String("root-url", "", "where the domain's root (/) sends visitors")
	notFound := c.fs.String("not-found-url", "", "where unknown keys send visitors")
	expired := c.fs.String("expired-url", "", "where expired links send visitors (unless the link says)")
	status := c.fs.Int("redirect-status", 0, "301, 302, 307 or 308 for the domain's links (default 302)")
	primary := c.fs.Bool("primary", false, "make it the org's primary domain, for links created without one")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("domains add: give the domain's name (go.example.com)")
	}
	in.Name = &pos[0]
	for _, f := range []struct {
		v   *string
		dst **string
	}{{rootURL, &in.RootURL}, {notFound, &in.NotFoundURL}, {expired, &in.ExpiredURL}} {
		if *f.v != "" {
			*f.dst = f.v
		}
	}
	if c.set("redirect-status") {
		in.RedirectStatus = status
	}
	if c.set("primary") {
		in.Primary = primary
	}
	return c.printDomain(c.call(ctx, "POST", "/v1/domains", nil, in))
}

func domainsDelete(ctx context.Context, c *apiCommand, force *bool, args []string) error {
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("domains delete: name one domain, by its ID or name")
	}
	id, err := c.domainID(ctx, pos[0])
	if err != nil {
		return err
	}
	var q url.Values
	if *force {
		q = url.Values{"force": {"true"}}
	}
	raw, err := c.call(ctx, "DELETE", "/v1/domains/"+id, q, nil)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	fmt.Fprintln(c.stdout, "deleted", pos[0])
	return nil
}

// domainID is the ID of the domain named by ref: an ID (dom_…) as it
// is, a name looked up among the org's domains.
func (c *apiCommand) domainID(ctx context.Context, ref string) (string, error) {
	if strings.HasPrefix(ref, "dom_") {
		return ref, nil
	}
	name := strings.TrimSuffix(strings.ToLower(ref), ".")
	for d, err := range c.client.AllDomains(ctx, apiclient.ListQuery{Limit: 100}) {
		if err != nil {
			return "", err
		}
		if d.Name == name {
			return d.ID, nil
		}
	}
	return "", fmt.Errorf("no domain named %s in this organization (h0p domains list shows them)", ref)
}

// printDomain prints the domain a call answered, with its DNS records.
func (c *apiCommand) printDomain(raw json.RawMessage, err error) error {
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	var d apiclient.Domain
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("reading the domain: %w", err)
	}
	fs := []field{
		{"id", d.ID}, {"name", d.Name}, {"status", d.Status}, {"primary", yes(d.Primary)},
		{"rootUrl", optStr(d.RootURL)}, {"notFoundUrl", optStr(d.NotFoundURL)}, {"expiredUrl", optStr(d.ExpiredURL)},
		{"redirectStatus", strconv.Itoa(d.RedirectStatus)}, {"verificationToken", d.VerificationToken},
		{"verifiedAt", optTime(d.VerifiedAt)}, {"lastCheckedAt", optTime(d.LastCheckedAt)},
		{"servedUntil", optTime(d.ServedUntil)}, {"createdAt", optTime(&d.CreatedAt)},
		{"certificate", certificateLine(d.Certificate)},
	}
	if e := d.Certificate.LastError; e != nil {
		fs = append(fs, field{"certificateError", fmt.Sprintf("%s (%s; next attempt after %s)",
			e.Message, e.At.Format(time.RFC3339), e.NextAttemptAt.Format(time.RFC3339))})
	}
	if err := c.fields(fs); err != nil {
		return err
	}
	if d.Records == nil {
		return nil
	}
	for _, set := range []struct {
		title   string
		records []apiclient.DNSRecord
	}{{"DNS records to publish:", d.Records.Expected}, {"DNS records found:", d.Records.Found}} {
		if len(set.records) == 0 {
			continue
		}
		fmt.Fprintln(c.stdout, "\n"+set.title)
		rows := make([][]string, len(set.records))
		for i, r := range set.records {
			rows[i] = []string{r.Type, r.Name, r.Value}
		}
		if err := c.table([]string{"TYPE", "NAME", "VALUE"}, rows); err != nil {
			return err
		}
	}
	return nil
}

// certificateLine is a domain's certificate in one line: its status, and
// while it has one, until when it is valid and when it renews.
func certificateLine(c apiclient.DomainCertificate) string {
	line := c.Status
	if c.NotAfter != nil {
		line += ", valid until " + c.NotAfter.Format(time.RFC3339)
	}
	if c.RenewsAt != nil {
		line += ", renews from " + c.RenewsAt.Format(time.RFC3339)
	}
	return line
}
