package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations run in order, each once, recorded by number in
// analytics_migrations; append only, never edit one that has shipped.
//
// The schema:
//
//   - analytics_edges: each edge's last stored sequence.
//   - analytics_clicks: a row per click, at in Unix nanoseconds; indexes
//     for an org's range and a link's.
//   - analytics_counts: the org's rollups, its clicks per hour (gran 1)
//     or UTC day (gran 2), dimension (analytics.Dimension, 0 the total),
//     bot flag and value as stats show it (analytics.Value).
//   - analytics_link_counts: a link's rollups per hour or UTC day: its
//     clicks and bot clicks, and for a day its profile, the counts of
//     every dimension's values in three arrays (keys[i] is dimension*2 +
//     bot, of value vals[i], counts[i] clicks); an hour's arrays are NULL.
//     analytics_profile_add adds two profiles up, for ON CONFLICT.
//
// Ids and values are COLLATE "C": byte order for the indexes, and lower()
// folds ASCII only, as filters match. Rollups leave room on their pages
// (fillfactor) for the updates ingest makes to them in place.
var migrations = []string{
	`CREATE TABLE analytics_edges (
		edge text COLLATE "C" PRIMARY KEY,
		seq bigint NOT NULL
	);
	CREATE TABLE analytics_clicks (
		at bigint NOT NULL,
		bot boolean NOT NULL,
		qr boolean NOT NULL,
		org text COLLATE "C" NOT NULL,
		link text COLLATE "C" NOT NULL,
		id bytea NOT NULL,
		domain text COLLATE "C" NOT NULL,
		country text COLLATE "C" NOT NULL,
		device text COLLATE "C" NOT NULL,
		browser text COLLATE "C" NOT NULL,
		os text COLLATE "C" NOT NULL,
		referer text COLLATE "C" NOT NULL,
		ip bytea NOT NULL
	);
	CREATE INDEX analytics_clicks_org_at ON analytics_clicks (org, at);
	CREATE INDEX analytics_clicks_link_at ON analytics_clicks (link, at);
	CREATE TABLE analytics_counts (
		org text COLLATE "C" NOT NULL,
		gran smallint NOT NULL,
		dim smallint NOT NULL,
		unit integer NOT NULL,
		bot boolean NOT NULL,
		value text COLLATE "C" NOT NULL,
		clicks bigint NOT NULL,
		PRIMARY KEY (org, gran, dim, unit, bot, value)
	) WITH (fillfactor = 80);
	CREATE TABLE analytics_link_counts (
		org text COLLATE "C" NOT NULL,
		gran smallint NOT NULL,
		link text COLLATE "C" NOT NULL,
		unit integer NOT NULL,
		clicks bigint NOT NULL,
		bots bigint NOT NULL,
		keys smallint[],
		vals text[] COLLATE "C",
		counts bigint[],
		PRIMARY KEY (org, gran, link, unit)
	) WITH (fillfactor = 80);
	CREATE INDEX analytics_link_counts_unit ON analytics_link_counts (org, gran, unit);
	CREATE FUNCTION analytics_profile_add(ak smallint[], av text[], an bigint[], bk smallint[], bv text[], bn bigint[],
		OUT keys smallint[], OUT vals text[], OUT counts bigint[])
	LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
		SELECT array_agg(k), array_agg(v), array_agg(n) FROM (
			SELECT k, v, sum(n)::bigint AS n
			FROM (SELECT * FROM unnest(ak, av, an) UNION ALL SELECT * FROM unnest(bk, bv, bn)) e(k, v, n)
			GROUP BY k, v) s
	$$;`,
}

// migrationLock is the pg_advisory_xact_lock key that serialises the
// click store's migrations of control nodes starting together (the
// control store has a key of its own).
const migrationLock int64 = 0x68307063_6c69636b // "h0pclick"

// migrate applies the missing migrations in one transaction, which first
// takes the migration lock: nodes starting at once queue on it, the first
// migrates, the others find the versions recorded. DDL is transactional,
// so a crash mid-way leaves nothing half-applied.
func (s *Store) migrate(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS analytics_migrations (version bigint PRIMARY KEY)`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM analytics_migrations`)
		if err != nil {
			return err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		done := map[int64]bool{}
		for _, v := range versions {
			done[v] = true
		}
		for i, m := range migrations {
			version := int64(i + 1)
			if done[version] {
				continue
			}
			// Without arguments, pgx sends the text with the simple
			// protocol: several statements run as one.
			if _, err := tx.Exec(ctx, m); err != nil {
				return fmt.Errorf("migration %d: %w", version, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO analytics_migrations (version) VALUES ($1)`, version); err != nil {
				return fmt.Errorf("migration %d: record: %w", version, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
