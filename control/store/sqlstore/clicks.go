package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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

func (q queries) LinksByID(ctx context.Context, ids []string) ([]store.Link, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := q.db.QueryContext(ctx, linksByID, jsonList(ids))
	return collect("links by id", rows, err, scanLink)
}

// AddLinkClicks counts in one statement, so concurrent calls all count.
func (q queries) AddLinkClicks(ctx context.Context, id string, n int64, last time.Time) (int64, uint64, error) {
	var total, version int64
	err := q.db.QueryRowContext(ctx, `UPDATE links SET clicks = clicks + $1,
		last_clicked_at = CASE WHEN last_clicked_at > $2 THEN last_clicked_at ELSE $2 END
		WHERE id = $3 RETURNING clicks, version`, n, ms(last), id).Scan(&total, &version)
	if err != nil {
		return 0, 0, scanErr("add link clicks", err)
	}
	return total, uint64(version), nil
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
