package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/h0p/h0p/control/store"
)

// A link's tags are link_tags rows. Writes set them with the link, as one
// unit (queries.atomic); tag IDs that name no tag of the link's org are
// left out: a link never carries another org's tag, and one deleted
// meanwhile is gone as if the delete had come after. Reads return them in
// the statement that reads the links (one snapshot), sorted byte-wise.

// InsertLink stores l and its tags; a taken id, domain+key or externalId
// (any unique index) is store.ErrConflict.
func (q queries) InsertLink(ctx context.Context, l store.Link) error {
	return q.atomic(ctx, func(q queries) error {
		res, err := q.db.ExecContext(ctx, `INSERT INTO links (id, org_id, domain, key, url, version, title, external_id,
			password_hash, expires_at, valid_since, archived, disabled, attrs, clicks, last_clicked_at,
			created_by, created_at, updated_at, image_file, preview_image_file)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
			ON CONFLICT DO NOTHING`,
			l.ID, l.OrgID, l.Domain, l.Key, l.URL, int64(l.Version), l.Title, nullString(l.ExternalID),
			l.PasswordHash, nullMs(l.ExpiresAt), nullMs(l.ValidSince), l.Archived, l.Disabled, nullJSON(l.Attrs),
			l.Clicks, zeroMs(l.LastClickedAt), l.CreatedBy, ms(l.CreatedAt), ms(l.UpdatedAt),
			nullString(l.ImageFile), nullString(l.PreviewImageFile))
		if err := inserted("insert link", 1, res, err); err != nil {
			return err
		}
		return q.addLinkTags(ctx, l)
	})
}

// UpdateLink replaces every column but id and org_id, and the link's tags:
// those not in the new set go, the new ones come. A taken domain+key or
// externalId is store.ErrConflict without spoiling a Write
// (queries.guarded).
func (q queries) UpdateLink(ctx context.Context, l store.Link) error {
	return q.atomic(ctx, func(q queries) error {
		res, err := q.guarded(ctx, `UPDATE links SET domain = $1, key = $2, url = $3, version = $4, title = $5,
			external_id = $6, password_hash = $7, expires_at = $8, valid_since = $9, archived = $10, disabled = $11,
			attrs = $12, clicks = $13, last_clicked_at = $14, created_by = $15, created_at = $16, updated_at = $17,
			image_file = $18, preview_image_file = $19
			WHERE org_id = $20 AND id = $21`,
			l.Domain, l.Key, l.URL, int64(l.Version), l.Title, nullString(l.ExternalID), l.PasswordHash,
			nullMs(l.ExpiresAt), nullMs(l.ValidSince), l.Archived, l.Disabled, nullJSON(l.Attrs), l.Clicks,
			zeroMs(l.LastClickedAt), l.CreatedBy, ms(l.CreatedAt), ms(l.UpdatedAt),
			nullString(l.ImageFile), nullString(l.PreviewImageFile), l.OrgID, l.ID)
		if err := oneRow("update link", res, err); err != nil {
			return err
		}
		if _, err := q.db.ExecContext(ctx, `DELETE FROM link_tags
			WHERE link_id = $1 AND tag_id NOT IN (SELECT value FROM {json_each}($2) value)`,
			l.ID, jsonList(l.TagIDs)); err != nil {
			return fmt.Errorf("update link tags: %w", err)
		}
		return q.addLinkTags(ctx, l)
	})
}

// addLinkTags tags l with those of l.TagIDs that are tags of its org.
func (q queries) addLinkTags(ctx context.Context, l store.Link) error {
	if len(l.TagIDs) == 0 {
		return nil
	}
	_, err := q.db.ExecContext(ctx, `INSERT INTO link_tags (link_id, tag_id)
		SELECT CAST($1 AS TEXT), id FROM tags WHERE org_id = $2 AND id IN (SELECT value FROM {json_each}($3) value)
		ON CONFLICT DO NOTHING`, l.ID, l.OrgID, jsonList(l.TagIDs))
	if err != nil {
		return fmt.Errorf("tag link: %w", err)
	}
	return nil
}

// linkSelect reads the links a query of them returns (SELECT * FROM links
// …), with their tags, in one statement. The tags are read around the
// query, not in it, so that a query that sorts and limits reads the tags of
// the page only: PostgreSQL would evaluate a sub-select of its own select
// list for every row it sorts. Queries that sort must sort the outer select
// again (cheap on a page).
func linkSelect(query string) string {
	return `SELECT id, org_id, domain, key, url, version, title, external_id, password_hash,
		expires_at, valid_since, archived, disabled, attrs,
		(SELECT {json_agg}(t.tag_id) FROM link_tags t WHERE t.link_id = l.id),
		clicks, last_clicked_at, created_by, created_at, updated_at, image_file, preview_image_file
	FROM (` + query + `) l`
}

func scanLink(r rowScanner) (store.Link, error) {
	var (
		l                             store.Link
		externalID, attrs, tags       sql.NullString
		imageFile, previewImageFile   sql.NullString
		expires, validSince           sql.NullInt64
		version                       int64
		lastClicked, created, updated int64
	)
	if err := r.Scan(&l.ID, &l.OrgID, &l.Domain, &l.Key, &l.URL, &version, &l.Title, &externalID, &l.PasswordHash,
		&expires, &validSince, &l.Archived, &l.Disabled, &attrs, &tags,
		&l.Clicks, &lastClicked, &l.CreatedBy, &created, &updated, &imageFile, &previewImageFile); err != nil {
		return store.Link{}, scanErr("link", err)
	}
	if tags.Valid && tags.String != "[]" {
		if err := json.Unmarshal([]byte(tags.String), &l.TagIDs); err != nil {
			return store.Link{}, fmt.Errorf("link %s tags: %w", l.ID, err)
		}
		// Sorted here, byte-wise: an ordered aggregate costs SQLite a
		// sorter per link read.
		slices.Sort(l.TagIDs)
	}
	l.Version, l.ExternalID, l.Attrs = uint64(version), externalID.String, fromNullJSON(attrs)
	l.ImageFile, l.PreviewImageFile = imageFile.String, previewImageFile.String
	l.ExpiresAt, l.ValidSince = fromNullMs(expires), fromNullMs(validSince)
	l.LastClickedAt = fromZeroMs(lastClicked)
	l.CreatedAt, l.UpdatedAt = fromMs(created), fromMs(updated)
	return l, nil
}

var (
	linkByID         = linkSelect(`SELECT * FROM links WHERE org_id = $1 AND id = $2`)
	linkByKey        = linkSelect(`SELECT * FROM links WHERE org_id = $1 AND domain = $2 AND key = $3`)
	linkByExternalID = linkSelect(`SELECT * FROM links WHERE org_id = $1 AND external_id = $2`)
	// The url is found through the {md5}(url) index, then compared itself.
	linkByURL = linkSelect(`SELECT * FROM links
		WHERE org_id = $1 AND domain = $2 AND {md5}(url) = {md5}($3) AND url = $3
		ORDER BY created_at, id{C} LIMIT 1`)
)

func (q queries) Link(ctx context.Context, orgID, id string) (store.Link, error) {
	return scanLink(q.db.QueryRowContext(ctx, linkByID, orgID, id))
}

// LockLink locks the link's row until the Write ends, then reads the link
// in a second statement. On PostgreSQL the lock is FOR UPDATE: a concurrent
// Write that locks the same link waits until this one ends. Under read
// committed, the statement that waited sees the locked row as committed
// (it re-checks it, so after a delete it finds none) but every other row,
// the link's tags among them, as of its start; the next statement sees the
// tags as committed too, so an update made from what LockLink returns loses
// no concurrent change. SQLite's Write holds the database's one write lock
// from its start (BEGIN IMMEDIATE), so there the lock is a plain read.
// Outside Write it is Link.
func (q queries) LockLink(ctx context.Context, orgID, id string) (store.Link, error) {
	var one int
	err := q.db.QueryRowContext(ctx, `SELECT 1 FROM links WHERE org_id = $1 AND id = $2{for_update}`, orgID, id).Scan(&one)
	if err != nil {
		return store.Link{}, scanErr("lock link", err)
	}
	return q.Link(ctx, orgID, id)
}

func (q queries) LinkByKey(ctx context.Context, orgID, domain, key string) (store.Link, error) {
	return scanLink(q.db.QueryRowContext(ctx, linkByKey, orgID, domain, key))
}

func (q queries) LinkByExternalID(ctx context.Context, orgID, externalID string) (store.Link, error) {
	return scanLink(q.db.QueryRowContext(ctx, linkByExternalID, orgID, externalID))
}

func (q queries) LinkByURL(ctx context.Context, orgID, domain, url string) (store.Link, error) {
	return scanLink(q.db.QueryRowContext(ctx, linkByURL, orgID, domain, url))
}

// linkSorts maps a sort order to its column; each has an index on (org_id,
// column, id{C}).
var linkSorts = map[store.LinkSort]string{
	"":                      "created_at",
	store.SortCreatedAt:     "created_at",
	store.SortClicks:        "clicks",
	store.SortLastClickedAt: "last_clicked_at",
}

// likeEscaper makes a search match literally in LIKE … ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// linkWhere is the condition of f's filters; columns are qualified, as
// CountLinks joins link_tags. Search is {ilike} on key, url and title: it
// scans the org's links (no trigram index), and SQLite's LIKE folds the
// case of ASCII letters only.
func linkWhere(a *args, f store.LinkFilter) string {
	where := []string{"links.org_id = " + a.add(f.OrgID)}
	if f.Domain != "" {
		where = append(where, "links.domain = "+a.add(f.Domain))
	}
	if f.TagID != "" {
		where = append(where, "EXISTS (SELECT 1 FROM link_tags ft WHERE ft.link_id = links.id AND ft.tag_id = "+a.add(f.TagID)+")")
	}
	if f.Search != "" {
		p := a.add("%" + likeEscaper.Replace(f.Search) + "%")
		where = append(where, `(links.key {ilike} `+p+` ESCAPE '\' OR links.url {ilike} `+p+` ESCAPE '\' OR links.title {ilike} `+p+` ESCAPE '\')`)
	}
	if f.ExternalID != "" {
		where = append(where, "links.external_id = "+a.add(f.ExternalID))
	}
	if f.CreatedBy != "" {
		where = append(where, "links.created_by = "+a.add(f.CreatedBy))
	}
	if f.Archived != nil {
		where = append(where, "links.archived = "+a.add(*f.Archived))
	}
	if f.Disabled != nil {
		where = append(where, "links.disabled = "+a.add(*f.Disabled))
	}
	return strings.Join(where, " AND ")
}

// Links pages through a keyset: (column, id) past the cursor, in the order
// of the list, which an index on (org_id, column, id) serves.
func (q queries) Links(ctx context.Context, f store.LinkFilter) ([]store.Link, error) {
	col, ok := linkSorts[f.Sort]
	if !ok {
		return nil, fmt.Errorf("links: unknown sort %q", f.Sort)
	}
	dir, past := "DESC", "<"
	if f.Asc {
		dir, past = "ASC", ">"
	}
	var a args
	where := linkWhere(&a, f)
	if f.After != nil {
		where += fmt.Sprintf(` AND (links.%s, links.id{C}) %s (%s, %s)`, col, past, a.add(f.After.Value), a.add(f.After.ID))
	}
	order := fmt.Sprintf(` ORDER BY %s %s, id{C} %s`, col, dir, dir)
	rows, err := q.db.QueryContext(ctx, linkSelect(`SELECT * FROM links WHERE `+where+order+` LIMIT `+a.add(limit(f.Limit)))+order, a...)
	return collect("links", rows, err, scanLink)
}

func (q queries) CountLinks(ctx context.Context, f store.LinkFilter, groupBy string) ([]store.Count, error) {
	var a args
	where := linkWhere(&a, f)
	var query string
	switch groupBy {
	case "":
		query = `SELECT '', count(*) FROM links WHERE ` + where
	case "domain":
		query = `SELECT links.domain, count(*) FROM links WHERE ` + where +
			` GROUP BY links.domain ORDER BY links.domain{C}`
	case "tag":
		// A link counts once in each of its tags' groups, and in none when
		// it has none.
		query = `SELECT lt.tag_id, count(*) FROM links JOIN link_tags lt ON lt.link_id = links.id WHERE ` + where +
			` GROUP BY lt.tag_id ORDER BY lt.tag_id{C}`
	default:
		return nil, fmt.Errorf("count links: unknown group %q", groupBy)
	}
	rows, err := q.db.QueryContext(ctx, query, a...)
	return collect("count links", rows, err, func(r rowScanner) (store.Count, error) {
		var c store.Count
		if err := r.Scan(&c.Group, &c.Count); err != nil {
			return store.Count{}, fmt.Errorf("count links: %w", err)
		}
		return c, nil
	})
}

func (q queries) DeleteLink(ctx context.Context, orgID, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM links WHERE org_id = $1 AND id = $2`, orgID, id)
	return oneRow("delete link", res, err)
}
