package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
)

const linksUsage = `Usage:
  h0p links create --url URL [--key SLUG] [--domain DOMAIN] [--tag TAG]… [--expires-at TIME] [flags]
  h0p links get ID | --domain DOMAIN --key SLUG | --external-id ID
  h0p links list [--search Q] [--domain DOMAIN] [--tag TAG] [--limit N] [--cursor C] [--all]
  h0p links update ID [--url URL] [--key SLUG] [--tag TAG]… [flags]   (a flag set to "" clears the field)
  h0p links delete ID…

Every command takes --json, which prints the API's answer as it came.
The API is H0P_API_URL (default http://127.0.0.1:8080), called with the key H0P_API_KEY.
Run "h0p links <command> --help" for a command's flags.
`

// runLinks is `h0p links …`.
func runLinks(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := func(name, synopsis, summary string) *apiCommand {
		return newAPICommand("links "+name, "links "+synopsis, summary, stdout, stderr, getenv)
	}
	return subcommand("links", linksUsage, args, stdout, stderr, map[string]func([]string) error{
		"create": func(args []string) error {
			return linksCreate(ctx, cmd("create", "create --url URL [flags]", "Creates a short link."), args)
		},
		"get": func(args []string) error {
			return linksGet(ctx, cmd("get", "get ID | --domain DOMAIN --key SLUG | --external-id ID",
				"Prints a link, named by its ID, by its domain and key, or by its external ID."), args)
		},
		"list": func(args []string) error {
			return linksList(ctx, cmd("list", "list [flags]",
				"Lists links, newest first: a page of them, or with --all every one."), args)
		},
		"update": func(args []string) error {
			return linksUpdate(ctx, cmd("update", "update ID [flags]",
				"Changes the fields given, and only those; a flag set to \"\" (--title '') clears its field."), args)
		},
		"delete": func(args []string) error {
			return linksDelete(ctx, cmd("delete", "delete ID…", "Deletes links."), args)
		},
	})
}

// linkFlags are the fields of a link a command line can write.
type linkFlags struct {
	strs                                 map[string]*string // flag name → value
	tags                                 listFlag
	redirectStatus                       int
	maxClicks                            int64
	archived, disabled, doIndex, noTrack bool
	forwardQuery                         bool
}

// linkStringFlags are the string fields: flag name, JSON name, usage.
var linkStringFlags = []struct{ flag, json, usage string }{
	{"url", "url", "destination URL"},
	{"domain", "domain", "short domain (default: the org's primary domain)"},
	{"key", "key", "the slug after the domain (default: a random one)"},
	{"title", "title", "title"},
	{"description", "description", "description"},
	{"image", "image", "image URL (or file_… id)"},
	{"external-id", "externalId", "your system's ID for the link"},
	{"comments", "comments", "comments"},
	{"expires-at", "expiresAt", "when the link stops redirecting: RFC 3339 time or date"},
	{"expired-url", "expiredUrl", "where the link sends visitors once expired"},
	{"valid-since", "validSince", "when the link starts redirecting: RFC 3339 time or date"},
	{"password", "password", "password visitors must give"},
	{"ios", "ios", "destination for iOS visitors"},
	{"android", "android", "destination for Android visitors"},
	{"utm-source", "utm", "utm_source added to the destination"},
	{"utm-medium", "utm", "utm_medium"},
	{"utm-campaign", "utm", "utm_campaign"},
	{"utm-term", "utm", "utm_term"},
	{"utm-content", "utm", "utm_content"},
}

func (f *linkFlags) register(c *apiCommand) {
	f.strs = map[string]*string{}
	for _, s := range linkStringFlags {
		f.strs[s.flag] = c.fs.String(s.flag, "", s.usage)
	}
	c.fs.Var(&f.tags, "tag", "a tag (repeat the flag, or separate with commas)")
	c.fs.IntVar(&f.redirectStatus, "redirect-status", 0, "301, 302, 307 or 308 (default: the domain's)")
	c.fs.Int64Var(&f.maxClicks, "max-clicks", 0, "clicks after which the link stops redirecting")
	c.fs.BoolVar(&f.archived, "archived", false, "archived (hidden from lists by default, still redirects)")
	c.fs.BoolVar(&f.disabled, "disabled", false, "disabled (stops redirecting)")
	c.fs.BoolVar(&f.doIndex, "do-index", false, "let search engines index the link")
	c.fs.BoolVar(&f.noTrack, "do-not-track", false, "record no clicks")
	c.fs.BoolVar(&f.forwardQuery, "forward-query", true, "pass the short link's query string on to the destination")
}

// input is the LinkInput of the flags given: a string flag given as ""
// clears its field.
func (f *linkFlags) input(c *apiCommand) (apiclient.LinkInput, bool, error) {
	var in apiclient.LinkInput
	changed := false
	var utm apiclient.UTM
	utmSet := false
	for _, s := range linkStringFlags {
		if !c.set(s.flag) {
			continue
		}
		changed = true
		v := *f.strs[s.flag]
		if strings.HasPrefix(s.flag, "utm-") {
			utmSet = true
			p := map[string]*string{"utm-source": &utm.Source, "utm-medium": &utm.Medium, "utm-campaign": &utm.Campaign,
				"utm-term": &utm.Term, "utm-content": &utm.Content}[s.flag]
			*p = v
			continue
		}
		if v == "" {
			in.Clear = append(in.Clear, s.json)
			continue
		}
		switch s.json {
		case "expiresAt", "validSince":
			t, err := parseTime(s.flag, v)
			if err != nil {
				return in, false, err
			}
			if s.json == "expiresAt" {
				in.ExpiresAt = &t
			} else {
				in.ValidSince = &t
			}
		default:
			*map[string]**string{"url": &in.URL, "domain": &in.Domain, "key": &in.Key, "title": &in.Title,
				"description": &in.Description, "image": &in.Image, "externalId": &in.ExternalID,
				"comments": &in.Comments, "expiredUrl": &in.ExpiredURL, "password": &in.Password,
				"ios": &in.IOS, "android": &in.Android}[s.json] = &v
		}
	}
	if utmSet {
		if utm == (apiclient.UTM{}) {
			in.Clear = append(in.Clear, "utm")
		} else {
			in.UTM = &utm
		}
	}
	if c.set("tag") {
		changed = true
		if len(f.tags) == 0 {
			in.Clear = append(in.Clear, "tags")
		} else {
			in.Tags = f.tags
		}
	}
	if c.set("redirect-status") {
		changed, in.RedirectStatus = true, &f.redirectStatus
	}
	if c.set("max-clicks") {
		changed = true
		if f.maxClicks == 0 {
			in.Clear = append(in.Clear, "maxClicks")
		} else {
			in.MaxClicks = &f.maxClicks
		}
	}
	for name, b := range map[string]struct {
		v   bool
		dst **bool
	}{"archived": {f.archived, &in.Archived}, "disabled": {f.disabled, &in.Disabled}, "do-index": {f.doIndex, &in.DoIndex},
		"do-not-track": {f.noTrack, &in.DoNotTrack}, "forward-query": {f.forwardQuery, &in.ForwardQuery}} {
		if c.set(name) {
			changed, *b.dst = true, apiclient.Ptr(b.v)
		}
	}
	return in, changed, nil
}

func linksCreate(ctx context.Context, c *apiCommand, args []string) error {
	var f linkFlags
	f.register(c)
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("links create: unexpected argument %q (the destination is --url)", pos[0])
	}
	if !c.set("url") || *f.strs["url"] == "" {
		return usagef("links create: --url is required")
	}
	in, _, err := f.input(c)
	if err != nil {
		return err
	}
	in.Clear = nil // nothing to clear on a new link
	return c.printLink(c.call(ctx, "POST", "/v1/links", nil, in))
}

func linksGet(ctx context.Context, c *apiCommand, args []string) error {
	var domain, key, externalID string
	c.fs.StringVar(&domain, "domain", "", "the link's domain (with --key)")
	c.fs.StringVar(&key, "key", "", "the link's key, its slug")
	c.fs.StringVar(&externalID, "external-id", "", "the link's external ID")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && key == "" && externalID == "" && domain == "":
		return c.printLink(c.call(ctx, "GET", "/v1/links/"+pos[0], nil, nil))
	case len(pos) == 0 && key != "" && externalID == "":
		q := map[string][]string{"domain": {domain}, "key": {key}}
		if domain == "" {
			return usagef("links get: --key needs --domain")
		}
		return c.printLink(c.call(ctx, "GET", "/v1/links/info", q, nil))
	case len(pos) == 0 && externalID != "" && key == "" && domain == "":
		return c.printLink(c.call(ctx, "GET", "/v1/links/info", map[string][]string{"externalId": {externalID}}, nil))
	}
	return usagef("links get: name one link: its ID, or --domain and --key, or --external-id")
}

func linksList(ctx context.Context, c *apiCommand, args []string) error {
	var (
		q   apiclient.LinkQuery
		all bool
	)
	c.fs.StringVar(&q.Search, "search", "", "only links whose key, URL or title contains this")
	c.fs.StringVar(&q.Domain, "domain", "", "only links on this domain")
	c.fs.StringVar(&q.Tag, "tag", "", "only links with this tag")
	c.fs.StringVar(&q.ExternalID, "external-id", "", "only the link with this external ID")
	c.fs.StringVar(&q.CreatedBy, "created-by", "", "only links created by this user or key (usr_…, key_…)")
	archived := c.fs.Bool("archived", false, "archived links (true) or the others (false); default both")
	c.fs.StringVar(&q.Sort, "sort", "", "createdAt (default), clicks or lastClickedAt")
	c.fs.StringVar(&q.Order, "order", "", "desc (default) or asc")
	c.fs.IntVar(&q.Limit, "limit", 0, "links per page, 1 to 100 (default 50)")
	c.fs.StringVar(&q.Cursor, "cursor", "", "the page after this cursor (a list's nextCursor)")
	c.fs.BoolVar(&all, "all", false, "every page, not just the first")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("links list: unexpected argument %q", pos[0])
	}
	if c.set("archived") {
		q.Archived = archived
	}
	return printList(ctx, c, "/v1/links", q.Values(), all, "links", []string{"ID", "SHORT LINK", "URL", "CLICKS", "CREATED"},
		func(l apiclient.Link) []string {
			return []string{l.ID, l.ShortLink, clip(l.URL, 60), strconv.FormatInt(l.Clicks, 10), when(l.CreatedAt)}
		})
}

func linksUpdate(ctx context.Context, c *apiCommand, args []string) error {
	var f linkFlags
	f.register(c)
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("links update: name one link by its ID")
	}
	in, changed, err := f.input(c)
	if err != nil {
		return err
	}
	if !changed {
		return usagef("links update: nothing to change: give the fields to change as flags (--url, --tag, …)")
	}
	return c.printLink(c.call(ctx, "PATCH", "/v1/links/"+pos[0], nil, in))
}

func linksDelete(ctx context.Context, c *apiCommand, args []string) error {
	ids, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usagef("links delete: name the links to delete by their IDs")
	}
	if len(ids) == 1 {
		raw, err := c.call(ctx, "DELETE", "/v1/links/"+ids[0], nil, nil)
		if err != nil {
			return err
		}
		return c.printDeleted(ids[0], raw)
	}
	// Each link is deleted on its own: a failure is told and the rest go
	// on; the command fails if any did.
	deleted := 0
	for _, id := range ids {
		raw, err := c.call(ctx, "DELETE", "/v1/links/"+id, nil, nil)
		if ctx.Err() != nil {
			return fmt.Errorf("links delete: deleted %d of %d links, then stopped: %w", deleted, len(ids), ctx.Err())
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "h0p: links delete %s: %s\n", id, errorLine(err))
			continue
		}
		if err := c.printDeleted(id, raw); err != nil {
			return err
		}
		deleted++
	}
	if deleted < len(ids) {
		return fmt.Errorf("links delete: deleted %d of %d links", deleted, len(ids))
	}
	return nil
}

// printDeleted says a link was deleted: the API's answer with --json.
func (c *apiCommand) printDeleted(id string, raw json.RawMessage) error {
	if c.json {
		return c.printJSON(raw)
	}
	_, err := fmt.Fprintln(c.stdout, "deleted", id)
	return err
}

// printLink prints the link a call answered.
func (c *apiCommand) printLink(raw json.RawMessage, err error) error {
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	var l apiclient.Link
	if err := json.Unmarshal(raw, &l); err != nil {
		return fmt.Errorf("reading the link: %w", err)
	}
	fs := []field{
		{"id", l.ID}, {"shortLink", l.ShortLink}, {"url", l.URL}, {"domain", l.Domain}, {"key", l.Key},
		{"title", optStr(l.Title)}, {"description", optStr(l.Description)}, {"tags", strings.Join(l.Tags, ", ")},
		{"externalId", optStr(l.ExternalID)}, {"comments", optStr(l.Comments)},
		{"expiresAt", optTime(l.ExpiresAt)}, {"expiredUrl", optStr(l.ExpiredURL)}, {"validSince", optTime(l.ValidSince)},
		{"password", yes(l.HasPassword)}, {"ios", optStr(l.IOS)}, {"android", optStr(l.Android)},
		{"redirectStatus", strconv.Itoa(l.RedirectStatus)},
	}
	if l.MaxClicks != nil {
		fs = append(fs, field{"maxClicks", strconv.FormatInt(*l.MaxClicks, 10)})
	}
	fs = append(fs, field{"archived", yes(l.Archived)}, field{"disabled", yes(l.Disabled)},
		field{"clicks", strconv.FormatInt(l.Clicks, 10)}, field{"lastClickedAt", optTime(l.LastClickedAt)},
		field{"createdAt", l.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")},
		field{"updatedAt", l.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")}, field{"qrCode", l.QRCode})
	return c.fields(fs)
}
