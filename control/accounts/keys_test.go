package accounts_test

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

var (
	full      = []access.Action{access.Create, access.Read, access.Update, access.Delete}
	linksRead = perms(map[access.Resource][]access.Action{access.ShortLinks: {access.Read}})
	linksAll  = perms(map[access.Resource][]access.Action{access.ShortLinks: full})
	keysAll   = perms(map[access.Resource][]access.Action{access.APIKeys: full})
	keysLinks = perms(map[access.Resource][]access.Action{access.APIKeys: full, access.ShortLinks: full})
)

// keyWorld is a world with an Admin and a Member signed in.
type keyWorld struct {
	*world
	owner, admin, member access.Principal
}

func mustKeyWorld(t *testing.T) keyWorld {
	t.Helper()
	w := mustWorld(t)
	w.mustJoin(t, "admin@example.com", identity.RoleAdmin)
	w.mustJoin(t, "member@example.com", identity.RoleMember)
	kw := keyWorld{world: w}
	kw.owner, _ = w.mustSignIn(t, "owner@example.com", w.org)
	kw.admin, _ = w.mustSignIn(t, "admin@example.com", w.org)
	kw.member, _ = w.mustSignIn(t, "member@example.com", w.org)
	return kw
}

func name(s string) *string { return &s }

// A key is created within what its creator may grant: the role for a
// person, and no more than the calling key holds when a key calls.
func TestCreateKeyWithinRole(t *testing.T) {
	w := mustKeyWorld(t)
	_, narrowAdmin := w.mustCreateKey(t, w.admin, "user", perms(map[access.Resource][]access.Action{
		access.APIKeys: {access.Create}, access.ShortLinks: {access.Read}}))
	_, bot := w.mustCreateKey(t, w.admin, "bot", keysLinks)
	narrowP, botP := w.mustKeyPrincipal(t, narrowAdmin), w.mustKeyPrincipal(t, bot)

	for _, tc := range []struct {
		name  string
		p     access.Principal
		typ   string
		perms identity.Permissions
		want  apierror.Code
	}{
		{"member, own user key within the role", w.member, "user", linksAll, ""},
		{"member, user key with apiKeys", w.member, "user", keysAll, apierror.Forbidden},
		{"member, bot key", w.member, "bot", linksRead, apierror.Forbidden},
		{"admin, bot key with webhooks", w.admin, "bot", perms(map[access.Resource][]access.Action{access.Webhooks: full}), ""},
		{"admin's narrow key, bot key within it", narrowP, "bot", linksRead, ""},
		{"admin's narrow key, bot key beyond it", narrowP, "bot", linksAll, apierror.Forbidden},
		{"bot key, bot key within it", botP, "bot", linksAll, ""},
		{"bot key, bot key beyond it", botP, "bot", perms(map[access.Resource][]access.Action{access.Domains: {access.Read}}), apierror.Forbidden},
		{"bot key, user key", botP, "user", linksRead, apierror.ValidationError},
		{"unknown permission", w.owner, "bot", identity.Permissions{"links": {"read"}}, apierror.ValidationError},
		{"unknown action", w.owner, "bot", identity.Permissions{"shortLinks": {"print"}}, apierror.ValidationError},
		{"unknown type", w.owner, "robot", linksRead, apierror.ValidationError},
	} {
		_, k, err := w.s.CreateKey(w.ctx, tc.p, accounts.KeyInput{Name: name(tc.name), Type: tc.typ, Permissions: &tc.perms})
		wantCode(t, tc.name, err, tc.want)
		if err != nil {
			continue
		}
		want, _ := access.Parse(tc.perms)
		if got, _ := access.Parse(k.Permissions); got != want {
			t.Errorf("%s: granted %s, want %s", tc.name, got, want)
		}
	}
	if !reflect.DeepEqual(keysLinks, w.mustKeyPrincipal(t, bot).Grants.Permissions()) {
		t.Error("creating keys changed the calling key")
	}
}

func TestCreateKey(t *testing.T) {
	w := mustKeyWorld(t)
	expires := w.clock.Now().Add(24*time.Hour + 1234567*time.Nanosecond)
	plain, k, err := w.s.CreateKey(w.ctx, w.member, accounts.KeyInput{Name: name(" mine "), Type: "user", Permissions: &linksRead, ExpiresAt: &expires})
	if err != nil {
		t.Fatal(err)
	}
	if typ, err := apikey.Parse(plain); err != nil || typ != apikey.User {
		t.Errorf("key %q: %s %v", plain, typ, err)
	}
	stored, err := w.st.APIKeyByDigest(w.ctx, apikey.Digest(pepper, plain))
	if err != nil {
		t.Fatal(err)
	}
	if stored.ID != k.ID || stored.Name != "mine" || stored.Type != identity.KeyUser || stored.UserID != w.member.UserID ||
		stored.CreatedBy != w.member.UserID || stored.Prefix != apikey.Prefix(plain) || !stored.ExpiresAt.Equal(expires.Truncate(time.Millisecond)) {
		t.Errorf("stored %+v", stored)
	}
	if a := w.lastAudit(t, w.org); a.Action != "apiKey.created" || a.ResourceID != k.ID {
		t.Errorf("audit %+v", a)
	}

	// One user key per person per org.
	_, _, err = w.s.CreateKey(w.ctx, w.member, accounts.KeyInput{Name: name("again"), Type: "user", Permissions: &linksRead})
	wantCode(t, "a second user key", err, apierror.AlreadyExist)

	_, bot, err := w.s.CreateKey(w.ctx, w.admin, accounts.KeyInput{Name: name("ci"), Type: "bot"})
	if err != nil || bot.UserID != "" || bot.CreatedBy != w.admin.UserID || len(bot.Permissions) != 0 {
		t.Errorf("bot key without permissions: %+v %v", bot, err)
	}

	now := w.clock.Now()
	for _, tc := range []struct {
		name string
		in   accounts.KeyInput
	}{
		{"no name", accounts.KeyInput{Type: "bot"}},
		{"blank name", accounts.KeyInput{Name: name("  "), Type: "bot"}},
		{"expires now", accounts.KeyInput{Name: name("x"), Type: "bot", ExpiresAt: &now}},
	} {
		_, _, err := w.s.CreateKey(w.ctx, w.admin, tc.in)
		wantCode(t, tc.name, err, apierror.ValidationError)
	}

	// The plan bounds the org's keys: the free plan has three.
	if _, err := w.s.SetPlan(w.ctx, w.org, "free"); err != nil {
		t.Fatal(err)
	}
	_, _, err = w.s.CreateKey(w.ctx, w.admin, accounts.KeyInput{Name: name("fourth"), Type: "bot"})
	wantCode(t, "a fourth key on the free plan", err, apierror.PlanLimitReached)
}

func keyIDs(ks []store.APIKey) []string {
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	sort.Strings(ids)
	return ids
}

// Who sees which keys: apiKeys:read shows the org's keys, but a bot key
// never sees a user key; without it, a person sees their own user key. A
// user key acts with its person's current role, so a demotion narrows it.
func TestKeysVisible(t *testing.T) {
	w := mustKeyWorld(t)
	memberKey, _ := w.mustCreateKey(t, w.member, "user", linksRead)
	adminKey, adminPlain := w.mustCreateKey(t, w.admin, "user", keysAll)
	bot, botPlain := w.mustCreateKey(t, w.admin, "bot", keysAll)
	ownerKey, err := w.st.APIKeyByDigest(w.ctx, apikey.Digest(pepper, w.ownerKey))
	if err != nil {
		t.Fatal(err)
	}
	all := keyIDs([]store.APIKey{memberKey, adminKey, bot, ownerKey})

	for _, tc := range []struct {
		name string
		p    access.Principal
		want []string
	}{
		{"owner", w.owner, all},
		{"admin", w.admin, all},
		{"admin's key", w.mustKeyPrincipal(t, adminPlain), all},
		{"member", w.member, []string{memberKey.ID}},
		{"bot key", w.mustKeyPrincipal(t, botPlain), []string{bot.ID}},
	} {
		ks, err := w.s.Keys(w.ctx, tc.p)
		if got := keyIDs(ks); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s sees %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}

	if _, err := w.s.Key(w.ctx, w.member, memberKey.ID); err != nil {
		t.Errorf("member reads own key: %v", err)
	}
	_, err = w.s.Key(w.ctx, w.member, adminKey.ID)
	wantCode(t, "member reads another's key", err, apierror.Forbidden)
	_, err = w.s.Key(w.ctx, w.mustKeyPrincipal(t, botPlain), memberKey.ID)
	wantCode(t, "bot reads a user key", err, apierror.Forbidden)
	_, err = w.s.Key(w.ctx, w.admin, "key_nope")
	wantCode(t, "no such key", err, apierror.NotFound)

	// Demoted to Member, the admin's key keeps its grants but acts as a
	// Member: only its own key now.
	if _, err := w.s.SetRole(w.ctx, w.owner, w.admin.UserID, "member"); err != nil {
		t.Fatal(err)
	}
	ks, err := w.s.Keys(w.ctx, w.mustKeyPrincipal(t, adminPlain))
	if got := keyIDs(ks); err != nil || !reflect.DeepEqual(got, []string{adminKey.ID}) {
		t.Errorf("demoted admin's key sees %v (%v)", got, err)
	}
}

// A user key belongs to its person: only they change it, within their
// role. Others with apiKeys:update change bot keys that hold no more than
// they do.
func TestUpdateKey(t *testing.T) {
	w := mustKeyWorld(t)
	memberKey, _ := w.mustCreateKey(t, w.member, "user", linksRead)
	bot, _ := w.mustCreateKey(t, w.owner, "bot", linksRead)
	_, narrow := w.mustCreateKey(t, w.admin, "user", keysAll)
	narrowP := w.mustKeyPrincipal(t, narrow)

	k, err := w.s.UpdateKey(w.ctx, w.member, memberKey.ID, accounts.KeyInput{Name: name("renamed"), Permissions: &linksAll})
	if err != nil || k.Name != "renamed" || !reflect.DeepEqual(k.Permissions, linksAll) {
		t.Fatalf("member updates own key: %+v %v", k, err)
	}
	if stored, _ := w.st.APIKey(w.ctx, w.org, memberKey.ID); stored.Name != "renamed" || !reflect.DeepEqual(stored.Permissions, linksAll) {
		t.Errorf("stored %+v", stored)
	}
	if a := w.lastAudit(t, w.org); a.Action != "apiKey.updated" || a.ResourceID != memberKey.ID {
		t.Errorf("audit %+v", a)
	}

	for _, tc := range []struct {
		name string
		p    access.Principal
		id   string
		in   accounts.KeyInput
		want apierror.Code
	}{
		{"member grants own key beyond the role", w.member, memberKey.ID, accounts.KeyInput{Permissions: &keysAll}, apierror.Forbidden},
		{"admin changes a member's user key", w.admin, memberKey.ID, accounts.KeyInput{Name: name("x")}, apierror.Forbidden},
		{"member changes a bot key", w.member, bot.ID, accounts.KeyInput{Name: name("x")}, apierror.Forbidden},
		{"narrow key changes a bot key that holds more", narrowP, bot.ID, accounts.KeyInput{Name: name("x")}, apierror.Forbidden},
		{"admin grants a bot key beyond the role", w.admin, bot.ID, accounts.KeyInput{Permissions: &identity.Permissions{"stats": {"delete"}}}, apierror.Forbidden},
		{"type", w.admin, bot.ID, accounts.KeyInput{Type: "user"}, apierror.ValidationError},
		{"expiry", w.admin, bot.ID, accounts.KeyInput{ExpiresAt: &time.Time{}}, apierror.ValidationError},
		{"blank name", w.admin, bot.ID, accounts.KeyInput{Name: name("")}, apierror.ValidationError},
		{"no such key", w.admin, "key_nope", accounts.KeyInput{Name: name("x")}, apierror.NotFound},
	} {
		_, err := w.s.UpdateKey(w.ctx, tc.p, tc.id, tc.in)
		wantCode(t, tc.name, err, tc.want)
	}
	if stored, _ := w.st.APIKey(w.ctx, w.org, bot.ID); stored.Name != bot.Name || !reflect.DeepEqual(stored.Permissions, linksRead) {
		t.Errorf("bot key after refusals %+v", stored)
	}
	if k, err := w.s.UpdateKey(w.ctx, w.admin, bot.ID, accounts.KeyInput{Permissions: &linksAll}); err != nil || !reflect.DeepEqual(k.Permissions, linksAll) {
		t.Errorf("admin updates a bot key: %+v %v", k, err)
	}
}

// Rotating gives a key a new secret, of its type; the old one stops
// working at once. It is a change: the same rules as UpdateKey.
func TestRotateKey(t *testing.T) {
	w := mustKeyWorld(t)
	memberKey, oldPlain := w.mustCreateKey(t, w.member, "user", linksRead)
	bot, oldBot := w.mustCreateKey(t, w.owner, "bot", linksAll)
	_, narrow := w.mustCreateKey(t, w.admin, "user", keysAll)

	plain, k, err := w.s.RotateKey(w.ctx, w.member, memberKey.ID)
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := apikey.Parse(plain); typ != apikey.User || plain == oldPlain || k.Prefix != apikey.Prefix(plain) {
		t.Errorf("rotated: %q %+v", plain, k)
	}
	if _, err := w.st.APIKeyByDigest(w.ctx, apikey.Digest(pepper, oldPlain)); !isNotFound(err) {
		t.Errorf("old secret after rotation: %v, want not found", err)
	}
	if got, err := w.st.APIKeyByDigest(w.ctx, apikey.Digest(pepper, plain)); err != nil || got.ID != memberKey.ID ||
		!reflect.DeepEqual(got.Permissions, linksRead) || got.Name != memberKey.Name {
		t.Errorf("new secret: %+v %v", got, err)
	}
	if a := w.lastAudit(t, w.org); a.Action != "apiKey.rotated" || a.ResourceID != memberKey.ID {
		t.Errorf("audit %+v", a)
	}

	for _, tc := range []struct {
		name string
		p    access.Principal
		id   string
	}{
		{"admin rotates a member's user key", w.admin, memberKey.ID},
		{"owner rotates a member's user key", w.owner, memberKey.ID},
		{"member rotates a bot key", w.member, bot.ID},
		{"narrow key rotates a bot key that holds more", w.mustKeyPrincipal(t, narrow), bot.ID},
		{"bot rotates a user key", w.mustKeyPrincipal(t, oldBot), memberKey.ID},
	} {
		_, _, err := w.s.RotateKey(w.ctx, tc.p, tc.id)
		wantCode(t, tc.name, err, apierror.Forbidden)
	}

	botPlain, _, err := w.s.RotateKey(w.ctx, w.admin, bot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := apikey.Parse(botPlain); typ != apikey.Bot {
		t.Errorf("rotated bot key %q", botPlain)
	}
	if _, err := w.st.APIKeyByDigest(w.ctx, apikey.Digest(pepper, oldBot)); !isNotFound(err) {
		t.Errorf("old bot secret after rotation: %v", err)
	}
}

// Anyone with apiKeys:delete may revoke a user key (offboarding), unless
// its person outranks them; a bot key never acts on a user key; nobody
// revokes a key that holds more than they do. A person always revokes
// their own user key.
func TestDeleteKey(t *testing.T) {
	w := mustKeyWorld(t)
	ownerKey, err := w.st.APIKeyByDigest(w.ctx, apikey.Digest(pepper, w.ownerKey))
	if err != nil {
		t.Fatal(err)
	}
	memberKey, _ := w.mustCreateKey(t, w.member, "user", linksRead)
	adminKey, _ := w.mustCreateKey(t, w.admin, "user", linksRead)
	strongBot, _ := w.mustCreateKey(t, w.owner, "bot", linksAll)
	weakBot, _ := w.mustCreateKey(t, w.owner, "bot", perms(map[access.Resource][]access.Action{access.ShortLinks: {access.Delete}}))
	_, deleter := w.mustCreateKey(t, w.owner, "bot", perms(map[access.Resource][]access.Action{
		access.APIKeys: {access.Delete}, access.ShortLinks: {access.Delete}}))
	botP := w.mustKeyPrincipal(t, deleter)

	for _, tc := range []struct {
		name string
		p    access.Principal
		id   string
		want apierror.Code
	}{
		{"admin revokes the owner's key", w.admin, ownerKey.ID, apierror.Forbidden},
		{"member revokes another's key", w.member, adminKey.ID, apierror.Forbidden},
		{"member revokes a bot key", w.member, weakBot.ID, apierror.Forbidden},
		{"bot revokes a user key", botP, memberKey.ID, apierror.Forbidden},
		{"bot revokes a bot key that holds more", botP, strongBot.ID, apierror.Forbidden},
		{"no such key", w.admin, "key_nope", apierror.NotFound},
		{"admin revokes a member's key", w.admin, memberKey.ID, ""},
		{"owner revokes an admin's key", w.owner, adminKey.ID, ""},
		{"bot revokes a bot key within it", botP, weakBot.ID, ""},
		{"owner revokes own key", w.owner, ownerKey.ID, ""},
	} {
		err := w.s.DeleteKey(w.ctx, tc.p, tc.id)
		wantCode(t, tc.name, err, tc.want)
		_, got := w.st.APIKey(w.ctx, w.org, tc.id)
		if gone := isNotFound(got); gone != (tc.want == "" || tc.want == apierror.NotFound) {
			t.Errorf("%s: key gone = %v", tc.name, gone)
		}
		if tc.want == "" {
			if a := w.lastAudit(t, w.org); a.Action != "apiKey.deleted" || a.ResourceID != tc.id {
				t.Errorf("%s: audit %+v", tc.name, a)
			}
		}
	}

	// A member revokes their own user key without apiKeys:delete.
	own, _ := w.mustCreateKey(t, w.member, "user", linksRead)
	if err := w.s.DeleteKey(w.ctx, w.member, own.ID); err != nil {
		t.Errorf("member revokes own key: %v", err)
	}
}
