package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/store"
)

func (q queries) CreateFile(ctx context.Context, f store.File) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO files (id, org_id, name, media_type, size, sha256, width, height,
		created_by, created_at, updated_at, version, logo_file_id, link_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT DO NOTHING`,
		f.ID, f.OrgID, f.Name, f.MediaType, f.Size, f.SHA256, int64(f.Width), int64(f.Height), f.CreatedBy,
		ms(f.CreatedAt), ms(f.UpdatedAt), int64(f.Version), nullString(f.LogoFileID), nullString(f.LinkID))
	if err := inserted("insert file", 1, res, err); err != nil {
		return err
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO blobs (sha256, size, refs, zero_since) VALUES ($1, $2, 1, NULL)
		ON CONFLICT (sha256) DO UPDATE SET refs = blobs.refs + 1, zero_since = NULL`, f.SHA256, f.Size)
	if err != nil {
		return wrap("reference blob", err)
	}
	return nil
}

const fileSelect = `SELECT id, org_id, name, media_type, size, sha256, width, height, created_by, created_at,
	updated_at, version, logo_file_id, link_id FROM files `

func scanFile(r rowScanner) (store.File, error) {
	var (
		f                           store.File
		w, h, version, at, updateAt int64
		logo, link                  sql.NullString
	)
	if err := r.Scan(&f.ID, &f.OrgID, &f.Name, &f.MediaType, &f.Size, &f.SHA256, &w, &h, &f.CreatedBy, &at,
		&updateAt, &version, &logo, &link); err != nil {
		return store.File{}, scanErr("file", err)
	}
	f.Width, f.Height, f.Version = int(w), int(h), uint64(version)
	f.LogoFileID, f.LinkID = logo.String, link.String
	f.CreatedAt, f.UpdatedAt = fromMs(at), fromMs(updateAt)
	return f, nil
}

func (q queries) File(ctx context.Context, orgID, id string) (store.File, error) {
	return scanFile(q.db.QueryRowContext(ctx, fileSelect+`WHERE org_id = $1 AND id = $2`, orgID, id))
}

func (q queries) FileByID(ctx context.Context, id string) (store.File, error) {
	return scanFile(q.db.QueryRowContext(ctx, fileSelect+`WHERE id = $1`, id))
}

func (q queries) LockFile(ctx context.Context, orgID, id string) (store.File, error) {
	return scanFile(q.db.QueryRowContext(ctx, fileSelect+`WHERE org_id = $1 AND id = $2{for_update}`, orgID, id))
}

// FileReferences reads each use through its partial index; org_id is
// checked on the rows found (a file ID names one org's file, but a row of
// another org naming it is not this org's business).
func (q queries) FileReferences(ctx context.Context, orgID, id string) ([]store.FileReference, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT kind, ref, field FROM (
		SELECT 1 AS n, 'link' AS kind, id AS ref, 'image' AS field FROM links WHERE image_file = $1 AND org_id = $2
		UNION ALL
		SELECT 2, 'link', id, 'preview.image' FROM links WHERE preview_image_file = $3 AND org_id = $4
		UNION ALL
		SELECT 3, 'qr', id, 'logo' FROM files WHERE logo_file_id = $5 AND org_id = $6
	) r ORDER BY n, ref{C}`, id, orgID, id, orgID, id, orgID)
	return collect("file references", rows, err, func(r rowScanner) (store.FileReference, error) {
		var ref store.FileReference
		err := r.Scan(&ref.Type, &ref.ID, &ref.Field)
		return ref, err
	})
}

func (q queries) Files(ctx context.Context, f store.FileFilter) ([]store.File, error) {
	rows, err := q.db.QueryContext(ctx, fileSelect+`WHERE org_id = $1 AND id{C} > $2 AND ($3 = '' OR media_type = $4)
		ORDER BY id{C} LIMIT $5`, f.OrgID, f.AfterID, f.MediaType, f.MediaType, limit(f.Limit))
	return collect("files", rows, err, scanFile)
}

func (q queries) FileUsage(ctx context.Context, orgID string) (int, int64, error) {
	var (
		n     int
		bytes int64
	)
	err := q.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM files WHERE org_id = $1`,
		orgID).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("file usage: %w", err)
	}
	return n, bytes, nil
}

func (q queries) UpdateFile(ctx context.Context, f store.File) error {
	res, err := q.db.ExecContext(ctx, `UPDATE files SET name = $1, version = $2, updated_at = $3
		WHERE org_id = $4 AND id = $5`, f.Name, int64(f.Version), ms(f.UpdatedAt), f.OrgID, f.ID)
	return oneRow("update file", res, err)
}

func (q queries) DeleteFile(ctx context.Context, orgID, id string, at time.Time) error {
	var sha string
	err := q.db.QueryRowContext(ctx, `DELETE FROM files WHERE org_id = $1 AND id = $2 RETURNING sha256`,
		orgID, id).Scan(&sha)
	if err != nil {
		return scanErr("delete file", err)
	}
	// Both engines read refs on the right of SET as it was before.
	res, err := q.db.ExecContext(ctx, `UPDATE blobs SET refs = refs - 1,
		zero_since = CASE WHEN refs = 1 THEN $1 ELSE zero_since END WHERE sha256 = $2 AND refs > 0`, ms(at), sha)
	return oneRow("unreference blob", res, err)
}

const blobSelect = `SELECT sha256, size, refs, zero_since FROM blobs `

func scanBlob(r rowScanner) (store.Blob, error) {
	var (
		b    store.Blob
		zero sql.NullInt64
	)
	if err := r.Scan(&b.SHA256, &b.Size, &b.Refs, &zero); err != nil {
		return store.Blob{}, scanErr("blob", err)
	}
	b.ZeroSince = fromNullMs(zero)
	return b, nil
}

func (q queries) Blob(ctx context.Context, sha256 string) (store.Blob, error) {
	return scanBlob(q.db.QueryRowContext(ctx, blobSelect+`WHERE sha256 = $1`, sha256))
}

func (q queries) LockBlob(ctx context.Context, sha256 string) (store.Blob, error) {
	return scanBlob(q.db.QueryRowContext(ctx, blobSelect+`WHERE sha256 = $1{for_update}`, sha256))
}

func (q queries) ClaimBlob(ctx context.Context, b store.Blob) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO blobs (sha256, size, refs, zero_since) VALUES ($1, $2, 0, $3)
		ON CONFLICT DO NOTHING`, b.SHA256, b.Size, nullMs(b.ZeroSince))
	return inserted("claim blob", 1, res, err)
}

func (q queries) UnreferencedBlobs(ctx context.Context, before time.Time, n int) ([]store.Blob, error) {
	rows, err := q.db.QueryContext(ctx, blobSelect+`WHERE refs = 0 AND zero_since <= $1 ORDER BY zero_since LIMIT $2`,
		ms(before), limit(n))
	return collect("unreferenced blobs", rows, err, scanBlob)
}

func (q queries) DeleteBlob(ctx context.Context, sha256 string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM blobs WHERE sha256 = $1 AND refs = 0`, sha256)
	return oneRow("delete blob", res, err)
}
