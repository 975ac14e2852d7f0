package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/h0p/h0p/control/store"
)

var (
	linksByID   = linkSelect(`SELECT * FROM links WHERE id IN (SELECT value FROM {json_each}($1) value)`)
	linksByKeys = linkSelect(`SELECT * FROM links WHERE org_id = $1 AND key IN (SELECT value FROM {json_each}($2) value)`)
)

func (q queries) LinksByKeys(ctx context.Context, orgID string, keys []string) ([]store.Link, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := q.db.QueryContext(ctx, linksByKeys, orgID, jsonList(keys))
	return collect("links by keys", rows, err, scanLink)
}

func (q queries) LinkIDsByTags(ctx context.Context, orgID string, tagIDs []string) ([]string, error) {
	if len(tagIDs) == 0 {
		return nil, nil
	}
	rows, err := q.db.QueryContext(ctx, `SELECT DISTINCT t.link_id FROM link_tags t JOIN links l ON l.id = t.link_id
		WHERE l.org_id = $1 AND t.tag_id IN (SELECT value FROM {json_each}($2) value)`, orgID, jsonList(tagIDs))
	return collect("links by tags", rows, err, func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

// LinkUTMValues reads the links_org_utm index (migration 14), whose
// predicate the query repeats; sorted here, as an ORDER BY would have
// SQLite read the org's links in id order instead.
func (q queries) LinkUTMValues(ctx context.Context, orgID, param string) ([]store.LinkValue, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT id, attrs->'utm'->>$2 FROM links
		WHERE org_id = $1 AND (attrs -> 'utm') IS NOT NULL AND attrs->'utm'->>$2 <> ''`, orgID, param)
	vs, err := collect("link UTM values", rows, err, scanLinkValue)
	slices.SortFunc(vs, func(a, b store.LinkValue) int { return strings.Compare(a.LinkID, b.LinkID) })
	return vs, err
}

func (q queries) LinkTagNames(ctx context.Context, orgID string) ([]store.LinkValue, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT t.link_id, g.name FROM link_tags t
		JOIN links l ON l.id = t.link_id JOIN tags g ON g.id = t.tag_id
		WHERE l.org_id = $1 AND g.org_id = $1 ORDER BY t.link_id{C}, g.name{C}`, orgID)
	return collect("link tag names", rows, err, scanLinkValue)
}

func scanLinkValue(r rowScanner) (store.LinkValue, error) {
	var v store.LinkValue
	return v, r.Scan(&v.LinkID, &v.Value)
}

func (q queries) LinksByID(ctx context.Context, ids []string) ([]store.Link, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := q.db.QueryContext(ctx, linksByID, jsonList(ids))
	return collect("links by id", rows, err, scanLink)
}

func (q queries) LinkOrgs(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	for chunk := range slices.Chunk(ids, 1000) {
		rows, err := q.db.QueryContext(ctx, `SELECT id, org_id FROM links WHERE id IN (SELECT value FROM {json_each}($1) value)`,
			jsonList(chunk))
		pairs, err := collect("link orgs", rows, err, func(r rowScanner) ([2]string, error) {
			var p [2]string
			return p, r.Scan(&p[0], &p[1])
		})
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			out[p[0]] = p[1]
		}
	}
	return out, nil
}

// addClicksChunk bounds the links of one AddLinksClicks statement (three
// parameters each).
const addClicksChunk = 500

// AddLinksClicks counts in statements that add to the stored count, so
// concurrent calls all count: on PostgreSQL one UPDATE … FROM (VALUES …)
// a chunk of links, on SQLite one UPDATE a link (dialect.joinValues).
func (q queries) AddLinksClicks(ctx context.Context, counts []store.ClickCount) ([]store.LinkClicks, error) {
	var out []store.LinkClicks
	if !q.s.d.joinValues {
		for _, c := range counts {
			l, err := scanLinkClicks(q.db.QueryRowContext(ctx, `UPDATE links SET clicks = clicks + $1,
				last_clicked_at = CASE WHEN last_clicked_at > $2 THEN last_clicked_at ELSE $2 END
				WHERE id = $3 RETURNING id, org_id, clicks, version, attrs`, c.Clicks, ms(c.Last), c.LinkID))
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since
			}
			if err != nil {
				return nil, fmt.Errorf("add link clicks: %w", err)
			}
			out = append(out, l)
		}
		return out, nil
	}
	for chunk := range slices.Chunk(counts, addClicksChunk) {
		var text strings.Builder
		text.WriteString(`UPDATE links SET clicks = links.clicks + d.n,
			last_clicked_at = CASE WHEN links.last_clicked_at > d.last THEN links.last_clicked_at ELSE d.last END
			FROM (SELECT column1 AS id, column2 AS n, column3 AS last FROM (VALUES `)
		args := make([]any, 0, 3*len(chunk))
		for i, c := range chunk {
			if i > 0 {
				text.WriteString(", ")
			}
			fmt.Fprintf(&text, "(CAST($%d AS TEXT), CAST($%d AS {bigint}), CAST($%d AS {bigint}))", 3*i+1, 3*i+2, 3*i+3)
			args = append(args, c.LinkID, c.Clicks, ms(c.Last))
		}
		text.WriteString(`) v) d WHERE links.id = d.id RETURNING links.id, links.org_id, links.clicks, links.version, links.attrs`)
		rows, err := q.db.QueryContext(ctx, text.String(), args...)
		got, err := collect("add link clicks", rows, err, scanLinkClicks)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

func scanLinkClicks(r rowScanner) (store.LinkClicks, error) {
	var (
		l       store.LinkClicks
		version int64
		attrs   sql.NullString
	)
	if err := r.Scan(&l.ID, &l.OrgID, &l.Clicks, &version, &attrs); err != nil {
		return l, scanErr("link clicks", err)
	}
	l.Version, l.Attrs = uint64(version), fromNullJSON(attrs)
	return l, nil
}

func (q queries) ClickCheckpoint(ctx context.Context, edge string) (store.ClickCheckpoint, error) {
	c := store.ClickCheckpoint{Edge: edge}
	var seq, at int64
	err := q.db.QueryRowContext(ctx, `SELECT seq, admission, updated_at FROM click_checkpoints WHERE edge = $1`, edge).
		Scan(&seq, &c.Admission, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return store.ClickCheckpoint{}, fmt.Errorf("click checkpoint: %w", err)
	}
	c.Seq, c.UpdatedAt = uint64(seq), fromMs(at)
	return c, nil
}

func (q queries) SetClickCheckpoint(ctx context.Context, c store.ClickCheckpoint) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO click_checkpoints (edge, seq, admission, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (edge) DO UPDATE SET seq = excluded.seq, admission = excluded.admission, updated_at = excluded.updated_at`,
		c.Edge, int64(c.Seq), c.Admission, ms(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("set click checkpoint: %w", err)
	}
	return nil
}
