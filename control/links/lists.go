package links

import (
	"context"
	"errors"
	"strings"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/page"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// Query is a list request as clients write it.
type Query struct {
	Domain, Tag, Search, ExternalID, CreatedBy string
	Archived, Disabled                         *bool
	Sort                                       string // createdAt (default), clicks, lastClickedAt
	Order                                      string // desc (default) or asc
	Limit                                      int    // 1..100, default 50
	Cursor                                     string
}

// cursor is what a nextCursor encodes: the sort it belongs to and the
// position in it.
type cursor struct {
	Sort  string `json:"s"`
	Asc   bool   `json:"a,omitempty"`
	Value int64  `json:"v"`
	ID    string `json:"i"`
}

// filter turns q into a store filter; ok is false when the filter can match
// nothing (an unknown tag).
func (s *Service) filter(ctx context.Context, p access.Principal, q Query) (f store.LinkFilter, ok bool, err error) {
	f = store.LinkFilter{OrgID: p.OrgID, Domain: strings.ToLower(q.Domain), Search: q.Search, ExternalID: q.ExternalID,
		CreatedBy: q.CreatedBy, Archived: q.Archived, Disabled: q.Disabled}
	if len(q.Search) > 256 {
		return f, false, apierror.Invalid("search", "must be at most 256 characters")
	}
	switch q.Sort {
	case "", "createdAt":
		f.Sort = store.SortCreatedAt
	case "clicks":
		f.Sort = store.SortClicks
	case "lastClickedAt":
		f.Sort = store.SortLastClickedAt
	default:
		return f, false, apierror.Invalid("sort", "must be createdAt, clicks or lastClickedAt")
	}
	switch q.Order {
	case "", "desc":
	case "asc":
		f.Asc = true
	default:
		return f, false, apierror.Invalid("order", "must be asc or desc")
	}
	if q.Tag != "" {
		t, err := s.Store.TagByName(ctx, p.OrgID, q.Tag)
		if errors.Is(err, store.ErrNotFound) {
			return f, false, nil
		}
		if err != nil {
			return f, false, err
		}
		f.TagID = t.ID
	}
	return f, true, nil
}

// List returns a page of links and the cursor of the next page ("" at the
// end).
func (s *Service) List(ctx context.Context, p access.Principal, q Query) ([]Link, string, error) {
	f, ok, err := s.filter(ctx, p, q)
	if err != nil || !ok {
		return nil, "", err
	}
	if f.Limit, err = page.Limit(q.Limit); err != nil {
		return nil, "", err
	}
	if q.Cursor != "" {
		var c cursor
		if err := page.Decode(q.Cursor, &c); err != nil || c.ID == "" {
			return nil, "", page.ErrBadCursor
		}
		if c.Sort != string(f.Sort) || c.Asc != f.Asc {
			return nil, "", apierror.Invalid("cursor", "belongs to another sort order")
		}
		f.After = &store.LinkCursor{Value: c.Value, ID: c.ID}
	}
	sls, err := s.Store.Links(ctx, f)
	if err != nil {
		return nil, "", err
	}
	ls, err := s.read(ctx, p.OrgID, sls...)
	if err != nil || len(sls) < f.Limit {
		return ls, "", err
	}
	last := sls[len(sls)-1]
	c := cursor{Sort: string(f.Sort), Asc: f.Asc, ID: last.ID}
	switch f.Sort {
	case store.SortClicks:
		c.Value = last.Clicks
	case store.SortLastClickedAt:
		c.Value = millis(last.LastClickedAt)
	default:
		c.Value = last.CreatedAt.UnixMilli()
	}
	return ls, page.Encode(c), nil
}

// Count is a group of links and its size.
type Count struct {
	Group string `json:"group,omitempty"`
	Count int64  `json:"count"`
}

// Count counts links matching q, grouped by "domain", "tag" or not.
func (s *Service) Count(ctx context.Context, p access.Principal, q Query, groupBy string) ([]Count, error) {
	if groupBy != "" && groupBy != "domain" && groupBy != "tag" {
		return nil, apierror.Invalid("groupBy", "must be domain or tag")
	}
	f, ok, err := s.filter(ctx, p, q)
	if err != nil {
		return nil, err
	}
	if !ok {
		if groupBy != "" {
			return []Count{}, nil
		}
		return []Count{{Count: 0}}, nil
	}
	cs, err := s.Store.CountLinks(ctx, f, groupBy)
	if err != nil {
		return nil, err
	}
	var tags *tagIndex
	if groupBy == "tag" {
		if tags, err = loadTags(ctx, s.Store, p.OrgID, plans.Plan{}); err != nil {
			return nil, err
		}
	}
	out := make([]Count, 0, len(cs))
	for _, c := range cs {
		g := c.Group
		if tags != nil {
			g = tags.byID[g]
		}
		out = append(out, Count{Group: g, Count: c.Count})
	}
	if groupBy == "" && len(out) == 0 {
		out = append(out, Count{})
	}
	return out, nil
}

// --- Tags ------------------------------------------------------------------

// Colors tags may have.
var Colors = []string{"red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown", "gray"}

const defaultColor = "blue"

// TagView is a tag as the API shows it.
type TagView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Color     string `json:"color"`
	CreatedAt string `json:"createdAt"`
}

func TagViewOf(t store.Tag) TagView {
	return TagView{ID: t.ID, Name: t.Name, Color: t.Color, CreatedAt: t.CreatedAt.UTC().Format(TimeFormat)}
}

func checkTag(name *string, color *string) error {
	var p problems
	if name != nil {
		if strings.ContainsFunc(*name, notInName) {
			p.add("name", "must not contain control characters, line breaks or '|'")
		}
		*name = strings.TrimSpace(*name)
		if *name == "" || len(*name) > 50 {
			p.add("name", "must be 1 to 50 characters")
		}
	}
	if color != nil && *color != "" {
		ok := false
		for _, c := range Colors {
			ok = ok || c == *color
		}
		if !ok {
			p.add("color", "must be one of "+strings.Join(Colors, ", "))
		}
	}
	return p.err()
}

func tagConflict(err error, name string) error {
	if errors.Is(err, store.ErrConflict) {
		return apierror.New(apierror.AlreadyExist, "a tag named %q exists", name)
	}
	return err
}

// TagQuery asks for a page of tags.
type TagQuery struct {
	Limit  int // 1..100, default 50
	Cursor string
}

// tagCursor is what a tag list's nextCursor encodes: the last tag's name
// and ID.
type tagCursor struct {
	Name string `json:"n"`
	ID   string `json:"i"`
}

// Tags returns a page of the org's tags, by name case-insensitively then
// ID, and the cursor of the next page ("" at the end).
func (s *Service) Tags(ctx context.Context, p access.Principal, q TagQuery) ([]store.Tag, string, error) {
	f := store.TagFilter{OrgID: p.OrgID}
	var err error
	if f.Limit, err = page.Limit(q.Limit); err != nil {
		return nil, "", err
	}
	if q.Cursor != "" {
		var c tagCursor
		if err := page.Decode(q.Cursor, &c); err != nil || c.ID == "" {
			return nil, "", page.ErrBadCursor
		}
		f.After = &store.TagCursor{Name: c.Name, ID: c.ID}
	}
	tags, err := s.Store.TagPage(ctx, f)
	if err != nil || len(tags) < f.Limit {
		return tags, "", err
	}
	last := tags[len(tags)-1]
	return tags, page.Encode(tagCursor{Name: last.Name, ID: last.ID}), nil
}

// CreateTag makes a tag (within the plan's tag limit).
func (s *Service) CreateTag(ctx context.Context, p access.Principal, name, color string) (store.Tag, error) {
	if err := checkTag(&name, &color); err != nil {
		return store.Tag{}, err
	}
	if color == "" {
		color = defaultColor
	}
	now := s.now()
	t := store.Tag{ID: ids.New("tag", now), OrgID: p.OrgID, Name: name, Color: color, CreatedAt: now}
	err := s.Store.Write(ctx, func(q store.Queries) error {
		plan, err := s.orgPlan(ctx, q, p.OrgID)
		if err != nil {
			return err
		}
		existing, err := q.Tags(ctx, p.OrgID)
		if err != nil {
			return err
		}
		if err := plan.CheckLimit(plans.Tags, len(existing), 1); err != nil {
			return err
		}
		if err := q.CreateTag(ctx, t); err != nil {
			return tagConflict(err, name)
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "tag.created", "tag", t.ID, nil, TagViewOf(t)))
	})
	return t, err
}

// UpdateTag renames or recolours a tag.
func (s *Service) UpdateTag(ctx context.Context, p access.Principal, id string, name, color *string) (store.Tag, error) {
	if err := checkTag(name, color); err != nil {
		return store.Tag{}, err
	}
	var t store.Tag
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Tag(ctx, p.OrgID, id)
		if errors.Is(err, store.ErrNotFound) {
			return apierror.New(apierror.NotFound, "tag not found")
		}
		if err != nil {
			return err
		}
		t = before
		if name != nil {
			t.Name = *name
		}
		if color != nil && *color != "" {
			t.Color = *color
		}
		if err := q.UpdateTag(ctx, t); err != nil {
			return tagConflict(err, t.Name)
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "tag.updated", "tag", t.ID, TagViewOf(before), TagViewOf(t)))
	})
	return t, err
}

// DeleteTag deletes a tag and takes it off its links.
func (s *Service) DeleteTag(ctx context.Context, p access.Principal, id string) error {
	return s.Store.Write(ctx, func(q store.Queries) error {
		t, err := q.Tag(ctx, p.OrgID, id)
		if errors.Is(err, store.ErrNotFound) {
			return apierror.New(apierror.NotFound, "tag not found")
		}
		if err != nil {
			return err
		}
		if err := q.DeleteTag(ctx, p.OrgID, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "tag.deleted", "tag", t.ID, TagViewOf(t), nil))
	})
}
