package main

// What the API commands (h0p links, stats, domains) share: the client from
// the environment, flags with positional arguments among them, JSON and
// table output, and errors as one line.
//
// Output: tables and key: value lines for people on stdout; with --json,
// the API's answer as it came, indented (lists: the page object, data and
// nextCursor). Errors: one line on stderr, exit 1 for what the API or the
// network refused, 2 for a command the CLI could not read (unknown
// command or flag, a missing required flag or argument, no H0P_API_KEY).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/h0p/h0p/control/apiclient"
)

// usageError is a command line the CLI cannot run: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errorLine is err as the one line h0p prints: an API error as its code,
// its message and the details the message does not say, and its request
// ID, which the API's logs know.
func errorLine(err error) string {
	e, ok := errors.AsType[*apiclient.Error](err)
	if !ok {
		return err.Error()
	}
	s := string(e.Code) + ": " + e.Message
	var extra []string
	for _, d := range e.Details {
		if fr := d.Field + ": " + d.Reason; !strings.Contains(e.Message, fr) {
			extra = append(extra, fr)
		}
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	if secs := strconv.Itoa(int(e.RetryAfter.Seconds())); e.RetryAfter > 0 && !strings.Contains(e.Message, secs) {
		s += " (retry in " + secs + " s)"
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// apiCommand is one run of an API command.
type apiCommand struct {
	name   string // "links create"
	fs     *flag.FlagSet
	json   bool
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	client *apiclient.Client
}

// newAPICommand makes the flag set of `h0p <name>`; synopsis is its usage
// line after "h0p ", summary what it does.
func newAPICommand(name, synopsis, summary string, stdout, stderr io.Writer, getenv func(string) string) *apiCommand {
	c := &apiCommand{name: name, stdout: stdout, stderr: stderr, getenv: getenv}
	c.fs = flag.NewFlagSet(name, flag.ContinueOnError)
	c.fs.SetOutput(stderr)
	c.fs.BoolVar(&c.json, "json", false, "print the API's JSON answer instead of a table")
	c.fs.Usage = func() {
		out := c.fs.Output()
		fmt.Fprintf(out, "Usage: h0p %s\n\n%s\n\nFlags:\n", synopsis, summary)
		c.fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s\n    \t%s", f.Name, f.Usage)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
				fmt.Fprintf(out, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
		fmt.Fprint(out, "\nThe API is H0P_API_URL (default "+apiclient.DefaultURL+"), called with the key H0P_API_KEY\n"+
			"(or the contents of the file H0P_API_KEY_FILE).\n")
	}
	return c
}

// parse reads args, flags and positional arguments in any order (a lone
// "--" ends the flags), and makes the client. --help prints the usage on
// stdout and returns flag.ErrHelp.
func (c *apiCommand) parse(args []string) ([]string, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			c.fs.SetOutput(c.stdout)
			c.fs.Usage()
			return nil, flag.ErrHelp
		}
	}
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			return nil, &usageError{err.Error()}
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	var err error
	c.client, err = apiClient(c.getenv)
	return pos, err
}

// apiClient is the client of H0P_API_URL with H0P_API_KEY.
func apiClient(getenv func(string) string) (*apiclient.Client, error) {
	key := getenv("H0P_API_KEY")
	if file := getenv("H0P_API_KEY_FILE"); key == "" && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("H0P_API_KEY_FILE: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if key == "" {
		return nil, usagef("H0P_API_KEY is not set: export your API key (h0p dev prints one as H0P_API_KEY=… on its first start)")
	}
	c, err := apiclient.New(getenv("H0P_API_URL"), key)
	if err != nil {
		return nil, &usageError{"H0P_API_URL: " + err.Error()}
	}
	c.UserAgent = "h0p-cli/" + version
	c.HTTPClient = &http.Client{Transport: patientTransport{next: http.DefaultTransport}, CheckRedirect: apiclient.RefuseRedirect}
	return c, nil
}

// set reports whether flag name was given.
func (c *apiCommand) set(name string) bool {
	found := false
	c.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// call sends the request and answers the API's JSON as it came.
func (c *apiCommand) call(ctx context.Context, method, path string, q url.Values, in any) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.client.Do(ctx, method, path, q, in, &raw)
	return raw, err
}

// maxRetries bounds how often one request waits out a 429 (a long --all
// listing, or a few commands in a row, meet the per-second limit), and
// maxWait the wait a command sits through: a longer Retry-After (the
// per-minute limit spent) fails the command at once, saying how long.
const (
	maxRetries = 5
	maxWait    = 60 * time.Second
)

// patientTransport sends a request again when it is answered 429, after
// the Retry-After the answer asks for (1 s when it does not say). Writes
// are sent again too: the API refuses a request over the limit before
// doing anything.
type patientTransport struct {
	next http.RoundTripper
	// sleep waits d or until ctx ends (nil: a timer).
	sleep func(ctx context.Context, d time.Duration) error
}

func (t patientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sleep := t.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for try := 0; ; try++ {
		resp, err := t.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || try == maxRetries ||
			(req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return resp, err
		}
		wait := time.Second
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			wait = time.Duration(secs) * time.Second
		}
		if wait > maxWait {
			return resp, nil
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		again := req.Clone(req.Context())
		if req.GetBody != nil {
			if again.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		req = again
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// printJSON writes raw indented.
func (c *apiCommand) printJSON(raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := c.stdout.Write(b.Bytes())
	return err
}

// listPages reads every page of a list from q's cursor on and answers them
// as one page object (nextCursor null), or, without all, the first page.
func (c *apiCommand) listPages(ctx context.Context, path string, q url.Values, all bool) (json.RawMessage, error) {
	raw, err := c.call(ctx, "GET", path, q, nil)
	if err != nil || !all {
		return raw, err
	}
	var items []json.RawMessage
	for {
		var p struct {
			Data       []json.RawMessage `json:"data"`
			NextCursor *string           `json:"nextCursor"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("reading a page of %s: %w", path, err)
		}
		items = append(items, p.Data...)
		if p.NextCursor == nil || *p.NextCursor == "" || *p.NextCursor == q.Get("cursor") {
			break
		}
		q.Set("cursor", *p.NextCursor)
		if raw, err = c.call(ctx, "GET", path, q, nil); err != nil {
			return nil, err
		}
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return json.Marshal(struct {
		Data       []json.RawMessage `json:"data"`
		NextCursor *string           `json:"nextCursor"`
	}{Data: items})
}

// table writes rows under header, columns aligned.
func (c *apiCommand) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// field is one key: value line of an object; empty values are left out.
type field struct{ key, value string }

func (c *apiCommand) fields(fs []field) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 1, ' ', 0)
	for _, f := range fs {
		if f.value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", f.key, f.value)
		}
	}
	return tw.Flush()
}

// printList prints the list at path?q (every page with all, at 100 a
// page unless q sets a limit): the API's page object with --json, else a
// table of head with a row of each item, and how to read the next page.
// what names the items in an error.
func printList[T any](ctx context.Context, c *apiCommand, path string, q url.Values, all bool, what string,
	head []string, row func(T) []string) error {
	if all && q.Get("limit") == "" {
		q.Set("limit", "100")
	}
	raw, err := c.listPages(ctx, path, q, all)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	var p apiclient.Page[T]
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("reading the %s: %w", what, err)
	}
	rows := make([][]string, len(p.Data))
	for i, item := range p.Data {
		rows[i] = row(item)
	}
	if err := c.table(head, rows); err != nil {
		return err
	}
	moreHint(c.stdout, p.NextCursor)
	return nil
}

// moreHint tells people how to read the next page of a list.
func moreHint(w io.Writer, next string) {
	if next != "" {
		fmt.Fprintf(w, "(more: --cursor %s, or --all)\n", next)
	}
}

// listFlag is a flag given several times, or once with comma-separated
// values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, splitList(v)...)
	return nil
}

// clip shortens s to n characters for a table cell.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func optStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// when is a time for a table: minutes, UTC.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

// parseTime reads a time flag: RFC 3339, or a date (midnight UTC).
func parseTime(flagName, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--%s %q: want an RFC 3339 time (2027-01-31T18:00:00Z) or a date (2027-01-31)", flagName, s)
}

// subcommand runs the command of group named by args[0], or prints the
// group's usage: on stdout for help, else on stderr as a usage error.
func subcommand(group, usage string, args []string, stdout, stderr io.Writer, cmds map[string]func([]string) error) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("%s: name a command", group)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return flag.ErrHelp
	}
	run, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return usagef("unknown %s command %q", group, args[0])
	}
	return run(args[1:])
}
