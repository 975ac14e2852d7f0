package accounts_test

import (
	"testing"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/shared/apierror"
)

// Only an Owner grants, takes or removes the Owner role; everything else
// about members is open to whoever the route lets in (an Admin).
func TestOnlyAnOwnerTouchesOwners(t *testing.T) {
	w := mustWorld(t)
	w.mustJoin(t, "admin@example.com", identity.RoleAdmin)
	member := w.mustJoin(t, "member@example.com", identity.RoleMember)
	admin, _ := w.mustSignIn(t, "admin@example.com", w.org)

	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"promote to owner", func() error { _, err := w.s.SetRole(w.ctx, admin, member.ID, "owner"); return err }},
		{"demote an owner", func() error { _, err := w.s.SetRole(w.ctx, admin, w.owner.ID, "admin"); return err }},
		{"remove an owner", func() error { return w.s.RemoveMember(w.ctx, admin, w.owner.ID) }},
		{"invite an owner", func() error { _, _, err := w.s.Invite(w.ctx, admin, "new@example.com", "owner"); return err }},
	} {
		wantCode(t, "admin: "+tc.name, tc.do(), apierror.Forbidden)
	}
	if m, _ := w.st.Member(w.ctx, w.org, member.ID); m.Role != identity.RoleMember {
		t.Errorf("member's role after refusals: %s", m.Role)
	}

	m, err := w.s.SetRole(w.ctx, admin, member.ID, "admin")
	if err != nil || m.Role != identity.RoleAdmin {
		t.Fatalf("admin promotes a member: %+v %v", m, err)
	}
	if stored, _ := w.st.Member(w.ctx, w.org, member.ID); stored.Role != identity.RoleAdmin {
		t.Errorf("stored role %s", stored.Role)
	}
	if a := w.lastAudit(t, w.org); a.Action != "member.updated" || a.ResourceID != member.ID || a.ActorID != admin.UserID {
		t.Errorf("audit %+v", a)
	}
	if _, err := w.s.SetRole(w.ctx, admin, member.ID, "member"); err != nil {
		t.Errorf("admin demotes an admin: %v", err)
	}

	_, err = w.s.SetRole(w.ctx, admin, member.ID, "king")
	wantCode(t, "unknown role", err, apierror.ValidationError)
	_, err = w.s.SetRole(w.ctx, admin, "usr_nobody", "member")
	wantCode(t, "not a member", err, apierror.NotFound)
	wantCode(t, "remove not a member", w.s.RemoveMember(w.ctx, admin, "usr_nobody"), apierror.NotFound)

	owner, _ := w.mustSignIn(t, "owner@example.com", w.org)
	if m, err := w.s.SetRole(w.ctx, owner, member.ID, "owner"); err != nil || m.Role != identity.RoleOwner {
		t.Errorf("owner grants owner: %+v %v", m, err)
	}
}

// An org always keeps an Owner: the last one can be neither demoted nor
// removed, nor leave. With a second Owner, each of those works.
func TestTheLastOwnerStays(t *testing.T) {
	w := mustWorld(t)
	owner, _ := w.mustSignIn(t, "owner@example.com", w.org)

	_, err := w.s.SetRole(w.ctx, owner, w.owner.ID, "admin")
	wantCode(t, "last owner demotes themselves", err, apierror.Forbidden)
	wantCode(t, "last owner leaves", w.s.RemoveMember(w.ctx, owner, w.owner.ID), apierror.Forbidden)
	if n, err := w.st.CountOwners(w.ctx, w.org); err != nil || n != 1 {
		t.Fatalf("owners %d %v", n, err)
	}

	second := w.mustJoin(t, "second@example.com", identity.RoleOwner)
	if _, err := w.s.SetRole(w.ctx, owner, second.ID, "admin"); err != nil {
		t.Fatalf("demote one of two owners: %v", err)
	}
	// Now the first is the last again, and the demoted one may not act on
	// them.
	admin, _ := w.mustSignIn(t, "second@example.com", w.org)
	wantCode(t, "admin removes the last owner", w.s.RemoveMember(w.ctx, admin, w.owner.ID), apierror.Forbidden)
	if _, err := w.s.SetRole(w.ctx, owner, second.ID, "owner"); err != nil {
		t.Fatal(err)
	}

	// With two, one may leave; the other is then the last.
	if err := w.s.RemoveMember(w.ctx, owner, w.owner.ID); err != nil {
		t.Fatalf("one of two owners leaves: %v", err)
	}
	if a := w.lastAudit(t, w.org); a.Action != "member.left" || a.ResourceID != w.owner.ID {
		t.Errorf("audit %+v", a)
	}
	last, _ := w.mustSignIn(t, "second@example.com", w.org)
	wantCode(t, "the remaining owner leaves", w.s.RemoveMember(w.ctx, last, second.ID), apierror.Forbidden)
}

// A member who leaves or is removed takes their user key in the org with
// them; bot keys they made stay, they belong to the org.
func TestRemovingAMemberRevokesTheirUserKey(t *testing.T) {
	w := mustWorld(t)
	admin := w.mustJoin(t, "admin@example.com", identity.RoleAdmin)
	member := w.mustJoin(t, "member@example.com", identity.RoleMember)
	ap, _ := w.mustSignIn(t, "admin@example.com", w.org)
	mp, _ := w.mustSignIn(t, "member@example.com", w.org)
	links := perms(map[access.Resource][]access.Action{access.ShortLinks: {access.Read}})
	memberKey, _ := w.mustCreateKey(t, mp, "user", links)
	adminKey, _ := w.mustCreateKey(t, ap, "user", links)
	bot, _ := w.mustCreateKey(t, ap, "bot", links)

	if err := w.s.RemoveMember(w.ctx, ap, member.ID); err != nil {
		t.Fatal(err)
	}
	if a := w.lastAudit(t, w.org); a.Action != "member.removed" || a.ResourceID != member.ID {
		t.Errorf("audit %+v", a)
	}
	if _, err := w.st.Member(w.ctx, w.org, member.ID); !isNotFound(err) {
		t.Errorf("membership after removal: %v", err)
	}
	if _, err := w.st.APIKey(w.ctx, w.org, memberKey.ID); !isNotFound(err) {
		t.Errorf("the removed member's user key: %v, want gone", err)
	}

	// A member who is not an Owner may leave.
	if err := w.s.RemoveMember(w.ctx, ap, admin.ID); err != nil {
		t.Fatal(err)
	}
	if a := w.lastAudit(t, w.org); a.Action != "member.left" {
		t.Errorf("audit %+v", a)
	}
	if _, err := w.st.APIKey(w.ctx, w.org, adminKey.ID); !isNotFound(err) {
		t.Errorf("the leaver's user key: %v, want gone", err)
	}
	if _, err := w.st.APIKey(w.ctx, w.org, bot.ID); err != nil {
		t.Errorf("the bot key the leaver made: %v, want kept", err)
	}
	owner, _ := w.mustSignIn(t, "owner@example.com", w.org)
	if ms, err := w.s.Members(w.ctx, owner); err != nil || len(ms) != 1 || ms[0].UserID != w.owner.ID {
		t.Errorf("members %+v %v", ms, err)
	}
}
