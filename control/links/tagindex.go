package links

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
)

// tagIndex resolves tag names and IDs of one org within a transaction,
// creating tags that do not exist yet (within the plan's limit).
type tagIndex struct {
	byID   map[string]string // id → name
	byName map[string]string // lowercase name → id
	plan   plans.Plan
	orgID  string
}

func loadTags(ctx context.Context, q store.Queries, orgID string, plan plans.Plan) (*tagIndex, error) {
	tags, err := q.Tags(ctx, orgID)
	if err != nil {
		return nil, err
	}
	t := &tagIndex{byID: map[string]string{}, byName: map[string]string{}, plan: plan, orgID: orgID}
	for _, tag := range tags {
		t.byID[tag.ID] = tag.Name
		t.byName[strings.ToLower(tag.Name)] = tag.ID
	}
	return t, nil
}

func (t *tagIndex) names(tagIDs []string) []string {
	var out []string
	for _, id := range tagIDs {
		if n, ok := t.byID[id]; ok {
			out = append(out, n)
		}
	}
	return out
}

// ids resolves names to tag IDs, creating the missing tags; it checks the
// plan's tag limit for all of them before creating any.
func (t *tagIndex) ids(ctx context.Context, q store.Queries, names []string, now time.Time) ([]string, error) {
	var missing []string
	for _, n := range names {
		if _, ok := t.byName[strings.ToLower(n)]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		if err := t.plan.CheckLimit(plans.Tags, len(t.byID), len(missing)); err != nil {
			return nil, err
		}
	}
	for _, n := range missing {
		id := ids.New("tag", now)
		if err := q.CreateTag(ctx, store.Tag{ID: id, OrgID: t.orgID, Name: n, Color: defaultColor, CreatedAt: now}); err != nil {
			return nil, err
		}
		t.byID[id], t.byName[strings.ToLower(n)] = n, id
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, t.byName[strings.ToLower(n)])
	}
	slices.Sort(out)
	return out, nil
}

// lazyTags loads the org's tags only when some input names tags: a link
// created without tags needs none.
func lazyTags(ctx context.Context, q store.Queries, orgID string, plan plans.Plan, items []*item) (*tagIndex, error) {
	for _, it := range items {
		if in := it.in; in.Tags.Set && len(in.Tags.V) > 0 {
			return loadTags(ctx, q, orgID, plan)
		}
	}
	return &tagIndex{byID: map[string]string{}, byName: map[string]string{}, plan: plan, orgID: orgID}, nil
}
