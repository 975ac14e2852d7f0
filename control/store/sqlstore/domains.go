package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/h0p/h0p/control/store"
)

// CreateDomain inserts d; a name taken in any org is store.ErrConflict.
func (q queries) CreateDomain(ctx context.Context, d store.Domain) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO domains (id, org_id, name, token, status, is_primary, version,
		attrs, records, verified_at, last_ok_at, checked_at, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING`,
		d.ID, d.OrgID, d.Name, d.Token, d.Status, d.Primary, int64(d.Version), nullJSON(d.Attrs), nullJSON(d.Records),
		nullMs(d.VerifiedAt), nullMs(d.LastOKAt), zeroMs(d.CheckedAt), d.CreatedBy, ms(d.CreatedAt), ms(d.UpdatedAt))
	return inserted("insert domain", 1, res, err)
}

const domainSelect = `SELECT id, org_id, name, token, status, is_primary, version, attrs, records,
	verified_at, last_ok_at, checked_at, created_by, created_at, updated_at FROM domains `

func scanDomain(r rowScanner) (store.Domain, error) {
	var (
		d                   store.Domain
		version             int64
		attrs, records      sql.NullString
		verified, lastOK    sql.NullInt64
		checked, at, update int64
	)
	if err := r.Scan(&d.ID, &d.OrgID, &d.Name, &d.Token, &d.Status, &d.Primary, &version, &attrs, &records,
		&verified, &lastOK, &checked, &d.CreatedBy, &at, &update); err != nil {
		return store.Domain{}, scanErr("domain", err)
	}
	d.Version = uint64(version)
	d.Attrs, d.Records = fromNullJSON(attrs), fromNullJSON(records)
	d.VerifiedAt, d.LastOKAt, d.CheckedAt = fromNullMs(verified), fromNullMs(lastOK), fromZeroMs(checked)
	d.CreatedAt, d.UpdatedAt = fromMs(at), fromMs(update)
	return d, nil
}

func (q queries) Domain(ctx context.Context, orgID, id string) (store.Domain, error) {
	return scanDomain(q.db.QueryRowContext(ctx, domainSelect+`WHERE org_id = $1 AND id = $2`, orgID, id))
}

func (q queries) DomainByID(ctx context.Context, id string) (store.Domain, error) {
	return scanDomain(q.db.QueryRowContext(ctx, domainSelect+`WHERE id = $1`, id))
}

func (q queries) PrimaryDomain(ctx context.Context, orgID string) (store.Domain, error) {
	return scanDomain(q.db.QueryRowContext(ctx, domainSelect+`WHERE org_id = $1 AND is_primary = $2`, orgID, true))
}

func (q queries) DomainByName(ctx context.Context, name string) (store.Domain, error) {
	return scanDomain(q.db.QueryRowContext(ctx, domainSelect+`WHERE name = $1`, name))
}

func (q queries) Domains(ctx context.Context, f store.DomainFilter) ([]store.Domain, error) {
	rows, err := q.db.QueryContext(ctx, domainSelect+`WHERE org_id = $1 AND id{C} > $2 ORDER BY id{C} LIMIT $3`,
		f.OrgID, f.AfterID, limit(f.Limit))
	return collect("domains", rows, err, scanDomain)
}

func (q queries) CountDomains(ctx context.Context, orgID string) (int, error) {
	var n int
	if err := q.db.QueryRowContext(ctx, `SELECT count(*) FROM domains WHERE org_id = $1`, orgID).Scan(&n); err != nil {
		return 0, wrap("count domains", err)
	}
	return n, nil
}

func (q queries) DomainsCheckedBefore(ctx context.Context, before time.Time, n int) ([]store.Domain, error) {
	rows, err := q.db.QueryContext(ctx, domainSelect+`WHERE checked_at < $1 ORDER BY checked_at, id{C} LIMIT $2`,
		ms(before), limit(n))
	return collect("domains to check", rows, err, scanDomain)
}

func (q queries) UpdateDomain(ctx context.Context, d store.Domain) error {
	res, err := q.db.ExecContext(ctx, `UPDATE domains SET status = $1, is_primary = $2, version = $3, attrs = $4,
		records = $5, verified_at = $6, last_ok_at = $7, checked_at = $8, updated_at = $9 WHERE org_id = $10 AND id = $11`,
		d.Status, d.Primary, int64(d.Version), nullJSON(d.Attrs), nullJSON(d.Records), nullMs(d.VerifiedAt),
		nullMs(d.LastOKAt), zeroMs(d.CheckedAt), ms(d.UpdatedAt), d.OrgID, d.ID)
	return oneRow("update domain", res, err)
}

func (q queries) DeleteDomain(ctx context.Context, orgID, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM domains WHERE org_id = $1 AND id = $2`, orgID, id)
	return oneRow("delete domain", res, err)
}
