// Package pgstore is the analytics.Store on PostgreSQL: one click store
// that every control node of a cluster shares, in the database of the
// control store. control opens it when it runs on PostgreSQL, pebblestore
// otherwise; control/analytics/DESIGN.md holds the layout, the decisions
// and the figures.
//
// Contract, beyond analytics.Store's:
//
//   - Its tables are its own (analytics_*), in the first schema of the
//     connection's search_path, beside the control store's. Open
//     migrates them: an ordered, append-only list recorded in
//     analytics_migrations, applied in one transaction under an advisory
//     lock, so control nodes starting together migrate once.
//   - Any number of Stores, on any number of nodes, may ingest, query and
//     delete at once. Ingest is one transaction that first claims the
//     edge's sequence row (a conditional upsert: a batch at or below it
//     is a Duplicate, whichever node stored it) and then writes the
//     clicks and their rollups; a deadlock or serialization failure is
//     retried whole.
//   - DeleteBefore is idempotent: run on every node at once, one deletes
//     and the others find the org locked or its days gone.
//   - Strings PostgreSQL's text cannot hold are stored mended: a NUL byte
//     dropped, invalid UTF-8 replaced by U+FFFD. A click whose link or
//     org id would need mending is dropped (Dropped), as an edge id is
//     refused (clicks.ErrRejected).
//   - Filters fold ASCII case only (analytics.Match), in SQL.
//   - Export holds a page of at most 10,000 clicks in memory, each page
//     its own short query.
//   - It never reads the clock.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/h0p/h0p/control/analytics"
)

var _ analytics.Store = (*Store)(nil)

// Store is the PostgreSQL click store; its methods are safe for concurrent
// use.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the PostgreSQL database at dbURL (a postgres:// URL or
// key=value string as pgx parses it, pool_* settings included) and
// migrates it.
func Open(ctx context.Context, dbURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("open click store: parse postgres url: %w", err)
	}
	// Session settings, unless the URL gives them. A query's best plan
	// depends on its range and its lists (a link's month, or an org's
	// year): plan each execution with its values rather than let
	// PostgreSQL settle on a generic plan. JIT compiling a query costs
	// tens of milliseconds, more than most of them take. Counting a
	// week's visitors hashes a million (day, IP hash) pairs: in 4 MB
	// (the default) it spills to disk and takes twice as long. The
	// planner's costs (random_page_cost) are the server's to set.
	for k, v := range map[string]string{"plan_cache_mode": "force_custom_plan", "jit": "off", "work_mem": "64MB"} {
		if _, ok := cfg.ConnConfig.RuntimeParams[k]; !ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open click store: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open click store: %w", err)
	}
	return s, nil
}

// Close closes the connections, waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Orgs lists the orgs with clicks: the distinct orgs of the org rollups,
// skipping from one org to the next in their index.
func (s *Store) Orgs(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		WITH RECURSIVE o(org) AS (
			(SELECT org FROM analytics_counts ORDER BY org LIMIT 1)
			UNION ALL
			SELECT (SELECT c.org FROM analytics_counts c WHERE c.org > o.org ORDER BY c.org LIMIT 1)
			FROM o WHERE o.org IS NOT NULL
		)
		SELECT org FROM o WHERE org IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	orgs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	return orgs, nil
}

// retentionLock is the class of the advisory locks DeleteBefore takes, one
// per org (hashtext of its id), so that control nodes running the
// retention job at once do not delete the same rows together.
const retentionLock int32 = 0x68307072 // "h0pr"

// DeleteBefore deletes org's clicks and rollups of the UTC days that end
// at or before t, in one transaction. When another session holds the
// org's retention lock, it is deleting the same days: DeleteBefore leaves
// them to it and returns nil.
func (s *Store) DeleteBefore(ctx context.Context, org string, t time.Time) error {
	day := t.Unix() / 86400
	if day <= 0 {
		return ctx.Err()
	}
	err := s.retry(ctx, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, hashtext($2))`, retentionLock, org).Scan(&mine); err != nil || !mine {
			return err
		}
		batch := &pgx.Batch{}
		batch.Queue(`DELETE FROM analytics_clicks WHERE org = $1 AND at < $2`, org, analytics.UnixNanos(time.Unix(day*86400, 0)))
		for _, table := range []string{"analytics_counts", "analytics_link_counts"} {
			batch.Queue(`DELETE FROM `+table+` WHERE org = $1 AND gran = $2 AND unit < $3`, org, granHour, units(day*24))
			batch.Queue(`DELETE FROM `+table+` WHERE org = $1 AND gran = $2 AND unit < $3`, org, granDay, units(day))
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("delete clicks of %s: %w", org, err)
	}
	return nil
}

// retry runs fn in a transaction and commits, running it again (up to
// three times in all) when PostgreSQL aborted it for a deadlock or a
// serialization failure, which it may between writers of the same
// rollup rows; fn must not keep anything of a failed attempt.
func (s *Store) retry(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for range 3 {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "40P01" && pe.Code != "40001" {
			return err
		}
	}
	return err
}

// Rollup units: hours (gran 1) or UTC days (gran 2) since 1970, as
// analytics.Interval numbers them.
const (
	granHour = int16(analytics.Hour)
	granDay  = int16(analytics.Day)
)

// units clamps a count of hours or days to the int4 column that holds it.
func units(n int64) int32 { return int32(min(max(n, 0), 1<<31-1)) }

// unitOf is the unit of gran holding t.
func unitOf(gran int16, t time.Time) int32 {
	if gran == granDay {
		return units(t.Unix() / 86400)
	}
	return units(t.Unix() / 3600)
}
