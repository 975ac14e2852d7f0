package accounts_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/shared/apierror"
)

// An install starts with an org whose Owner holds a user key with every
// permission of the role; the operator vouches for the address.
func TestCreateOrgWithOwner(t *testing.T) {
	w := mustWorld(t)
	if w.owner.EmailVerifiedAt.IsZero() || w.owner.PasswordHash == "" {
		t.Errorf("owner %+v: want verified, with a password", w.owner)
	}
	m, err := w.st.Member(w.ctx, w.org, w.owner.ID)
	if err != nil || m.Role != identity.RoleOwner {
		t.Errorf("owner's membership: %+v %v", m, err)
	}
	k, err := w.st.APIKeyByDigest(w.ctx, apikey.Digest(pepper, w.ownerKey))
	if err != nil {
		t.Fatal(err)
	}
	if k.Type != identity.KeyUser || k.UserID != w.owner.ID || k.OrgID != w.org ||
		!reflect.DeepEqual(k.Permissions, access.OfRole(identity.RoleOwner).Permissions()) {
		t.Errorf("owner key %+v", k)
	}
	if a := w.lastAudit(t, w.org); a.Action != "org.created" || a.ActorID != w.owner.ID {
		t.Errorf("audit %+v", a)
	}

	// A second org for the same address reuses the account.
	o2, err := w.s.CreateOrgWithOwner(w.ctx, "Second", "OWNER@example.com", "", "free", func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := w.st.Memberships(w.ctx, w.owner.ID); err != nil || len(ms) != 2 || ms[1].OrgID != o2.ID {
		t.Errorf("memberships %+v %v", ms, err)
	}

	// The key is saved before the commit; if that fails, nothing is made.
	saveErr := errors.New("disk full")
	_, err = w.s.CreateOrgWithOwner(w.ctx, "Third", "third@example.com", pw, "free", func(string) error { return saveErr })
	if !errors.Is(err, saveErr) {
		t.Errorf("save failing: %v", err)
	}
	if _, err := w.st.UserByEmail(w.ctx, "third@example.com"); !isNotFound(err) {
		t.Errorf("user after a failed save: %v", err)
	}

	for _, tc := range []struct{ name, email, pw, plan string }{
		{"bad plan", "x@example.com", "", "platinum"},
		{"bad email", "not an address", "", "free"},
		{"weak password", "x@example.com", "short", "free"},
	} {
		_, err := w.s.CreateOrgWithOwner(w.ctx, "X", tc.email, tc.pw, tc.plan, func(string) error { return nil })
		wantCode(t, tc.name, err, apierror.ValidationError)
	}
}

// A signed-in person with a verified address creates orgs, on the free
// plan, as their Owner.
func TestCreateOrg(t *testing.T) {
	w := mustWorld(t)
	p, _ := w.mustSignIn(t, "owner@example.com", "")
	o, err := w.s.CreateOrg(w.ctx, p, "  Side project ")
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "Side project" || o.Plan != "free" {
		t.Errorf("org %+v", o)
	}
	if m, err := w.st.Member(w.ctx, o.ID, w.owner.ID); err != nil || m.Role != identity.RoleOwner {
		t.Errorf("creator's membership %+v %v", m, err)
	}
	if a := w.lastAudit(t, o.ID); a.Action != "org.created" || a.ResourceID != o.ID || a.ActorID != w.owner.ID {
		t.Errorf("audit %+v", a)
	}

	for _, name := range []string{"", "   ", strings.Repeat("x", 101)} {
		_, err := w.s.CreateOrg(w.ctx, p, name)
		wantCode(t, "name "+name, err, apierror.ValidationError)
	}

	w.mustUser(t, "unverified@example.com", false)
	up, _ := w.mustSignIn(t, "unverified@example.com", "")
	_, err = w.s.CreateOrg(w.ctx, up, "Mine")
	wantCode(t, "unverified creator", err, apierror.Forbidden)
	if ms, _ := w.st.Memberships(w.ctx, up.UserID); len(ms) != 0 {
		t.Errorf("unverified creator's memberships: %+v", ms)
	}
}

func TestRenameOrgAndSetPlan(t *testing.T) {
	w := mustWorld(t)
	p, _ := w.mustSignIn(t, "owner@example.com", w.org)
	o, err := w.s.RenameOrg(w.ctx, p, " Acme Ltd ")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := w.s.Org(w.ctx, p); err != nil || got.Name != "Acme Ltd" || o.Name != "Acme Ltd" {
		t.Errorf("renamed org %+v %+v %v", o, got, err)
	}
	if a := w.lastAudit(t, w.org); a.Action != "org.updated" || !strings.Contains(string(a.Diff), `"Acme"`) {
		t.Errorf("audit %+v %s", a, a.Diff)
	}
	_, err = w.s.RenameOrg(w.ctx, p, "")
	wantCode(t, "empty name", err, apierror.ValidationError)

	o, err = w.s.SetPlan(w.ctx, w.org, "pro")
	if err != nil || o.Plan != "pro" {
		t.Fatalf("set plan: %+v %v", o, err)
	}
	if a := w.lastAudit(t, w.org); a.Action != "org.planChanged" || a.ActorType != "system" {
		t.Errorf("audit %+v", a)
	}
	_, err = w.s.SetPlan(w.ctx, w.org, "platinum")
	wantCode(t, "unknown plan", err, apierror.ValidationError)
	_, err = w.s.SetPlan(w.ctx, "org_nope", "pro")
	wantCode(t, "unknown org", err, apierror.NotFound)

	_, plan, usage, err := w.s.OrgUsage(w.ctx, p)
	if err != nil || plan.Name != "pro" || usage.APIKeys != 1 {
		t.Errorf("usage: %v %+v %v", plan.Name, usage, err)
	}
	gone := p
	gone.OrgID = "org_nope"
	_, err = w.s.Org(w.ctx, gone)
	wantCode(t, "an org that is not there", err, apierror.NotFound)
}
