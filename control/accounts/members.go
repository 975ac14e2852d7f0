package accounts

import (
	"context"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

// Members lists the org's members.
func (s *Service) Members(ctx context.Context, p access.Principal) ([]store.Member, error) {
	return s.Store.Members(ctx, p.OrgID)
}

// guardOwners refuses a change that would leave the org without an Owner,
// and one that touches Owner by someone who is not an Owner.
func guardOwners(ctx context.Context, q store.Queries, p access.Principal, target store.Member, newRole identity.Role) error {
	touchesOwner := target.Role == identity.RoleOwner || newRole == identity.RoleOwner
	if touchesOwner && p.Role != identity.RoleOwner {
		return forbidden("only an Owner can grant or remove the Owner role")
	}
	if target.Role == identity.RoleOwner && newRole != identity.RoleOwner {
		n, err := q.CountOwners(ctx, target.OrgID)
		if err != nil {
			return err
		}
		if n <= 1 {
			return forbidden("the last Owner cannot leave, be removed or be demoted; make someone else Owner first")
		}
	}
	return nil
}

// SetRole changes a member's role.
func (s *Service) SetRole(ctx context.Context, p access.Principal, userID, role string) (store.Member, error) {
	newRole, err := parseRole("role", role)
	if err != nil {
		return store.Member{}, err
	}
	var m store.Member
	err = s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Member(ctx, p.OrgID, userID)
		if err != nil {
			return mapNotFound(err, "member")
		}
		if err := guardOwners(ctx, q, p, before, newRole); err != nil {
			return err
		}
		if err := q.SetRole(ctx, p.OrgID, userID, newRole); err != nil {
			return err
		}
		m = before
		m.Role = newRole
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "member.updated", "member", userID, MemberView(before), MemberView(m)))
	})
	return m, err
}

// RemoveMember removes a member (or, with userID == p.UserID, lets the
// principal leave). The member's user key in the org goes with them.
func (s *Service) RemoveMember(ctx context.Context, p access.Principal, userID string) error {
	return s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Member(ctx, p.OrgID, userID)
		if err != nil {
			return mapNotFound(err, "member")
		}
		if userID != p.UserID {
			if err := guardOwners(ctx, q, p, before, ""); err != nil {
				return err
			}
		} else if before.Role == identity.RoleOwner {
			n, err := q.CountOwners(ctx, p.OrgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return forbidden("the last Owner cannot leave; make someone else Owner first")
			}
		}
		if err := q.DeleteUserKeys(ctx, p.OrgID, userID); err != nil {
			return err
		}
		if err := q.RemoveMember(ctx, p.OrgID, userID); err != nil {
			return err
		}
		action := "member.removed"
		if userID == p.UserID {
			action = "member.left"
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), action, "member", userID, MemberView(before), nil))
	})
}
