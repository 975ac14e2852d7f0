package sqlstore

import (
	"context"
	"fmt"

	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

func (q queries) AddMember(ctx context.Context, m store.Member) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		m.OrgID, m.UserID, string(m.Role), ms(m.CreatedAt))
	return inserted("insert membership", 1, res, err)
}

const memberSelect = `SELECT m.org_id, m.user_id, m.role, m.created_at, u.email, u.name
	FROM memberships m JOIN users u ON u.id = m.user_id `

// memberOrder lists by join time, ties by ids in byte order.
const memberOrder = ` ORDER BY m.created_at, m.user_id{C}, m.org_id{C}`

func scanMember(r rowScanner) (store.Member, error) {
	var (
		m    store.Member
		role string
		at   int64
	)
	if err := r.Scan(&m.OrgID, &m.UserID, &role, &at, &m.Email, &m.Name); err != nil {
		return store.Member{}, scanErr("member", err)
	}
	m.Role, m.CreatedAt = identity.Role(role), fromMs(at)
	return m, nil
}

func (q queries) Member(ctx context.Context, orgID, userID string) (store.Member, error) {
	return scanMember(q.db.QueryRowContext(ctx, memberSelect+`WHERE m.org_id = $1 AND m.user_id = $2`, orgID, userID))
}

func (q queries) Members(ctx context.Context, orgID string) ([]store.Member, error) {
	rows, err := q.db.QueryContext(ctx, memberSelect+`WHERE m.org_id = $1`+memberOrder, orgID)
	return collect("members", rows, err, scanMember)
}

func (q queries) Memberships(ctx context.Context, userID string) ([]store.Member, error) {
	rows, err := q.db.QueryContext(ctx, memberSelect+`WHERE m.user_id = $1`+memberOrder, userID)
	return collect("memberships", rows, err, scanMember)
}

func (q queries) SetRole(ctx context.Context, orgID, userID string, role identity.Role) error {
	res, err := q.db.ExecContext(ctx, `UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3`,
		string(role), orgID, userID)
	return oneRow("set role", res, err)
}

func (q queries) RemoveMember(ctx context.Context, orgID, userID string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	return oneRow("remove member", res, err)
}

func (q queries) CountOwners(ctx context.Context, orgID string) (int, error) {
	var n int
	if err := q.db.QueryRowContext(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = $2`,
		orgID, string(identity.RoleOwner)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}
