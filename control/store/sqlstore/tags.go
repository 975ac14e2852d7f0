package sqlstore

import (
	"context"
	"strings"

	"github.com/h0p/h0p/control/store"
)

// CreateTag stores the name and its lower case (strings.ToLower, so both
// engines fold case alike whatever the database's locale), on which names
// are unique per org.
func (q queries) CreateTag(ctx context.Context, t store.Tag) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO tags (id, org_id, name, name_lower, color, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		t.ID, t.OrgID, t.Name, strings.ToLower(t.Name), t.Color, ms(t.CreatedAt))
	return inserted("insert tag", 1, res, err)
}

const tagSelect = `SELECT id, org_id, name, color, created_at FROM tags `

func scanTag(r rowScanner) (store.Tag, error) {
	var (
		t  store.Tag
		at int64
	)
	if err := r.Scan(&t.ID, &t.OrgID, &t.Name, &t.Color, &at); err != nil {
		return store.Tag{}, scanErr("tag", err)
	}
	t.CreatedAt = fromMs(at)
	return t, nil
}

func (q queries) Tag(ctx context.Context, orgID, id string) (store.Tag, error) {
	return scanTag(q.db.QueryRowContext(ctx, tagSelect+`WHERE org_id = $1 AND id = $2`, orgID, id))
}

func (q queries) TagByName(ctx context.Context, orgID, name string) (store.Tag, error) {
	return scanTag(q.db.QueryRowContext(ctx, tagSelect+`WHERE org_id = $1 AND name_lower = $2`, orgID, strings.ToLower(name)))
}

// Tags sorts by name_lower byte-wise ("alpha" before "Beta", "zebra" before
// "äb"), then by id; name_lower is unique per org, so the name's case
// never breaks a tie.
func (q queries) Tags(ctx context.Context, orgID string) ([]store.Tag, error) {
	rows, err := q.db.QueryContext(ctx, tagSelect+`WHERE org_id = $1 ORDER BY name_lower{C}, id{C}`, orgID)
	return collect("tags", rows, err, scanTag)
}

// TagPage is Tags a page at a time, past the cursor's (name_lower, id).
func (q queries) TagPage(ctx context.Context, f store.TagFilter) ([]store.Tag, error) {
	if f.After == nil {
		rows, err := q.db.QueryContext(ctx, tagSelect+`WHERE org_id = $1 ORDER BY name_lower{C}, id{C} LIMIT $2`,
			f.OrgID, limit(f.Limit))
		return collect("tags", rows, err, scanTag)
	}
	rows, err := q.db.QueryContext(ctx, tagSelect+`WHERE org_id = $1 AND (name_lower{C}, id{C}) > ($2, $3)
		ORDER BY name_lower{C}, id{C} LIMIT $4`,
		f.OrgID, strings.ToLower(f.After.Name), f.After.ID, limit(f.Limit))
	return collect("tags", rows, err, scanTag)
}

// UpdateTag stores the name and colour; a name the org has in any case is
// store.ErrConflict without spoiling a Write (queries.guarded).
func (q queries) UpdateTag(ctx context.Context, t store.Tag) error {
	res, err := q.guarded(ctx, `UPDATE tags SET name = $1, name_lower = $2, color = $3 WHERE org_id = $4 AND id = $5`,
		t.Name, strings.ToLower(t.Name), t.Color, t.OrgID, t.ID)
	return oneRow("update tag", res, err)
}

// DeleteTag deletes the tag; link_tags cascades, so the tag leaves every
// link.
func (q queries) DeleteTag(ctx context.Context, orgID, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM tags WHERE org_id = $1 AND id = $2`, orgID, id)
	return oneRow("delete tag", res, err)
}
