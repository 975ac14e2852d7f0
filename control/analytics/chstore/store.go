package chstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/control/analytics"
)

var _ analytics.Store = (*Store)(nil)

// Store is the ClickHouse click store; its methods are safe for
// concurrent use.
type Store struct {
	base   *url.URL // the server and its settings (database, user, …)
	client *http.Client

	mu    sync.Mutex
	edges map[string]*sync.Mutex // one ingest per edge at a time in this process
	lease time.Duration          // after which an edge's lock is taken over
	node  string                 // Options.Node
	owner string                 // lockOwner(node, a random instance)
}

// Options are a Store's settings beyond its server.
type Options struct {
	// Node is the control node the store runs in (its --node-id), which
	// must run in one process at a time. An edge's lock left by a process
	// of the same node that stopped is taken over at once rather than
	// after the lease. Empty: every lock left waits for the lease.
	Node string
}

// schema creates the tables (see the package doc); each statement is
// idempotent, so Stores opening together create them once.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS analytics_clicks (
		org String,
		link String,
		day Date,
		at Int64,
		id FixedString(16),
		bot UInt8,
		qr UInt8,
		domain String,
		country String,
		device String,
		browser String,
		os String,
		referer String,
		ip FixedString(16),
		edge String,
		seq UInt64
	) ENGINE = MergeTree PARTITION BY toYYYYMM(day) ORDER BY (org, day, link, at)`,
	`CREATE TABLE IF NOT EXISTS analytics_edges (
		edge String,
		seq UInt64
	) ENGINE = ReplacingMergeTree(seq) ORDER BY edge`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS analytics_edges_of_clicks TO analytics_edges
		AS SELECT edge, max(seq) AS seq FROM analytics_clicks GROUP BY edge`,
}

// Open connects to the ClickHouse server at rawURL, its HTTP interface
// (http://host:8123/?database=h0p; user and password as the URL's user
// info or as its user and password parameters; other parameters are
// settings sent with every query), and creates the tables it lacks.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("open click store: want an http:// URL of ClickHouse's HTTP interface")
	}
	s := &Store{base: u, client: &http.Client{}, edges: map[string]*sync.Mutex{}, lease: lockLease,
		node: opts.Node, owner: lockOwner(opts.Node, rand.Text()[:8])}
	for _, stmt := range schema {
		if err := s.exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("open click store: %w", err)
		}
	}
	return s, nil
}

// Close releases idle connections.
func (s *Store) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// do sends one statement: sql as the query parameter with body as the
// data (an INSERT's rows), or, with a nil body, sql as the body. It
// returns the answer, RowBinary for a SELECT.
func (s *Store) do(ctx context.Context, sql string, body []byte) ([]byte, error) {
	u := *s.base
	params := u.Query()
	if u.User != nil {
		// Credentials go as basic auth, which ClickHouse reads, rather
		// than in a URL that error messages would print.
		u.User = nil
	}
	if body == nil {
		body = []byte(sql)
	} else {
		params.Set("query", sql)
	}
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if s.base.User != nil {
		p, _ := s.base.User.Password()
		req.SetBasicAuth(s.base.User.Username(), p)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", redact(err))
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		return nil, &answerError{fmt.Sprintf("clickhouse: %s: %s", resp.Status, msg)}
	}
	return out, nil
}

// answerError is the server's answer that a statement failed: unlike a
// transport error or a cancelled context, it tells that an INSERT stored
// nothing.
type answerError struct{ msg string }

func (e *answerError) Error() string { return e.msg }

// redact drops the URL (with its settings) from a transport error.
func redact(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func (s *Store) exec(ctx context.Context, sql string) error {
	_, err := s.do(ctx, sql, nil)
	return err
}

// query runs a SELECT and returns a decoder of its RowBinary rows.
func (s *Store) query(ctx context.Context, sql string) (*decoder, error) {
	out, err := s.do(ctx, sql+" FORMAT RowBinary", nil)
	if err != nil {
		return nil, err
	}
	return &decoder{b: out}, nil
}

// edgeLock is the lock that keeps one edge's batches one after the other
// in this process.
func (s *Store) edgeLock(edge string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.edges[edge]
	if l == nil {
		l = &sync.Mutex{}
		s.edges[edge] = l
	}
	return l
}

// Orgs lists the orgs with clicks.
func (s *Store) Orgs(ctx context.Context) ([]string, error) {
	d, err := s.query(ctx, `SELECT DISTINCT org FROM analytics_clicks`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	var orgs []string
	for d.more() {
		orgs = append(orgs, d.string())
	}
	if d.err != nil {
		return nil, fmt.Errorf("list orgs: %w", d.err)
	}
	slices.Sort(orgs)
	return orgs, nil
}

// How often DeleteBefore asks whether its deletion is done, and for how
// long: a mutation that keeps failing stays undone in 18.16 (it retries),
// and the retention job must not wait for it forever.
const (
	mutationPoll = 20 * time.Millisecond
	mutationWait = 10 * time.Minute
)

// DeleteBefore deletes org's clicks of the UTC days that end at or before
// t: an ALTER TABLE … DELETE, which ClickHouse runs in the background by
// rewriting parts; DeleteBefore waits until no deletion of the table is
// left running. It first writes to analytics_edges each edge's last
// sequence among the clicks it deletes (the view did, unless the server
// stopped between a batch's parts and the view), so a deleted batch
// shipped again is still a duplicate. Nothing to delete costs one count
// over the primary key and writes nothing.
func (s *Store) DeleteBefore(ctx context.Context, org string, t time.Time) error {
	day := min(t.Unix()/86400, maxDay)
	if day <= 0 {
		return ctx.Err()
	}
	where := fmt.Sprintf(`org = %s AND day < %s`, lit(org), dayLit(day))
	d, err := s.query(ctx, `SELECT count() FROM analytics_clicks WHERE `+where)
	if err != nil {
		return fmt.Errorf("delete clicks of %s: %w", org, err)
	}
	if n := d.uint64(); d.err != nil || n == 0 {
		if d.err != nil {
			return fmt.Errorf("delete clicks of %s: %w", org, d.err)
		}
		return nil
	}
	for _, stmt := range []string{
		`INSERT INTO analytics_edges SELECT edge, max(seq) FROM analytics_clicks WHERE ` + where + ` GROUP BY edge`,
		`ALTER TABLE analytics_clicks DELETE WHERE ` + where,
	} {
		if err := s.exec(ctx, stmt); err != nil {
			return fmt.Errorf("delete clicks of %s: %w", org, err)
		}
	}
	tick := time.NewTicker(mutationPoll)
	defer tick.Stop()
	deadline := time.NewTimer(mutationWait)
	defer deadline.Stop()
	for {
		d, err := s.query(ctx, `SELECT count() FROM system.mutations
			WHERE database = currentDatabase() AND table = 'analytics_clicks' AND is_done = 0`)
		if err != nil {
			return fmt.Errorf("delete clicks of %s: wait: %w", org, err)
		}
		if n := d.uint64(); d.err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete clicks of %s: wait: %w", org, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("delete clicks of %s: mutations of analytics_clicks still running after %v (see system.mutations)", org, mutationWait)
		case <-tick.C:
		}
	}
}

// lit is s as a ClickHouse string literal: any bytes, quotes and
// backslashes escaped.
func lit(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// dayLit is a UTC day number as a Date literal.
func dayLit(day int64) string {
	return "toDate('" + time.Unix(day*86400, 0).UTC().Format(time.DateOnly) + "')"
}
