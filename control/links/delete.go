package links

import (
	"context"
	"fmt"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
)

// DeleteMany deletes links; the deletes go to the edges in one raft entry.
func (s *Service) DeleteMany(ctx context.Context, p access.Principal, targets []Target) ([]Result, error) {
	if len(targets) > MaxBulk {
		return nil, apierror.Invalid("ids", fmt.Sprintf("at most %d links per call", MaxBulk))
	}
	now := s.now()
	results := make([]Result, len(targets))
	var pub pending
	err := s.Store.Write(ctx, func(q store.Queries) error {
		tags, err := loadTags(ctx, q, p.OrgID, plans.Plan{})
		if err != nil {
			return err
		}
		j := newJournal(now)
		var ops []kv.Op
		for i, t := range targets {
			r := &results[i]
			cur, err := s.find(ctx, q, p.OrgID, t)
			if err != nil {
				if r.Err = err; !isClientError(err) {
					return err
				}
				continue
			}
			if err := q.DeleteLink(ctx, p.OrgID, cur.ID); err != nil {
				return err
			}
			if r.Link, err = fromStore(cur, tags); err != nil {
				return err
			}
			v := ViewOf(r.Link)
			if err := j.add(p, "deleted", cur.ID, &v, nil); err != nil {
				return err
			}
			ops = append(ops, kv.Op{Type: kv.OpDeleteLink, Delete: &kv.LinkDelete{ID: cur.ID, Version: cur.Version + 1}})
		}
		if err := j.flush(ctx, q); err != nil {
			return err
		}
		pub, err = record(ctx, q, ops, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, s.publish(ctx, pub)
}

// Delete removes link id.
func (s *Service) Delete(ctx context.Context, p access.Principal, id string) (Link, error) {
	return first(s.DeleteMany(ctx, p, []Target{{ID: id}}))
}
