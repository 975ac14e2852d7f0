package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

func (q queries) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO invitations
		(id, org_id, email, role, digest, invited_by, created_at, expires_at, accepted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		inv.ID, inv.OrgID, inv.Email, string(inv.Role), inv.Digest, inv.InvitedBy,
		ms(inv.CreatedAt), ms(inv.ExpiresAt), nullMs(inv.AcceptedAt))
	return inserted("insert invitation", 1, res, err)
}

func (q queries) InvitationByDigest(ctx context.Context, digest []byte) (store.Invitation, error) {
	var (
		inv              store.Invitation
		role             string
		created, expires int64
		accepted         sql.NullInt64
	)
	err := q.db.QueryRowContext(ctx, `SELECT id, org_id, email, role, digest, invited_by, created_at, expires_at, accepted_at
		FROM invitations WHERE digest = $1`, digest).Scan(
		&inv.ID, &inv.OrgID, &inv.Email, &role, &inv.Digest, &inv.InvitedBy, &created, &expires, &accepted)
	if err != nil {
		return store.Invitation{}, scanErr("invitation", err)
	}
	inv.Role = identity.Role(role)
	inv.CreatedAt, inv.ExpiresAt, inv.AcceptedAt = fromMs(created), fromMs(expires), fromNullMs(accepted)
	return inv, nil
}

func (q queries) MarkInvitationAccepted(ctx context.Context, id string, at time.Time) error {
	res, err := q.db.ExecContext(ctx, `UPDATE invitations SET accepted_at = $1 WHERE id = $2`, ms(at), id)
	return oneRow("accept invitation", res, err)
}
