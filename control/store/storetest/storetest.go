// Package storetest is the one test suite every control store engine must
// pass. Engines call Run from their own tests with a constructor for an empty
// store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Run runs the suite; open must return a new, empty store each call.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Orgs", func(t *testing.T) { testOrgs(t, open(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Members", func(t *testing.T) { testMembers(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("UserTokens", func(t *testing.T) { testUserTokens(t, open(t)) })
	t.Run("Invitations", func(t *testing.T) { testInvitations(t, open(t)) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, open(t)) })
	t.Run("Links", func(t *testing.T) { testLinks(t, open(t)) })
	t.Run("LinkFields", func(t *testing.T) { testLinkFields(t, open(t)) })
	t.Run("LinkLists", func(t *testing.T) { testLinkLists(t, open(t)) })
	t.Run("Tags", func(t *testing.T) { testTags(t, open(t)) })
	t.Run("TagPages", func(t *testing.T) { testTagPages(t, open(t)) })
	t.Run("Domains", func(t *testing.T) { testDomains(t, open(t)) })
	t.Run("Files", func(t *testing.T) { testFiles(t, open(t)) })
	t.Run("Blobs", func(t *testing.T) { testBlobs(t, open(t)) })
	t.Run("FileReferences", func(t *testing.T) { testFileReferences(t, open(t)) })
	t.Run("Webhooks", func(t *testing.T) { testWebhooks(t, open(t)) })
	t.Run("WebhookDispatch", func(t *testing.T) { testWebhookDispatch(t, open(t)) })
	t.Run("PlansUsageEvents", func(t *testing.T) { testPlansUsageEvents(t, open(t)) })
	t.Run("APIUsage", func(t *testing.T) { testAPIUsage(t, open(t)) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open(t)) })
	t.Run("Clicks", func(t *testing.T) { testClicks(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("WriteIsAtomic", func(t *testing.T) { testWriteIsAtomic(t, open(t)) })
	t.Run("ConcurrentDeleteDeletesOnce", func(t *testing.T) { testConcurrentDelete(t, open(t)) })
	t.Run("IdempotencyKeys", func(t *testing.T) { testIdempotencyKeys(t, open(t)) })
	t.Run("IdempotencyKeyClaimRace", func(t *testing.T) { testIdempotencyKeyClaimRace(t, open(t)) })
	t.Run("IdempotencyKeyPurge", func(t *testing.T) { testIdempotencyKeyPurge(t, open(t)) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

// seed creates org_1 with owner usr_1 and returns the store.
func seed(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Acme", CreatedAt: t0}))
	must(t, s.CreateUser(ctx, store.User{ID: "usr_1", Email: "owner@example.com", Name: "Owner", CreatedAt: t0}))
	must(t, s.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_1", Role: identity.RoleOwner, CreatedAt: t0}))
}

func testOrgs(t *testing.T, s store.Store) {
	ctx := context.Background()
	if has, err := s.HasOrgs(ctx); err != nil || has {
		t.Fatalf("empty store HasOrgs = %v, %v", has, err)
	}
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Acme", Plan: "pro", CreatedAt: t0}))
	if has, _ := s.HasOrgs(ctx); !has {
		t.Error("HasOrgs false after CreateOrg")
	}
	wantErr(t, "duplicate org", s.CreateOrg(ctx, store.Org{ID: "org_1", Name: "x", CreatedAt: t0}), store.ErrConflict)
	o, err := s.Org(ctx, "org_1")
	if err != nil || o.Name != "Acme" || o.Plan != "pro" || !o.CreatedAt.Equal(t0) {
		t.Errorf("Org = %+v, %v", o, err)
	}
	must(t, s.UpdateOrg(ctx, store.Org{ID: "org_1", Name: "Acme Inc", Plan: "business"}))
	if o, _ := s.Org(ctx, "org_1"); o.Name != "Acme Inc" || o.Plan != "business" || !o.CreatedAt.Equal(t0) {
		t.Errorf("after update: %+v", o)
	}
	_, err = s.Org(ctx, "org_x")
	wantErr(t, "missing org", err, store.ErrNotFound)
	wantErr(t, "update missing org", s.UpdateOrg(ctx, store.Org{ID: "org_x", Name: "x"}), store.ErrNotFound)
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := store.User{ID: "usr_1", Email: "a@example.com", Name: "A", CreatedAt: t0}
	must(t, s.CreateUser(ctx, u))
	wantErr(t, "same email", s.CreateUser(ctx, store.User{ID: "usr_2", Email: "a@example.com", CreatedAt: t0}), store.ErrConflict)
	if got, err := s.User(ctx, "usr_1"); err != nil || got != u {
		t.Errorf("User = %+v, %v", got, err)
	}
	if got, err := s.UserByEmail(ctx, "a@example.com"); err != nil || got.ID != "usr_1" {
		t.Errorf("UserByEmail = %+v, %v", got, err)
	}
	must(t, s.SetPassword(ctx, "usr_1", "$argon2id$test"))
	if got, _ := s.User(ctx, "usr_1"); got.PasswordHash != "$argon2id$test" {
		t.Errorf("password hash %q", got.PasswordHash)
	}
	_, err := s.UserByEmail(ctx, "b@example.com")
	wantErr(t, "unknown email", err, store.ErrNotFound)
	wantErr(t, "password of unknown user", s.SetPassword(ctx, "usr_x", "h"), store.ErrNotFound)

	if got, _ := s.User(ctx, "usr_1"); !got.EmailVerifiedAt.IsZero() {
		t.Errorf("new user verified at %v", got.EmailVerifiedAt)
	}
	must(t, s.SetEmailVerified(ctx, "usr_1", t0.Add(time.Minute)))
	if got, _ := s.UserByEmail(ctx, "a@example.com"); !got.EmailVerifiedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("verified at %v", got.EmailVerifiedAt)
	}
	wantErr(t, "verify unknown user", s.SetEmailVerified(ctx, "usr_x", t0), store.ErrNotFound)
	v := store.User{ID: "usr_3", Email: "c@example.com", CreatedAt: t0, EmailVerifiedAt: t0}
	must(t, s.CreateUser(ctx, v))
	if got, _ := s.User(ctx, "usr_3"); got != v {
		t.Errorf("verified user = %+v", got)
	}
}

func testMembers(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}))
	must(t, s.CreateUser(ctx, store.User{ID: "usr_2", Email: "member@example.com", Name: "Mem", CreatedAt: t0}))
	must(t, s.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_2", Role: identity.RoleMember, CreatedAt: t0.Add(time.Second)}))
	must(t, s.AddMember(ctx, store.Member{OrgID: "org_2", UserID: "usr_2", Role: identity.RoleOwner, CreatedAt: t0.Add(2 * time.Second)}))
	wantErr(t, "member twice", s.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_2", Role: identity.RoleAdmin, CreatedAt: t0}), store.ErrConflict)

	m, err := s.Member(ctx, "org_1", "usr_2")
	if err != nil || m.Role != identity.RoleMember || m.Email != "member@example.com" || m.Name != "Mem" {
		t.Errorf("Member = %+v, %v", m, err)
	}
	ms, err := s.Members(ctx, "org_1")
	if err != nil || len(ms) != 2 || ms[0].UserID != "usr_1" || ms[1].UserID != "usr_2" || ms[0].Email != "owner@example.com" {
		t.Errorf("Members = %+v, %v", ms, err)
	}
	mine, err := s.Memberships(ctx, "usr_2")
	if err != nil || len(mine) != 2 || mine[0].OrgID != "org_1" || mine[1].OrgID != "org_2" || mine[1].Role != identity.RoleOwner {
		t.Errorf("Memberships = %+v, %v", mine, err)
	}
	if n, _ := s.CountOwners(ctx, "org_1"); n != 1 {
		t.Errorf("owners %d, want 1", n)
	}
	must(t, s.SetRole(ctx, "org_1", "usr_2", identity.RoleOwner))
	if n, _ := s.CountOwners(ctx, "org_1"); n != 2 {
		t.Errorf("owners after promotion %d, want 2", n)
	}
	must(t, s.RemoveMember(ctx, "org_1", "usr_2"))
	_, err = s.Member(ctx, "org_1", "usr_2")
	wantErr(t, "removed member", err, store.ErrNotFound)
	wantErr(t, "remove twice", s.RemoveMember(ctx, "org_1", "usr_2"), store.ErrNotFound)
	wantErr(t, "role of non-member", s.SetRole(ctx, "org_1", "usr_2", identity.RoleAdmin), store.ErrNotFound)
	if _, err := s.Member(ctx, "org_2", "usr_2"); err != nil {
		t.Errorf("membership in the other org went too: %v", err)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	sess := store.Session{ID: "ses_1", UserID: "usr_1", Digest: []byte{1, 2}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateSession(ctx, sess))
	got, err := s.SessionByDigest(ctx, []byte{1, 2})
	if err != nil || got.ID != "ses_1" || got.UserID != "usr_1" || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("SessionByDigest = %+v, %v", got, err)
	}
	must(t, s.DeleteSession(ctx, "ses_1"))
	_, err = s.SessionByDigest(ctx, []byte{1, 2})
	wantErr(t, "deleted session", err, store.ErrNotFound)

	// DeleteSessions ends a user's sessions but one, and nobody else's.
	must(t, s.CreateUser(ctx, store.User{ID: "usr_2", Email: "b@example.com", CreatedAt: t0}))
	for i, uid := range []string{"usr_1", "usr_1", "usr_1", "usr_2"} {
		must(t, s.CreateSession(ctx, store.Session{ID: fmt.Sprintf("ses_%d", i+2), UserID: uid, Digest: []byte{byte(i + 2)},
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	must(t, s.DeleteSessions(ctx, "usr_1", "ses_3"))
	for i, want := range []bool{false, true, false, true} {
		_, err := s.SessionByDigest(ctx, []byte{byte(i + 2)})
		if (err == nil) != want {
			t.Errorf("session %d after DeleteSessions: %v, want kept %v", i+2, err, want)
		}
	}
	must(t, s.DeleteSessions(ctx, "usr_1", ""))
	_, err = s.SessionByDigest(ctx, []byte{3})
	wantErr(t, "every session ended", err, store.ErrNotFound)
}

func testUserTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	tok := store.UserToken{ID: "utk_1", UserID: "usr_1", Purpose: store.TokenResetPassword, Digest: []byte{5},
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateUserToken(ctx, tok))
	must(t, s.CreateUserToken(ctx, store.UserToken{ID: "utk_2", UserID: "usr_1", Purpose: store.TokenVerifyEmail,
		Digest: []byte{6}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	wantErr(t, "same digest", s.CreateUserToken(ctx, store.UserToken{ID: "utk_3", UserID: "usr_1",
		Purpose: store.TokenVerifyEmail, Digest: []byte{5}, CreatedAt: t0, ExpiresAt: t0}), store.ErrConflict)
	if got, err := s.UserTokenByDigest(ctx, []byte{5}); err != nil || !equalToken(got, tok) {
		t.Errorf("UserTokenByDigest = %+v, %v", got, err)
	}
	must(t, s.UseUserToken(ctx, "utk_1", t0.Add(time.Minute)))
	if got, _ := s.UserTokenByDigest(ctx, []byte{5}); !got.UsedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("used at %v", got.UsedAt)
	}
	wantErr(t, "a second use", s.UseUserToken(ctx, "utk_1", t0.Add(2*time.Minute)), store.ErrNotFound)
	wantErr(t, "unknown token use", s.UseUserToken(ctx, "utk_x", t0), store.ErrNotFound)
	must(t, s.CreateUserToken(ctx, store.UserToken{ID: "utk_4", UserID: "usr_1", Purpose: store.TokenResetPassword,
		Digest: []byte{8}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, s.UseUserTokens(ctx, "usr_1", store.TokenResetPassword, t0.Add(3*time.Minute)))
	if got, _ := s.UserTokenByDigest(ctx, []byte{8}); !got.UsedAt.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("retired at %v", got.UsedAt)
	}
	if got, _ := s.UserTokenByDigest(ctx, []byte{6}); !got.UsedAt.IsZero() {
		t.Errorf("a token of another purpose was used: %+v", got)
	}
	// Using again keeps the first use.
	must(t, s.UseUserTokens(ctx, "usr_1", store.TokenResetPassword, t0.Add(time.Hour)))
	if got, _ := s.UserTokenByDigest(ctx, []byte{5}); !got.UsedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("used at %v after a second use", got.UsedAt)
	}
	_, err := s.UserTokenByDigest(ctx, []byte{7})
	wantErr(t, "unknown token", err, store.ErrNotFound)

	// Counting by purpose and age; purging by expiry.
	must(t, s.CreateUserToken(ctx, store.UserToken{ID: "utk_5", UserID: "usr_1", Purpose: store.TokenResetPassword,
		Digest: []byte{10}, CreatedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(2 * time.Hour)}))
	for _, c := range []struct {
		purpose string
		since   time.Time
		want    int
	}{{store.TokenResetPassword, t0, 3}, {store.TokenResetPassword, t0.Add(time.Minute), 1}, {store.TokenVerifyEmail, t0, 1}} {
		if n, err := s.CountUserTokens(ctx, "usr_1", c.purpose, c.since); err != nil || n != c.want {
			t.Errorf("CountUserTokens(%s, %v) = %d, %v; want %d", c.purpose, c.since, n, err, c.want)
		}
	}
	must(t, s.PurgeUserTokens(ctx, t0.Add(90*time.Minute)))
	if _, err := s.UserTokenByDigest(ctx, []byte{5}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired token after purge: %v", err)
	}
	if _, err := s.UserTokenByDigest(ctx, []byte{10}); err != nil {
		t.Errorf("live token after purge: %v", err)
	}
}

func equalToken(a, b store.UserToken) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.Purpose == b.Purpose && string(a.Digest) == string(b.Digest) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.UsedAt.Equal(b.UsedAt)
}

func testInvitations(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	inv := store.Invitation{ID: "inv_1", OrgID: "org_1", Email: "new@example.com", Role: identity.RoleAdmin,
		Digest: []byte{9}, InvitedBy: "usr_1", CreatedAt: t0, ExpiresAt: t0.Add(7 * 24 * time.Hour)}
	must(t, s.CreateInvitation(ctx, inv))
	got, err := s.InvitationByDigest(ctx, []byte{9})
	if err != nil || got.ID != "inv_1" || got.Role != identity.RoleAdmin || !got.AcceptedAt.IsZero() || got.Email != "new@example.com" {
		t.Errorf("InvitationByDigest = %+v, %v", got, err)
	}
	must(t, s.MarkInvitationAccepted(ctx, "inv_1", t0.Add(time.Minute)))
	if got, _ := s.InvitationByDigest(ctx, []byte{9}); !got.AcceptedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("accepted at %v", got.AcceptedAt)
	}
	_, err = s.InvitationByDigest(ctx, []byte{8})
	wantErr(t, "unknown invitation", err, store.ErrNotFound)
}

func key(id, typ, user string, digest byte) store.APIKey {
	return store.APIKey{
		ID: id, OrgID: "org_1", Type: identity.KeyType(typ), UserID: user, Name: id, Prefix: "h0p_x_" + id,
		Digest: []byte{digest}, Permissions: identity.Permissions{"shortLinks": {"create", "read"}},
		CreatedBy: "usr_1", CreatedAt: t0,
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	must(t, s.CreateUser(ctx, store.User{ID: "usr_2", Email: "m@example.com", CreatedAt: t0}))
	must(t, s.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_2", Role: identity.RoleMember, CreatedAt: t0}))

	must(t, s.CreateAPIKey(ctx, key("key_u1", "user", "usr_1", 1)))
	wantErr(t, "second user key", s.CreateAPIKey(ctx, key("key_u1b", "user", "usr_1", 2)), store.ErrConflict)
	must(t, s.CreateAPIKey(ctx, key("key_u2", "user", "usr_2", 3)))
	bot := key("key_b1", "bot", "", 4)
	bot.CreatedAt = t0.Add(time.Second)
	bot.ExpiresAt = t0.Add(24 * time.Hour)
	must(t, s.CreateAPIKey(ctx, bot))
	b2 := key("key_b2", "bot", "", 5)
	b2.CreatedAt = t0.Add(2 * time.Second)
	must(t, s.CreateAPIKey(ctx, b2)) // bots: as many as wanted
	wantErr(t, "same digest", s.CreateAPIKey(ctx, key("key_dup", "bot", "", 4)), store.ErrConflict)

	got, err := s.APIKeyByDigest(ctx, []byte{4})
	if err != nil || got.ID != "key_b1" || got.UserID != "" || got.Type != identity.KeyBot ||
		!got.ExpiresAt.Equal(t0.Add(24*time.Hour)) || !got.LastUsedAt.IsZero() || len(got.Permissions["shortLinks"]) != 2 {
		t.Errorf("APIKeyByDigest = %+v, %v", got, err)
	}
	if got, err := s.APIKey(ctx, "org_1", "key_u2"); err != nil || got.UserID != "usr_2" {
		t.Errorf("APIKey = %+v, %v", got, err)
	}
	_, err = s.APIKey(ctx, "org_2", "key_u2")
	wantErr(t, "key of another org", err, store.ErrNotFound)
	keys, err := s.APIKeys(ctx, "org_1")
	if err != nil || len(keys) != 4 || keys[3].ID != "key_b2" {
		t.Errorf("APIKeys = %d keys, %v", len(keys), err)
	}

	// Rotate: new digest and prefix, same id.
	bot.Name, bot.Digest, bot.Prefix = "renamed", []byte{40}, "h0p_b_new"
	bot.Permissions = identity.Permissions{"stats": {"read"}}
	must(t, s.UpdateAPIKey(ctx, bot))
	if _, err := s.APIKeyByDigest(ctx, []byte{4}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old digest after rotation: %v", err)
	}
	if got, _ := s.APIKeyByDigest(ctx, []byte{40}); got.Name != "renamed" || got.Prefix != "h0p_b_new" || len(got.Permissions) != 1 {
		t.Errorf("after update: %+v", got)
	}

	// Touch writes once, then not again within minAge.
	must(t, s.TouchAPIKey(ctx, "key_b1", t0.Add(time.Hour), time.Minute))
	must(t, s.TouchAPIKey(ctx, "key_b1", t0.Add(time.Hour+30*time.Second), time.Minute))
	if got, _ := s.APIKey(ctx, "org_1", "key_b1"); !got.LastUsedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("lastUsedAt %v", got.LastUsedAt)
	}

	must(t, s.DeleteUserKeys(ctx, "org_1", "usr_2"))
	_, err = s.APIKey(ctx, "org_1", "key_u2")
	wantErr(t, "user key after DeleteUserKeys", err, store.ErrNotFound)
	if _, err := s.APIKey(ctx, "org_1", "key_b1"); err != nil {
		t.Errorf("bot key went with DeleteUserKeys: %v", err)
	}
	// With no org, a user's user keys go in every org.
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_3", Name: "Third", CreatedAt: t0}))
	must(t, s.AddMember(ctx, store.Member{OrgID: "org_3", UserID: "usr_1", Role: identity.RoleOwner, CreatedAt: t0}))
	u3 := key("key_u3", "user", "usr_1", 6)
	u3.OrgID = "org_3"
	must(t, s.CreateAPIKey(ctx, u3))
	must(t, s.DeleteUserKeys(ctx, "", "usr_1"))
	for _, k := range []struct{ org, id string }{{"org_1", "key_u1"}, {"org_3", "key_u3"}} {
		_, err = s.APIKey(ctx, k.org, k.id)
		wantErr(t, k.id+" after DeleteUserKeys in every org", err, store.ErrNotFound)
	}
	if _, err := s.APIKey(ctx, "org_1", "key_b1"); err != nil {
		t.Errorf("bot key went with DeleteUserKeys in every org: %v", err)
	}
	wantErr(t, "delete in another org", s.DeleteAPIKey(ctx, "org_2", "key_b1"), store.ErrNotFound)
	must(t, s.DeleteAPIKey(ctx, "org_1", "key_b1"))
	wantErr(t, "delete twice", s.DeleteAPIKey(ctx, "org_1", "key_b1"), store.ErrNotFound)
}

func link(id, key string) store.Link {
	return store.Link{ID: id, OrgID: "org_1", Domain: "h0p.link", Key: key, URL: "https://x.example/" + key,
		Version: 1, CreatedBy: "key_1", CreatedAt: t0, UpdatedAt: t0}
}

func testLinks(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	l := link("link_1", "abc")
	must(t, s.InsertLink(ctx, l))
	wantErr(t, "same domain+key", s.InsertLink(ctx, link("link_2", "abc")), store.ErrConflict)
	must(t, s.InsertLink(ctx, link("link_3", "ABC"))) // keys are case-sensitive
	if got, err := s.Link(ctx, "org_1", "link_1"); err != nil || fmt.Sprint(got) != fmt.Sprint(l) {
		t.Errorf("Link = %+v, %v", got, err)
	}
	_, err := s.Link(ctx, "org_other", "link_1")
	wantErr(t, "link of another org", err, store.ErrNotFound)
	must(t, s.Write(ctx, func(q store.Queries) error {
		got, err := q.LockLink(ctx, "org_1", "link_1")
		if err != nil || fmt.Sprint(got) != fmt.Sprint(l) {
			t.Errorf("LockLink = %+v, %v", got, err)
		}
		return q.DeleteLink(ctx, "org_1", "link_1")
	}))
	_, err = s.Link(ctx, "org_1", "link_1")
	wantErr(t, "deleted link", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteLink(ctx, "org_1", "link_1"), store.ErrNotFound)
	wantErr(t, "delete in another org", s.DeleteLink(ctx, "org_other", "link_3"), store.ErrNotFound)
}

func testClicks(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	l1 := link("link_1", "a")
	l1.Version = 4
	must(t, s.InsertLink(ctx, l1))
	must(t, s.InsertLink(ctx, link("link_2", "b")))
	got, err := s.LinksByID(ctx, []string{"link_2", "link_gone", "link_1"})
	if err != nil || len(got) != 2 {
		t.Fatalf("LinksByID = %d links, %v", len(got), err)
	}
	if orgs, err := s.LinkOrgs(ctx, []string{"link_2", "link_gone", "link_1"}); err != nil || fmt.Sprint(orgs) != "map[link_1:org_1 link_2:org_1]" {
		t.Fatalf("LinkOrgs = %v, %v", orgs, err)
	}
	added, err := s.AddLinksClicks(ctx, []store.ClickCount{
		{LinkID: "link_1", Clicks: 5, Last: t0.Add(time.Hour)}, {LinkID: "link_gone", Clicks: 1, Last: t0},
		{LinkID: "link_2", Clicks: 1, Last: t0}})
	if err != nil || len(added) != 2 {
		t.Fatalf("AddLinksClicks = %+v, %v; want link_1 and link_2", added, err)
	}
	for _, a := range added {
		if a.ID == "link_1" && (a.Clicks != 5 || a.Version != 4 || a.OrgID != "org_1") || a.ID == "link_2" && a.Clicks != 1 {
			t.Errorf("AddLinksClicks: %+v", a)
		}
	}
	// A later batch with an earlier click keeps the later lastClickedAt.
	if added, err := s.AddLinksClicks(ctx, []store.ClickCount{{LinkID: "link_1", Clicks: 2, Last: t0.Add(time.Minute)}}); err != nil || len(added) != 1 || added[0].Clicks != 7 {
		t.Fatalf("AddLinksClicks = %+v, %v", added, err)
	}
	// Many links at once, beyond one statement's worth.
	var many []store.ClickCount
	for i := range 1200 {
		id := fmt.Sprintf("link_m%04d", i)
		l := link(id, fmt.Sprintf("m%04d", i))
		must(t, s.InsertLink(ctx, l))
		many = append(many, store.ClickCount{LinkID: id, Clicks: int64(i + 1), Last: t0})
	}
	added, err = s.AddLinksClicks(ctx, many)
	if err != nil || len(added) != len(many) {
		t.Fatalf("AddLinksClicks of %d links = %d, %v", len(many), len(added), err)
	}
	for _, a := range added {
		var i int
		fmt.Sscanf(a.ID, "link_m%04d", &i)
		if a.Clicks != int64(i+1) {
			t.Fatalf("%s: %d clicks, want %d", a.ID, a.Clicks, i+1)
		}
	}
	l, err := s.Link(ctx, "org_1", "link_1")
	if err != nil || l.Clicks != 7 || !l.LastClickedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after clicks: %d %v %v", l.Clicks, l.LastClickedAt, err)
	}
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_x", OrgID: "org_1", Name: "x", CreatedAt: t0}))
	tagged := link("link_3", "c")
	tagged.TagIDs = []string{"tag_x"}
	must(t, s.InsertLink(ctx, tagged))
	if byKey, err := s.LinksByKeys(ctx, "org_1", []string{"a", "c", "zz"}); err != nil || len(byKey) != 2 {
		t.Errorf("LinksByKeys = %d links, %v", len(byKey), err)
	}
	if byKey, err := s.LinksByKeys(ctx, "org_other", []string{"a"}); err != nil || len(byKey) != 0 {
		t.Errorf("LinksByKeys of another org = %d links, %v", len(byKey), err)
	}
	if ids, err := s.LinkIDsByTags(ctx, "org_1", []string{"tag_x", "tag_none"}); err != nil || fmt.Sprint(ids) != "[link_3]" {
		t.Errorf("LinkIDsByTags = %v, %v", ids, err)
	}
	// Attribute values and tag names of the org's links only, by link.
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}))
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_a", OrgID: "org_1", Name: "a", CreatedAt: t0}))
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_o", OrgID: "org_2", Name: "o", CreatedAt: t0}))
	for _, l := range []struct{ id, org, attrs string }{
		{"link_u1", "org_1", `{"utm":{"source":"news","medium":"email"}}`},
		{"link_u2", "org_1", `{"description":"d","utm":{"source":"ads","campaign":"spring"}}`},
		{"link_u3", "org_1", `{"utm":{"source":""},"geo":{"US":"https://us.example"}}`},
		{"link_u4", "org_1", `{"description":"source"}`},
		{"link_u5", "org_2", `{"utm":{"source":"theirs"}}`},
	} {
		sl := link(l.id, l.id)
		sl.OrgID, sl.Attrs = l.org, json.RawMessage(l.attrs)
		if l.id == "link_u1" {
			sl.TagIDs = []string{"tag_a", "tag_x"}
		}
		if l.org == "org_2" {
			sl.TagIDs = []string{"tag_o"}
		}
		must(t, s.InsertLink(ctx, sl))
	}
	for _, tt := range []struct{ field, want string }{
		{"source", "[{link_u1 news} {link_u2 ads}]"},
		{"medium", "[{link_u1 email}]"},
		{"campaign", "[{link_u2 spring}]"},
		{"term", "[]"},
	} {
		if got, err := s.LinkUTMValues(ctx, "org_1", tt.field); err != nil || fmt.Sprint(got) != tt.want {
			t.Errorf("LinkUTMValues(%s) = %v, %v; want %s", tt.field, got, err, tt.want)
		}
	}
	if got, err := s.LinkUTMValues(ctx, "org_none", "source"); err != nil || len(got) != 0 {
		t.Errorf("LinkUTMValues of an org without links = %v, %v", got, err)
	}
	if got, err := s.LinkTagNames(ctx, "org_1"); err != nil || fmt.Sprint(got) != "[{link_3 x} {link_u1 a} {link_u1 x}]" {
		t.Errorf("LinkTagNames = %v, %v", got, err)
	}

	if c, err := s.ClickCheckpoint(ctx, "e1/x"); err != nil || c.Seq != 0 || c.Admission != nil {
		t.Fatalf("no checkpoint yet: %+v %v", c, err)
	}
	want := store.ClickCheckpoint{Edge: "e1/x", Seq: 41, Admission: []byte(`{"org_1":3}`), UpdatedAt: t0}
	must(t, s.SetClickCheckpoint(ctx, want))
	want.Seq, want.UpdatedAt = 42, t0.Add(time.Second)
	must(t, s.SetClickCheckpoint(ctx, want))
	if c, err := s.ClickCheckpoint(ctx, "e1/x"); err != nil || fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("ClickCheckpoint = %+v, %v; want %+v", c, err, want)
	}
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ids []int64
	for i, cmd := range []string{"a", "b", "c"} {
		id, err := s.AppendOutbox(ctx, []byte(cmd), t0.Add(time.Duration(i)*time.Minute))
		must(t, err)
		ids = append(ids, id)
	}
	pending, err := s.PendingOutbox(ctx, t0.Add(time.Minute), 10)
	if err != nil || len(pending) != 2 || string(pending[0].Command) != "a" || string(pending[1].Command) != "b" || pending[0].ID != ids[0] {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	must(t, s.DeleteOutbox(ctx, ids[0], ids[2]))
	must(t, s.DeleteOutbox(ctx)) // nothing to delete is fine
	pending, _ = s.PendingOutbox(ctx, t0.Add(time.Hour), 10)
	if len(pending) != 1 || string(pending[0].Command) != "b" {
		t.Fatalf("after delete, pending = %+v", pending)
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	for i := range 5 {
		e := store.AuditEntry{
			ID: fmt.Sprintf("aud_%02d", i), OrgID: "org_1", At: t0.Add(time.Duration(i) * time.Minute),
			ActorType: "user", ActorID: "usr_1", KeyID: "key_1", Action: "link.created",
			ResourceType: "link", ResourceID: fmt.Sprintf("link_%d", i%2), RequestID: "req_1", IP: "127.0.0.1",
			Diff: json.RawMessage(`{"after":{"url":"https://x.example"}}`),
		}
		if i == 4 {
			e.ActorType, e.ActorID, e.Action, e.Diff = "bot", "key_b", "link.deleted", nil
		}
		must(t, s.AppendAudit(ctx, e))
	}
	must(t, s.AppendAudit(ctx, store.AuditEntry{ID: "aud_99", OrgID: "org_other", At: t0, ActorType: "user",
		ActorID: "usr_9", Action: "x", ResourceType: "link", ResourceID: "link_0"}))
	// A bulk change appends its entries in one call (73 = 64 + 8 + 1 rows,
	// the engines' statement sizes); none is an append of nothing.
	must(t, s.AppendAudit(ctx))
	var bulk []store.AuditEntry
	for i := range 73 {
		bulk = append(bulk, store.AuditEntry{ID: fmt.Sprintf("aud_b%02d", i), OrgID: "org_bulk", At: t0, ActorType: "bot",
			ActorID: "key_b", Action: "link.created", ResourceType: "link", ResourceID: fmt.Sprintf("link_b%02d", i),
			Diff: json.RawMessage(fmt.Sprintf(`{"after":{"n":%d}}`, i))})
	}
	must(t, s.AppendAudit(ctx, bulk...))
	if got, err := s.AuditLogs(ctx, store.AuditFilter{OrgID: "org_bulk", Limit: 100}); err != nil || len(got) != 73 ||
		got[0].ID != "aud_b72" || string(got[72].Diff) != `{"after":{"n":0}}` {
		t.Errorf("bulk append: %d entries, %v", len(got), err)
	}

	ids := func(es []store.AuditEntry) (out []string) {
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	all, err := s.AuditLogs(ctx, store.AuditFilter{OrgID: "org_1", Limit: 10})
	if err != nil || fmt.Sprint(ids(all)) != "[aud_04 aud_03 aud_02 aud_01 aud_00]" {
		t.Fatalf("all = %v, %v", ids(all), err)
	}
	if string(all[1].Diff) != `{"after":{"url":"https://x.example"}}` || all[1].IP != "127.0.0.1" || all[1].KeyID != "key_1" ||
		!all[1].At.Equal(t0.Add(3*time.Minute)) || all[0].ActorType != "bot" || len(all[0].Diff) != 0 && string(all[0].Diff) != "null" {
		t.Errorf("entries = %+v", all[:2])
	}
	for name, tc := range map[string]struct {
		f    store.AuditFilter
		want string
	}{
		"page":     {store.AuditFilter{OrgID: "org_1", Limit: 2}, "[aud_04 aud_03]"},
		"cursor":   {store.AuditFilter{OrgID: "org_1", Before: "aud_03", Limit: 2}, "[aud_02 aud_01]"},
		"actor":    {store.AuditFilter{OrgID: "org_1", ActorID: "key_b", Limit: 10}, "[aud_04]"},
		"resource": {store.AuditFilter{OrgID: "org_1", ResourceType: "link", ResourceID: "link_1", Limit: 10}, "[aud_03 aud_01]"},
		"time":     {store.AuditFilter{OrgID: "org_1", From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute), Limit: 10}, "[aud_02 aud_01]"},
	} {
		got, err := s.AuditLogs(ctx, tc.f)
		if err != nil || fmt.Sprint(ids(got)) != tc.want {
			t.Errorf("%s: %v, %v; want %s", name, ids(got), err, tc.want)
		}
	}
}

func testWriteIsAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	boom := errors.New("boom")
	err := s.Write(ctx, func(q store.Queries) error {
		must(t, q.InsertLink(ctx, link("link_1", "a")))
		if _, err := q.AppendOutbox(ctx, []byte("put a"), t0); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Write", err, boom)
	if _, err := s.Link(ctx, "org_1", "link_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back link exists: %v", err)
	}
	if p, _ := s.PendingOutbox(ctx, t0.Add(time.Hour), 10); len(p) != 0 {
		t.Errorf("rolled-back outbox entry exists: %v", p)
	}
	// A conflict inside Write rolls back what came before it.
	must(t, s.InsertLink(ctx, link("link_2", "b")))
	err = s.Write(ctx, func(q store.Queries) error {
		if _, err := q.AppendOutbox(ctx, []byte("x"), t0); err != nil {
			return err
		}
		return q.InsertLink(ctx, link("link_3", "b"))
	})
	wantErr(t, "conflict in Write", err, store.ErrConflict)
	if p, _ := s.PendingOutbox(ctx, t0.Add(time.Hour), 10); len(p) != 0 {
		t.Errorf("outbox entry of a failed Write exists: %v", p)
	}
}

// Two transactions deleting the same link: exactly one wins, the other sees
// ErrNotFound, and exactly one outbox entry is written.
func testConcurrentDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	must(t, s.InsertLink(ctx, link("link_1", "a")))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Write(ctx, func(q store.Queries) error {
				if _, err := q.LockLink(ctx, "org_1", "link_1"); err != nil {
					return err
				}
				if _, err := q.AppendOutbox(ctx, []byte("delete"), t0); err != nil {
					return err
				}
				return q.DeleteLink(ctx, "org_1", "link_1")
			})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("loser: %v, want ErrNotFound", err)
		}
	}
	if p, _ := s.PendingOutbox(ctx, t0.Add(time.Hour), 10); ok != 1 || len(p) != 1 {
		t.Errorf("%d deletes won, %d outbox entries; want 1 and 1", ok, len(p))
	}
}

func testLinkFields(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_a", OrgID: "org_1", Name: "a", CreatedAt: t0}))
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_b", OrgID: "org_1", Name: "b", CreatedAt: t0}))
	l := store.Link{
		ID: "link_1", OrgID: "org_1", Domain: "h0p.link", Key: "full", URL: "https://x.example/full", Version: 1,
		Title: "Full", ExternalID: "ext-1", PasswordHash: "$argon2id$x", ExpiresAt: t0.Add(time.Hour),
		ValidSince: t0.Add(-time.Hour), Archived: true, Disabled: true, Attrs: json.RawMessage(`{"utm":{"source":"a"}}`),
		TagIDs: []string{"tag_a", "tag_b"}, Clicks: 7, LastClickedAt: t0.Add(time.Minute),
		CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
	}
	must(t, s.InsertLink(ctx, l))
	got, err := s.Link(ctx, "org_1", "link_1")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(l) {
		t.Errorf("round trip:\n got %+v, %v\nwant %+v", got, err, l)
	}
	other := link("link_2", "other")
	other.ExternalID = "ext-1"
	wantErr(t, "same externalId", s.InsertLink(ctx, other), store.ErrConflict)
	other.ExternalID = ""
	must(t, s.InsertLink(ctx, other))
	// Two links without an externalId do not clash.
	must(t, s.InsertLink(ctx, link("link_3", "third")))

	for name, f := range map[string]func() (store.Link, error){
		"by key":        func() (store.Link, error) { return s.LinkByKey(ctx, "org_1", "h0p.link", "full") },
		"by externalId": func() (store.Link, error) { return s.LinkByExternalID(ctx, "org_1", "ext-1") },
		"by url":        func() (store.Link, error) { return s.LinkByURL(ctx, "org_1", "h0p.link", "https://x.example/full") },
	} {
		if got, err := f(); err != nil || got.ID != "link_1" || len(got.TagIDs) != 2 {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
	_, err = s.LinkByKey(ctx, "org_2", "h0p.link", "full")
	wantErr(t, "by key in another org", err, store.ErrNotFound)

	// Update replaces everything, tags included; slug changes are allowed.
	l.Key, l.Title, l.Version, l.TagIDs, l.Archived, l.Attrs = "renamed", "New", 2, []string{"tag_b"}, false, nil
	l.ExpiresAt = time.Time{}
	must(t, s.UpdateLink(ctx, l))
	got, _ = s.Link(ctx, "org_1", "link_1")
	if got.Key != "renamed" || got.Title != "New" || got.Version != 2 || fmt.Sprint(got.TagIDs) != "[tag_b]" ||
		got.Archived || !got.ExpiresAt.IsZero() || len(got.Attrs) != 0 && string(got.Attrs) != "null" {
		t.Errorf("after update: %+v", got)
	}
	if _, err := s.LinkByKey(ctx, "org_1", "h0p.link", "full"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old key after rename: %v", err)
	}
	l.Key = "other"
	wantErr(t, "rename onto a taken key", s.UpdateLink(ctx, l), store.ErrConflict)
	l.Key, l.OrgID = "renamed", "org_2"
	wantErr(t, "update in another org", s.UpdateLink(ctx, l), store.ErrNotFound)
}

func testLinkLists(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_x", OrgID: "org_1", Name: "x", CreatedAt: t0}))
	yes := true
	for i := range 10 {
		l := link(fmt.Sprintf("link_%02d", i), fmt.Sprintf("k%02d", i))
		l.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		l.Clicks = int64(i % 3)
		if i%2 == 0 {
			l.TagIDs = []string{"tag_x"}
		}
		if i == 7 {
			l.Title, l.Domain, l.Archived, l.CreatedBy = "Needle in title", "go.example", true, "key_bot"
		}
		if i >= 5 {
			l.LastClickedAt = t0.Add(time.Duration(i) * time.Hour)
		}
		must(t, s.InsertLink(ctx, l))
	}
	ids := func(ls []store.Link) string {
		var out []string
		for _, l := range ls {
			out = append(out, l.ID[5:])
		}
		return strings.Join(out, ",")
	}
	list := func(f store.LinkFilter) string {
		t.Helper()
		f.OrgID = "org_1"
		if f.Limit == 0 {
			f.Limit = 100
		}
		ls, err := s.Links(ctx, f)
		must(t, err)
		return ids(ls)
	}
	for name, tc := range map[string]struct {
		f    store.LinkFilter
		want string
	}{
		"newest first":  {store.LinkFilter{Limit: 3}, "09,08,07"},
		"oldest first":  {store.LinkFilter{Asc: true, Limit: 3}, "00,01,02"},
		"page 2":        {store.LinkFilter{Limit: 3, After: &store.LinkCursor{Value: t0.Add(7 * time.Minute).UnixMilli(), ID: "link_07"}}, "06,05,04"},
		"clicks":        {store.LinkFilter{Sort: store.SortClicks, Limit: 4}, "08,05,02,07"},
		"clicks page":   {store.LinkFilter{Sort: store.SortClicks, Limit: 3, After: &store.LinkCursor{Value: 1, ID: "link_07"}}, "04,01,09"},
		"last clicked":  {store.LinkFilter{Sort: store.SortLastClickedAt, Limit: 3}, "09,08,07"},
		"tag":           {store.LinkFilter{TagID: "tag_x"}, "08,06,04,02,00"},
		"domain":        {store.LinkFilter{Domain: "go.example"}, "07"},
		"search title":  {store.LinkFilter{Search: "NEEDLE"}, "07"},
		"search key":    {store.LinkFilter{Search: "k0"}, "09,08,07,06,05,04,03,02,01,00"},
		"search escape": {store.LinkFilter{Search: "%"}, ""},
		"created by":    {store.LinkFilter{CreatedBy: "key_bot"}, "07"},
		"archived":      {store.LinkFilter{Archived: &yes}, "07"},
	} {
		if got := list(tc.f); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
	// A link never clicked sorts as clicked at time zero (cursor Value 0):
	// last when newest first, first when oldest first.
	if got := list(store.LinkFilter{Sort: store.SortLastClickedAt, Asc: true, Limit: 3}); got != "00,01,02" {
		t.Errorf("last clicked asc: %s", got)
	}
	if got := list(store.LinkFilter{Sort: store.SortLastClickedAt, Limit: 3, After: &store.LinkCursor{Value: t0.Add(5 * time.Hour).UnixMilli(), ID: "link_05"}}); got != "04,03,02" {
		t.Errorf("last clicked, past the clicked ones: %s", got)
	}
	count := func(group string) string {
		t.Helper()
		cs, err := s.CountLinks(ctx, store.LinkFilter{OrgID: "org_1"}, group)
		must(t, err)
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s=%d", c.Group, c.Count))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	if got := count(""); got != "=10" {
		t.Errorf("count: %s", got)
	}
	if got := count("domain"); got != "go.example=1 h0p.link=9" {
		t.Errorf("count by domain: %s", got)
	}
	if got := count("tag"); got != "tag_x=5" {
		t.Errorf("count by tag: %s", got)
	}
}

func testTags(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_1", OrgID: "org_1", Name: "Launch", Color: "blue", CreatedAt: t0}))
	wantErr(t, "same name other case", s.CreateTag(ctx, store.Tag{ID: "tag_2", OrgID: "org_1", Name: "LAUNCH", CreatedAt: t0}), store.ErrConflict)
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_3", OrgID: "org_1", Name: "alpha", CreatedAt: t0}))
	if got, err := s.TagByName(ctx, "org_1", "launch"); err != nil || got.ID != "tag_1" || got.Color != "blue" {
		t.Errorf("TagByName = %+v, %v", got, err)
	}
	tags, err := s.Tags(ctx, "org_1")
	if err != nil || len(tags) != 2 || tags[0].Name != "alpha" {
		t.Errorf("Tags = %+v, %v", tags, err)
	}
	must(t, s.UpdateTag(ctx, store.Tag{ID: "tag_3", OrgID: "org_1", Name: "Beta", Color: "red"}))
	if got, _ := s.Tag(ctx, "org_1", "tag_3"); got.Name != "Beta" || got.Color != "red" || !got.CreatedAt.Equal(t0) {
		t.Errorf("after update %+v", got)
	}
	wantErr(t, "rename onto a taken name", s.UpdateTag(ctx, store.Tag{ID: "tag_3", OrgID: "org_1", Name: "launch"}), store.ErrConflict)
	l := link("link_1", "a")
	l.TagIDs = []string{"tag_1", "tag_3"}
	must(t, s.InsertLink(ctx, l))
	must(t, s.DeleteTag(ctx, "org_1", "tag_1"))
	if got, _ := s.Link(ctx, "org_1", "link_1"); fmt.Sprint(got.TagIDs) != "[tag_3]" {
		t.Errorf("tags after DeleteTag: %v", got.TagIDs)
	}
	wantErr(t, "delete twice", s.DeleteTag(ctx, "org_1", "tag_1"), store.ErrNotFound)
	_, err = s.Tag(ctx, "org_2", "tag_3")
	wantErr(t, "tag of another org", err, store.ErrNotFound)
}

// testTagPages: TagPage walks Tags' order (lowercased names byte-wise, so
// "Äpfel" after "zebra"), a page at a time, from any position, one org
// only.
func testTagPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}))
	names := []string{"zebra", "Äpfel", "apple", "Beta", "alpha", "b", "BA", "_x", "10", "9", "Zulu", "äb"}
	for i, n := range names {
		must(t, s.CreateTag(ctx, store.Tag{ID: fmt.Sprintf("tag_%02d", i), OrgID: "org_1", Name: n, CreatedAt: t0}))
	}
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_other", OrgID: "org_2", Name: "apricot", CreatedAt: t0}))
	want := "10 9 _x alpha apple b BA Beta zebra Zulu äb Äpfel"
	all, err := s.Tags(ctx, "org_1")
	if got := tagNames(all); err != nil || got != want {
		t.Errorf("Tags = %s, %v; want %s", got, err, want)
	}
	for _, limit := range []int{1, 5, 12, 100} {
		var got []store.Tag
		f := store.TagFilter{OrgID: "org_1", Limit: limit}
		for range 20 {
			page, err := s.TagPage(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			last := page[len(page)-1]
			f.After = &store.TagCursor{Name: last.Name, ID: last.ID}
		}
		if tagNames(got) != want {
			t.Errorf("limit %d: pages give %s, want %s", limit, tagNames(got), want)
		}
	}
	// A position holds when its tag is gone, and names compare in any case.
	for after, next := range map[store.TagCursor]string{
		{Name: "BETA", ID: "tag_03"}:  "zebra Zulu",
		{Name: "bb", ID: "tag_zz"}:    "Beta zebra",
		{Name: "ÄPFEL", ID: "tag_01"}: "",
		{Name: "", ID: ""}:            "10 9",
	} {
		page, err := s.TagPage(ctx, store.TagFilter{OrgID: "org_1", After: &after, Limit: 2})
		if got := tagNames(page); err != nil || got != next {
			t.Errorf("after %+v: %s, %v; want %s", after, got, err, next)
		}
	}
	must(t, s.DeleteTag(ctx, "org_1", "tag_03"))
	page, err := s.TagPage(ctx, store.TagFilter{OrgID: "org_1", After: &store.TagCursor{Name: "Beta", ID: "tag_03"}, Limit: 1})
	if got := tagNames(page); err != nil || got != "zebra" {
		t.Errorf("after a deleted tag: %s, %v", got, err)
	}
}

func tagNames(tags []store.Tag) string {
	var names []string
	for _, t := range tags {
		names = append(names, t.Name)
	}
	return strings.Join(names, " ")
}

func testPlansUsageEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	if n, err := s.AddUsage(ctx, "org_1", "2026-11", "linksCreated", 3); err != nil || n != 3 {
		t.Fatalf("AddUsage = %d, %v", n, err)
	}
	if n, _ := s.AddUsage(ctx, "org_1", "2026-11", "linksCreated", 2); n != 5 {
		t.Errorf("AddUsage again = %d", n)
	}
	s.AddUsage(ctx, "org_1", "2026-12", "linksCreated", 1)
	u, err := s.Usage(ctx, "org_1", "2026-11")
	if err != nil || u["linksCreated"] != 5 || len(u) != 1 {
		t.Errorf("Usage = %v, %v", u, err)
	}
	must(t, s.AppendEvent(ctx, store.Event{ID: "evt_1", OrgID: "org_1", Type: "link.created", ResourceID: "link_1",
		Payload: json.RawMessage(`{"id":"link_1"}`), CreatedAt: t0}))
	wantErr(t, "same event id", s.AppendEvent(ctx, store.Event{ID: "evt_1", OrgID: "org_1", Type: "x", CreatedAt: t0}), store.ErrConflict)
	var evs []store.Event
	for i := range 73 {
		evs = append(evs, store.Event{ID: fmt.Sprintf("evt_b%02d", i), OrgID: "org_1", Type: "link.created", CreatedAt: t0})
	}
	must(t, s.AppendEvent(ctx, evs...))
	wantErr(t, "a bulk with a taken event id", s.AppendEvent(ctx, store.Event{ID: "evt_new", OrgID: "org_1", Type: "x", CreatedAt: t0},
		store.Event{ID: "evt_b05", OrgID: "org_1", Type: "x", CreatedAt: t0}), store.ErrConflict)
}

// API usage adds up across calls (two flushes, or two control nodes) and
// sums by each grouping, within the days and the caller asked for.
func testAPIUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	row := func(kind, id, day, route, status string, n, limited int64, last time.Time) store.APIUsage {
		return store.APIUsage{OrgID: "org_1", PrincipalKind: kind, PrincipalID: id, Day: day, Route: route, Status: status,
			Requests: n, RateLimited: limited, LastUsedAt: last}
	}
	must(t, s.AddAPIUsage(ctx, nil))
	must(t, s.AddAPIUsage(ctx, []store.APIUsage{
		row("key", "key_1", "2026-11-24", "POST /v1/links", "2xx", 10, 0, t0.Add(-24*time.Hour)),
		row("key", "key_1", "2026-11-25", "POST /v1/links", "4xx", 3, 2, t0),
		row("user", "usr_1", "2026-11-25", "GET /v1/links", "2xx", 4, 0, t0.Add(-time.Hour)),
		row("key", "key_2", "2026-11-25", "* unmatched", "4xx", 1, 0, t0.Add(-2*time.Hour)),
		{OrgID: "org_2", PrincipalKind: "key", PrincipalID: "key_9", Day: "2026-11-25", Route: "GET /v1/links", Status: "2xx", Requests: 99, LastUsedAt: t0},
	}))
	// A second flush adds to the first; an earlier last use moves nothing.
	must(t, s.AddAPIUsage(ctx, []store.APIUsage{
		row("key", "key_1", "2026-11-25", "POST /v1/links", "4xx", 2, 1, t0.Add(-time.Minute)),
		row("key", "key_1", "2026-11-25", "POST /v1/links", "5xx", 1, 0, t0.Add(-time.Minute)),
	}))
	all := store.APIUsageFilter{OrgID: "org_1", From: "2026-11-01", To: "2026-11-30"}
	sum := func(a, b, c, d int64, last time.Time) store.APIUsageSum {
		return store.APIUsageSum{Requests: a, Errors: b, RateLimited: c, LastUsedAt: last}
	}
	grouped := func(kind, group string, s store.APIUsageSum) store.APIUsageSum {
		s.Kind, s.Group = kind, group
		return s
	}
	key1 := all
	key1.PrincipalKind, key1.PrincipalID = "key", "key_1"
	today := all
	today.From = "2026-11-25"
	for _, tt := range []struct {
		name    string
		f       store.APIUsageFilter
		groupBy string
		want    []store.APIUsageSum
	}{
		{"total", all, store.UsageTotal, []store.APIUsageSum{sum(21, 7, 3, 0, t0)}},
		{"nothing counted", store.APIUsageFilter{OrgID: "org_3", From: "2026-11-01", To: "2026-11-30"}, store.UsageTotal,
			[]store.APIUsageSum{{}}},
		{"by caller", all, store.UsageByCaller, []store.APIUsageSum{
			grouped("key", "key_1", sum(16, 6, 3, 0, t0)),
			grouped("key", "key_2", sum(1, 1, 0, 0, t0.Add(-2*time.Hour))),
			grouped("user", "usr_1", sum(4, 0, 0, 0, t0.Add(-time.Hour))),
		}},
		{"by day, one key", key1, store.UsageByDay, []store.APIUsageSum{
			grouped("", "2026-11-24", sum(10, 0, 0, 0, t0.Add(-24*time.Hour))),
			grouped("", "2026-11-25", sum(6, 6, 3, 0, t0)),
		}},
		{"by route, today", today, store.UsageByRoute, []store.APIUsageSum{
			grouped("", "* unmatched", sum(1, 1, 0, 0, t0.Add(-2*time.Hour))),
			grouped("", "GET /v1/links", sum(4, 0, 0, 0, t0.Add(-time.Hour))),
			grouped("", "POST /v1/links", sum(6, 6, 3, 0, t0)),
		}},
		{"by status", all, store.UsageByStatus, []store.APIUsageSum{
			grouped("", "2xx", sum(14, 0, 0, 0, t0.Add(-time.Hour))),
			grouped("", "4xx", sum(6, 6, 3, 0, t0)),
			grouped("", "5xx", sum(1, 1, 0, 0, t0.Add(-time.Minute))),
		}},
	} {
		got, err := s.SumAPIUsage(ctx, tt.f, tt.groupBy)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.name, got, tt.want)
		}
	}
	if _, err := s.SumAPIUsage(ctx, all, "org"); err == nil {
		t.Error("an unknown grouping was accepted")
	}
}

// idemKey is a claim of key in scope by owner at t0+age.
func idemKey(scope, key, owner string, age time.Duration) store.IdempotencyKey {
	return store.IdempotencyKey{Scope: scope, Key: key, Fingerprint: []byte("fp-" + owner), Owner: owner, CreatedAt: t0.Add(age)}
}

func testIdempotencyKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	never := t0.Add(-time.Hour) // nothing has expired
	claim := func(k store.IdempotencyKey, expiredBefore time.Time) (store.IdempotencyKey, bool) {
		t.Helper()
		held, ok, err := s.ClaimIdempotencyKey(ctx, k, expiredBefore)
		must(t, err)
		return held, ok
	}

	a := idemKey("org_1/usr_1", "k1", "req_a", 0)
	if _, ok := claim(a, never); !ok {
		t.Fatal("first claim lost")
	}
	// Held while it runs: the holder comes back, without an answer.
	held, ok := claim(idemKey("org_1/usr_1", "k1", "req_b", time.Second), never)
	if ok || held.Owner != "req_a" || string(held.Fingerprint) != "fp-req_a" || !held.CreatedAt.Equal(t0) ||
		held.Status != 0 || held.Header != nil || held.Body != nil {
		t.Fatalf("second claim: %v, held %+v", ok, held)
	}
	// Keys are per scope.
	if _, ok := claim(idemKey("org_1/key_b", "k1", "req_c", 0), never); !ok {
		t.Error("the same key in another scope was refused")
	}

	// Only the owner finishes or releases.
	done := a
	done.Status, done.Header, done.Body = 201, json.RawMessage(`{"Content-Type":"application/json"}`), []byte{0, 1, 2, 0xff}
	wrong := done
	wrong.Owner = "req_b"
	wantErr(t, "finish by another", s.FinishIdempotencyKey(ctx, wrong), store.ErrNotFound)
	wantErr(t, "release by another", s.ReleaseIdempotencyKey(ctx, wrong), store.ErrNotFound)
	must(t, s.FinishIdempotencyKey(ctx, done))
	held, ok = claim(idemKey("org_1/usr_1", "k1", "req_d", time.Minute), never)
	if ok || held.Status != 201 || string(held.Header) != `{"Content-Type":"application/json"}` ||
		string(held.Body) != "\x00\x01\x02\xff" || held.Owner != "req_a" {
		t.Fatalf("finished key: %v, held %+v", ok, held)
	}

	// A released key can be claimed again.
	c := idemKey("org_1/key_b", "k1", "req_c", 0)
	must(t, s.ReleaseIdempotencyKey(ctx, c))
	wantErr(t, "release twice", s.ReleaseIdempotencyKey(ctx, c), store.ErrNotFound)
	if _, ok := claim(idemKey("org_1/key_b", "k1", "req_e", time.Minute), never); !ok {
		t.Error("a released key was refused")
	}

	// An entry created at or before expiredBefore is absent: a claim takes
	// it over, answer and all, and the old owner can no longer finish it.
	late := idemKey("org_1/usr_1", "k1", "req_f", 24*time.Hour)
	if _, ok := claim(late, t0); !ok {
		t.Fatal("claim over an expired entry lost")
	}
	held, ok = claim(idemKey("org_1/usr_1", "k1", "req_g", 24*time.Hour), t0)
	if ok || held.Owner != "req_f" || held.Status != 0 || held.Body != nil || !held.CreatedAt.Equal(late.CreatedAt) {
		t.Fatalf("after the takeover: %v, held %+v", ok, held)
	}
	wantErr(t, "finish by the expired owner", s.FinishIdempotencyKey(ctx, done), store.ErrNotFound)
}

func testIdempotencyKeyClaimRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	held := make([]store.IdempotencyKey, n)
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			held[i], won[i], errs[i] = s.ClaimIdempotencyKey(ctx, idemKey("org_1/usr_1", "race", fmt.Sprintf("req_%d", i), 0), t0.Add(-time.Hour))
		})
	}
	wg.Wait()
	winner := ""
	for i := range n {
		must(t, errs[i])
		if won[i] {
			if winner != "" {
				t.Fatalf("claims %s and req_%d both won", winner, i)
			}
			winner = fmt.Sprintf("req_%d", i)
		}
	}
	if winner == "" {
		t.Fatal("no claim won")
	}
	for i := range n {
		if !won[i] && held[i].Owner != winner {
			t.Errorf("loser req_%d sees holder %q, want %s", i, held[i].Owner, winner)
		}
	}
}

func testIdempotencyKeyPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 5 {
		_, _, err := s.ClaimIdempotencyKey(ctx, idemKey("org_1/usr_1", fmt.Sprintf("k%d", i), "req", time.Duration(i)*time.Hour), t0.Add(-time.Hour))
		must(t, err)
	}
	// Entries at or before 3h: k0..k3, two at a time, oldest first.
	for _, want := range []int{2, 2, 0} {
		n, err := s.PurgeIdempotencyKeys(ctx, t0.Add(3*time.Hour), 2)
		if err != nil || n != want {
			t.Fatalf("purge: %d, %v; want %d", n, err, want)
		}
	}
	for i := range 5 {
		_, ok, err := s.ClaimIdempotencyKey(ctx, idemKey("org_1/usr_1", fmt.Sprintf("k%d", i), "req_new", 5*time.Hour), t0.Add(-time.Hour))
		must(t, err)
		if ok != (i <= 3) {
			t.Errorf("k%d after purge: claimed %v", i, ok)
		}
	}
}

func testDomains(t *testing.T, s store.Store) {
	seed(t, s)
	ctx := context.Background()
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}))
	d := store.Domain{ID: "dom_1", OrgID: "org_1", Name: "go.example.com", Token: "tok", Status: store.DomainPending,
		Version: 1, Attrs: json.RawMessage(`{"rootUrl":"https://example.com/"}`), CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateDomain(ctx, d))
	must(t, s.CreateDomain(ctx, store.Domain{ID: "dom_2", OrgID: "org_1", Name: "b.example.com", Token: "t2",
		Status: store.DomainPending, Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0,
		CheckedAt: t0.Add(time.Hour)}))
	dup := d
	dup.ID, dup.OrgID = "dom_3", "org_2"
	wantErr(t, "same name in another org", s.CreateDomain(ctx, dup), store.ErrConflict)
	got, err := s.Domain(ctx, "org_1", "dom_1")
	must(t, err)
	if got.Name != d.Name || got.Token != "tok" || string(got.Attrs) != string(d.Attrs) || !got.CheckedAt.IsZero() ||
		!got.VerifiedAt.IsZero() || got.Version != 1 || !got.CreatedAt.Equal(t0) {
		t.Errorf("domain %+v", got)
	}
	_, err = s.Domain(ctx, "org_2", "dom_1")
	wantErr(t, "another org's domain", err, store.ErrNotFound)
	if got, err := s.DomainByName(ctx, "go.example.com"); err != nil || got.ID != "dom_1" {
		t.Errorf("by name: %+v %v", got, err)
	}
	page, err := s.Domains(ctx, store.DomainFilter{OrgID: "org_1", Limit: 1})
	must(t, err)
	if len(page) != 1 || page[0].ID != "dom_1" {
		t.Fatalf("first page %+v", page)
	}
	page, err = s.Domains(ctx, store.DomainFilter{OrgID: "org_1", AfterID: "dom_1", Limit: 10})
	must(t, err)
	if len(page) != 1 || page[0].ID != "dom_2" {
		t.Errorf("second page %+v", page)
	}
	if n, err := s.CountDomains(ctx, "org_1"); err != nil || n != 2 {
		t.Errorf("count %d %v", n, err)
	}
	due, err := s.DomainsCheckedBefore(ctx, t0.Add(time.Minute), 10)
	must(t, err)
	if len(due) != 1 || due[0].ID != "dom_1" {
		t.Errorf("due %+v", due)
	}
	got.Status, got.Primary, got.Version = store.DomainVerified, true, 2
	got.VerifiedAt, got.LastOKAt, got.CheckedAt, got.UpdatedAt = t0, t0, t0, t0.Add(time.Second)
	got.Records = json.RawMessage(`{"txt":["tok"]}`)
	must(t, s.UpdateDomain(ctx, got))
	again, err := s.Domain(ctx, "org_1", "dom_1")
	must(t, err)
	if again.Status != store.DomainVerified || !again.Primary || again.Version != 2 || !again.LastOKAt.Equal(t0) ||
		string(again.Records) != `{"txt":["tok"]}` {
		t.Errorf("updated %+v", again)
	}
	wantErr(t, "delete in another org", s.DeleteDomain(ctx, "org_2", "dom_1"), store.ErrNotFound)
	must(t, s.DeleteDomain(ctx, "org_1", "dom_1"))
	_, err = s.DomainByName(ctx, "go.example.com")
	wantErr(t, "deleted", err, store.ErrNotFound)
}

func testWebhooks(t *testing.T, s store.Store) {
	seed(t, s)
	ctx := context.Background()
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}))
	w := store.Webhook{ID: "wh_1", OrgID: "org_1", URL: "https://hooks.example.com/in", Description: "CRM",
		Events: json.RawMessage(`["link.created"]`), Secret: []byte{1, 2, 3}, Version: 1, CreatedBy: "usr_1",
		CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateWebhook(ctx, w))
	wantErr(t, "same id", s.CreateWebhook(ctx, w), store.ErrConflict)
	must(t, s.CreateWebhook(ctx, store.Webhook{ID: "wh_2", OrgID: "org_1", URL: "https://b.example.com/", Events: json.RawMessage(`[]`),
		Scope: json.RawMessage(`{"allLinks":true}`), Secret: []byte{9}, Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}))
	got, err := s.Webhook(ctx, "org_1", "wh_1")
	must(t, err)
	if got.URL != w.URL || got.Description != "CRM" || string(got.Events) != `["link.created"]` || got.Scope != nil ||
		string(got.Secret) != "\x01\x02\x03" || got.PreviousSecret != nil || !got.PreviousExpiresAt.IsZero() ||
		!got.DisabledAt.IsZero() || got.Version != 1 || !got.CreatedAt.Equal(t0) {
		t.Errorf("webhook %+v", got)
	}
	_, err = s.Webhook(ctx, "org_2", "wh_1")
	wantErr(t, "another org's webhook", err, store.ErrNotFound)
	page, err := s.Webhooks(ctx, store.WebhookFilter{OrgID: "org_1", Limit: 1})
	must(t, err)
	if len(page) != 1 || page[0].ID != "wh_1" {
		t.Fatalf("first page %+v", page)
	}
	page, err = s.Webhooks(ctx, store.WebhookFilter{OrgID: "org_1", AfterID: "wh_1", Limit: 10})
	must(t, err)
	if len(page) != 1 || page[0].ID != "wh_2" || string(page[0].Scope) != `{"allLinks":true}` {
		t.Errorf("second page %+v", page)
	}
	// Every org's enabled webhooks that name an event.
	must(t, s.CreateWebhook(ctx, store.Webhook{ID: "wh_3", OrgID: "org_2", URL: "https://d.example.com/",
		Events: json.RawMessage(`["link.created","link.clicked"]`), Scope: json.RawMessage(`{"linkIds":["link_9"]}`),
		Secret: []byte{7}, Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}))
	must(t, s.CreateWebhook(ctx, store.Webhook{ID: "wh_4", OrgID: "org_2", URL: "https://e.example.com/",
		Events: json.RawMessage(`["link.clicked"]`), Scope: json.RawMessage(`{"allLinks":true}`), Secret: []byte{8},
		DisabledAt: t0, DisabledReason: "gone", Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}))
	for event, want := range map[string][]string{"link.clicked": {"wh_3"}, "link.created": {"wh_1", "wh_3"}, "link.deleted": nil} {
		ws, err := s.EnabledWebhooks(ctx, event)
		must(t, err)
		var got []string
		for _, w := range ws {
			got = append(got, w.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("enabled webhooks for %s: %v, want %v", event, got, want)
		}
	}
	if n, err := s.CountWebhooks(ctx, "org_1"); err != nil || n != 2 {
		t.Errorf("count %d %v", n, err)
	}
	got.PreviousSecret, got.Secret, got.PreviousExpiresAt = got.Secret, []byte{4, 5}, t0.Add(24*time.Hour)
	got.DisabledAt, got.DisabledReason, got.Version, got.UpdatedAt = t0, "gone", 2, t0.Add(time.Second)
	got.URL, got.Scope = "https://c.example.com/", json.RawMessage(`{"tags":["x"]}`)
	must(t, s.UpdateWebhook(ctx, got))
	again, err := s.Webhook(ctx, "org_1", "wh_1")
	must(t, err)
	if string(again.Secret) != "\x04\x05" || string(again.PreviousSecret) != "\x01\x02\x03" ||
		!again.PreviousExpiresAt.Equal(t0.Add(24*time.Hour)) || !again.DisabledAt.Equal(t0) || again.DisabledReason != "gone" ||
		again.Version != 2 || again.URL != "https://c.example.com/" || string(again.Scope) != `{"tags":["x"]}` {
		t.Errorf("updated %+v", again)
	}
	other := again
	other.OrgID = "org_2"
	wantErr(t, "update in another org", s.UpdateWebhook(ctx, other), store.ErrNotFound)

	// The delivery log: a message and its attempts.
	m := store.WebhookMessage{ID: "msg_1", WebhookID: "wh_1", OrgID: "org_1", EventType: "ping",
		Payload: json.RawMessage(`{"type":"ping"}`), Status: store.MessagePending, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateWebhookMessage(ctx, m))
	m.Status, m.Attempts, m.LastStatusCode, m.LastLatency = store.MessageDelivered, 1, 204, 42*time.Millisecond
	m.LastResponse, m.UpdatedAt, m.NextAttemptAt = []byte("ok"), t0.Add(time.Second), t0.Add(time.Minute)
	must(t, s.UpdateWebhookMessage(ctx, m))
	gotM, err := s.WebhookMessage(ctx, "org_1", "msg_1")
	must(t, err)
	if gotM.Status != store.MessageDelivered || gotM.Attempts != 1 || gotM.LastStatusCode != 204 ||
		gotM.LastLatency != 42*time.Millisecond || string(gotM.LastResponse) != "ok" || string(gotM.Payload) != `{"type":"ping"}` ||
		!gotM.NextAttemptAt.Equal(t0.Add(time.Minute)) || !gotM.UpdatedAt.Equal(t0.Add(time.Second)) || gotM.WebhookID != "wh_1" {
		t.Errorf("message %+v", gotM)
	}
	_, err = s.WebhookMessage(ctx, "org_2", "msg_1")
	wantErr(t, "another org's message", err, store.ErrNotFound)
	a1 := store.WebhookAttempt{MessageID: "msg_1", Attempt: 1, At: t0, Latency: 15 * time.Second, Error: "no answer"}
	must(t, s.AppendWebhookAttempt(ctx, a1))
	wantErr(t, "attempt twice", s.AppendWebhookAttempt(ctx, a1), store.ErrConflict)
	must(t, s.AppendWebhookAttempt(ctx, store.WebhookAttempt{MessageID: "msg_1", Attempt: 2, At: t0.Add(time.Minute),
		StatusCode: 500, Latency: 3 * time.Millisecond, Response: []byte("oops")}))
	as, err := s.WebhookAttempts(ctx, "msg_1")
	must(t, err)
	if len(as) != 2 || as[0].Error != "no answer" || as[0].StatusCode != 0 || as[0].Latency != 15*time.Second ||
		as[1].StatusCode != 500 || string(as[1].Response) != "oops" || !as[1].At.Equal(t0.Add(time.Minute)) {
		t.Errorf("attempts %+v", as)
	}

	wantErr(t, "delete in another org", s.DeleteWebhook(ctx, "org_2", "wh_1"), store.ErrNotFound)
	must(t, s.DeleteWebhook(ctx, "org_1", "wh_1"))
	_, err = s.Webhook(ctx, "org_1", "wh_1")
	wantErr(t, "deleted", err, store.ErrNotFound)
	_, err = s.WebhookMessage(ctx, "org_1", "msg_1")
	wantErr(t, "message of a deleted webhook", err, store.ErrNotFound)
	if as, err := s.WebhookAttempts(ctx, "msg_1"); err != nil || len(as) != 0 {
		t.Errorf("attempts of a deleted webhook: %+v %v", as, err)
	}
}

func testWebhookDispatch(t *testing.T, s store.Store) {
	seed(t, s)
	ctx := context.Background()
	hook := func(id string, disabled time.Time) store.Webhook {
		return store.Webhook{ID: id, OrgID: "org_1", URL: "https://hooks.example.com/", Events: json.RawMessage(`[]`),
			Secret: []byte{1}, DisabledAt: disabled, Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}
	}
	must(t, s.CreateWebhook(ctx, hook("wh_1", time.Time{})))
	must(t, s.CreateWebhook(ctx, hook("wh_2", t0)))

	// Events are pending until fanned out, in ID order.
	must(t, s.AppendEvent(ctx, store.Event{ID: "evt_2", OrgID: "org_1", Type: "link.created", CreatedAt: t0},
		store.Event{ID: "evt_1", OrgID: "org_1", Type: "link.deleted", ResourceID: "lnk_1",
			Payload: json.RawMessage(`{"id":"lnk_1"}`), CreatedAt: t0}))
	evs, err := s.PendingEvents(ctx, 10)
	must(t, err)
	if len(evs) != 2 || evs[0].ID != "evt_1" || string(evs[0].Payload) != `{"id":"lnk_1"}` || evs[0].ResourceID != "lnk_1" ||
		!evs[0].CreatedAt.Equal(t0) || evs[1].Payload != nil {
		t.Fatalf("pending %+v", evs)
	}
	must(t, s.MarkEventsFannedOut(ctx, t0, "evt_1"))
	if evs, err := s.PendingEvents(ctx, 10); err != nil || len(evs) != 1 || evs[0].ID != "evt_2" {
		t.Errorf("pending after one is done %+v %v", evs, err)
	}

	// Due: pending or retrying, next attempt reached, endpoint enabled.
	msg := func(id, hook, status string, next time.Time, created time.Duration) store.WebhookMessage {
		return store.WebhookMessage{ID: id, WebhookID: hook, OrgID: "org_1", EventType: "link.created",
			Payload: json.RawMessage(`{}`), Status: status, NextAttemptAt: next, CreatedAt: t0.Add(created), UpdatedAt: t0}
	}
	for _, m := range []store.WebhookMessage{
		msg("msg_1", "wh_1", store.MessagePending, t0, 0),
		msg("msg_2", "wh_1", store.MessageRetrying, t0.Add(time.Minute), time.Second),
		msg("msg_3", "wh_1", store.MessageDelivered, time.Time{}, 2*time.Second),
		msg("msg_4", "wh_2", store.MessagePending, t0, 3*time.Second),
		msg("msg_5", "wh_1", store.MessageRetrying, t0, 4*time.Second),
	} {
		must(t, s.CreateWebhookMessage(ctx, m))
	}
	ids := func(ms []store.WebhookMessage) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return strings.Join(out, " ")
	}
	hooks, err := s.DueWebhooks(ctx, t0, 10)
	must(t, err)
	if got := strings.Join(hooks, " "); got != "wh_1" {
		t.Errorf("due webhooks %s", got)
	}
	due, err := s.DueWebhookMessages(ctx, "wh_1", t0, 10)
	must(t, err)
	if got := ids(due); got != "msg_1 msg_5" {
		t.Errorf("due %s", got)
	}
	if due, err := s.DueWebhookMessages(ctx, "wh_1", t0, 1); err != nil || ids(due) != "msg_1" {
		t.Errorf("due, one: %s %v", ids(due), err)
	}
	if n, err := s.CountDueWebhookMessages(ctx, t0.Add(time.Minute)); err != nil || n != 3 {
		t.Errorf("count due %d %v", n, err)
	}

	// A webhook's messages, newest first, by filter and cursor.
	for _, tc := range []struct {
		name string
		f    store.WebhookMessageFilter
		want string
	}{
		{"all", store.WebhookMessageFilter{}, "msg_5 msg_3 msg_2 msg_1"},
		{"status", store.WebhookMessageFilter{Status: store.MessageRetrying}, "msg_5 msg_2"},
		{"type", store.WebhookMessageFilter{EventType: "link.deleted"}, ""},
		{"range", store.WebhookMessageFilter{From: t0.Add(time.Second), Until: t0.Add(4 * time.Second)}, "msg_3 msg_2"},
		{"cursor", store.WebhookMessageFilter{BeforeID: "msg_3", Limit: 1}, "msg_2"},
	} {
		tc.f.OrgID, tc.f.WebhookID = "org_1", "wh_1"
		if tc.f.Limit == 0 {
			tc.f.Limit = 10
		}
		got, err := s.WebhookMessages(ctx, tc.f)
		must(t, err)
		if ids(got) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, ids(got), tc.want)
		}
	}
	if got, _ := s.WebhookMessages(ctx, store.WebhookMessageFilter{OrgID: "org_2", WebhookID: "wh_1", Limit: 10}); len(got) != 0 {
		t.Errorf("another org sees %s", ids(got))
	}

	// Requeue: the range's messages become pending and due.
	n, err := s.RequeueWebhookMessages(ctx, "org_1", "wh_1", t0.Add(time.Second), t0.Add(3*time.Second), t0.Add(time.Hour))
	must(t, err)
	if n != 2 {
		t.Errorf("requeued %d", n)
	}
	if m, _ := s.WebhookMessage(ctx, "org_1", "msg_3"); m.Status != store.MessagePending || !m.NextAttemptAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("requeued %+v", m)
	}

	// Failing since: the first attempt after the last success.
	at := func(msg string, n int, after time.Duration, code int) {
		must(t, s.AppendWebhookAttempt(ctx, store.WebhookAttempt{MessageID: msg, Attempt: n, At: t0.Add(after), StatusCode: code}))
	}
	if since, err := s.WebhookFailingSince(ctx, "wh_1", time.Time{}); err != nil || !since.IsZero() {
		t.Errorf("no attempts: %v %v", since, err)
	}
	at("msg_1", 1, time.Minute, 500)
	at("msg_1", 2, 2*time.Minute, 204)
	at("msg_2", 1, 3*time.Minute, 0)
	at("msg_2", 2, 4*time.Minute, 503)
	if since, err := s.WebhookFailingSince(ctx, "wh_1", time.Time{}); err != nil || !since.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("failing since %v %v", since, err)
	}
	if since, err := s.WebhookFailingSince(ctx, "wh_1", t0.Add(3*time.Minute)); err != nil || !since.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("failing since, after a change: %v %v", since, err)
	}
}

func file(id, org, sha, typ string, size int64) store.File {
	return store.File{ID: id, OrgID: org, Name: id + ".png", MediaType: typ, Size: size, SHA256: sha, Width: 3,
		Height: 2, Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}
}

func mustBlob(t *testing.T, s store.Store, sha string, refs int64, zeroSince time.Time) {
	t.Helper()
	b, err := s.Blob(context.Background(), sha)
	if err != nil || b.Refs != refs || !b.ZeroSince.Equal(zeroSince) {
		t.Errorf("blob %s = %+v, %v; want refs %d since %v", sha, b, err, refs, zeroSince)
	}
}

func testFiles(t *testing.T, s store.Store) {
	seed(t, s)
	ctx := context.Background()
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}))
	f1 := file("file_1", "org_1", "aa", "image/png", 100)
	must(t, s.CreateFile(ctx, f1))
	wantErr(t, "same id", s.CreateFile(ctx, f1), store.ErrConflict)
	mustBlob(t, s, "aa", 1, time.Time{})
	must(t, s.CreateFile(ctx, file("file_2", "org_1", "aa", "image/png", 100)))
	must(t, s.CreateFile(ctx, file("file_3", "org_1", "bb", "application/pdf", 50)))
	must(t, s.CreateFile(ctx, file("file_4", "org_2", "aa", "image/png", 100)))
	mustBlob(t, s, "aa", 3, time.Time{})

	got, err := s.File(ctx, "org_1", "file_1")
	if err != nil || got != f1 {
		t.Errorf("File = %+v, %v; want %+v", got, err, f1)
	}
	_, err = s.File(ctx, "org_2", "file_1")
	wantErr(t, "file of another org", err, store.ErrNotFound)
	ids := func(fs []store.File) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		f    store.FileFilter
		want string
	}{
		{store.FileFilter{OrgID: "org_1", Limit: 10}, "file_1,file_2,file_3"},
		{store.FileFilter{OrgID: "org_1", Limit: 1}, "file_1"},
		{store.FileFilter{OrgID: "org_1", AfterID: "file_1", Limit: 10}, "file_2,file_3"},
		{store.FileFilter{OrgID: "org_1", MediaType: "application/pdf", Limit: 10}, "file_3"},
		{store.FileFilter{OrgID: "org_2", Limit: 10}, "file_4"},
	} {
		if fs, err := s.Files(ctx, tt.f); err != nil || ids(fs) != tt.want {
			t.Errorf("Files(%+v) = %s, %v; want %s", tt.f, ids(fs), err, tt.want)
		}
	}
	if n, size, err := s.FileUsage(ctx, "org_1"); err != nil || n != 3 || size != 250 {
		t.Errorf("FileUsage = %d, %d, %v; want 3, 250", n, size, err)
	}
	if n, size, err := s.FileUsage(ctx, "org_3"); err != nil || n != 0 || size != 0 {
		t.Errorf("FileUsage of an org without files = %d, %d, %v", n, size, err)
	}

	got.Name, got.Version, got.UpdatedAt = "renamed.png", 2, t0.Add(time.Minute)
	must(t, s.UpdateFile(ctx, got))
	if again, err := s.File(ctx, "org_1", "file_1"); err != nil || again != got {
		t.Errorf("after update %+v, %v; want %+v", again, err, got)
	}
	other := got
	other.OrgID = "org_2"
	wantErr(t, "update in another org", s.UpdateFile(ctx, other), store.ErrNotFound)

	wantErr(t, "delete in another org", s.DeleteFile(ctx, "org_2", "file_1", t0), store.ErrNotFound)
	must(t, s.DeleteFile(ctx, "org_1", "file_1", t0.Add(time.Hour)))
	wantErr(t, "delete twice", s.DeleteFile(ctx, "org_1", "file_1", t0), store.ErrNotFound)
	mustBlob(t, s, "aa", 2, time.Time{})
	must(t, s.DeleteFile(ctx, "org_1", "file_2", t0.Add(time.Hour)))
	must(t, s.DeleteFile(ctx, "org_2", "file_4", t0.Add(2*time.Hour)))
	mustBlob(t, s, "aa", 0, t0.Add(2*time.Hour))
	// Named again, the blob is referenced again.
	must(t, s.CreateFile(ctx, file("file_5", "org_1", "aa", "image/png", 100)))
	mustBlob(t, s, "aa", 1, time.Time{})
}

func testFileReferences(t *testing.T, s store.Store) {
	seed(t, s)
	ctx := context.Background()
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}))
	must(t, s.CreateFile(ctx, file("file_1", "org_1", "aa", "image/png", 100)))
	qr := file("file_2", "org_1", "bb", "image/png", 10)
	qr.LogoFileID, qr.LinkID = "file_1", "link_b"
	must(t, s.CreateFile(ctx, qr))
	if got, err := s.File(ctx, "org_1", "file_2"); err != nil || got != qr {
		t.Errorf("QR file = %+v, %v; want %+v", got, err, qr)
	}
	a, b, c := link("link_a", "a"), link("link_b", "b"), link("link_c", "c")
	a.ImageFile = "file_1"
	b.ImageFile, b.PreviewImageFile = "file_1", "file_1"
	c.PreviewImageFile = "file_1"
	for _, l := range []store.Link{c, b, a} {
		must(t, s.InsertLink(ctx, l))
	}
	if got, err := s.Link(ctx, "org_1", "link_b"); err != nil || got.ImageFile != "file_1" || got.PreviewImageFile != "file_1" {
		t.Errorf("link_b = %+v, %v; want both image files", got, err)
	}
	refs := func(orgID, id string) string {
		t.Helper()
		rs, err := s.FileReferences(ctx, orgID, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.Type+":"+r.ID+":"+r.Field)
		}
		return strings.Join(out, ",")
	}
	want := "link:link_a:image,link:link_b:image,link:link_b:preview.image,link:link_c:preview.image,qr:file_2:logo"
	if got := refs("org_1", "file_1"); got != want {
		t.Errorf("references = %s; want %s", got, want)
	}
	if got := refs("org_2", "file_1"); got != "" {
		t.Errorf("references in another org = %s; want none", got)
	}
	// An update sets the columns as it sets the rest.
	b.ImageFile, b.PreviewImageFile, b.Version = "", "", 2
	must(t, s.UpdateLink(ctx, b))
	must(t, s.DeleteLink(ctx, "org_1", "link_c"))
	if f, err := s.FileByID(ctx, "file_2"); err != nil || f != qr {
		t.Errorf("FileByID = %+v, %v; want %+v", f, err, qr)
	}
	_, err := s.FileByID(ctx, "file_9")
	wantErr(t, "FileByID of no file", err, store.ErrNotFound)
	if got, want := refs("org_1", "file_1"), "link:link_a:image,qr:file_2:logo"; got != want {
		t.Errorf("references after changes = %s; want %s", got, want)
	}
	err = s.Write(ctx, func(q store.Queries) error {
		if f, err := q.LockFile(ctx, "org_1", "file_1"); err != nil || f.ID != "file_1" {
			t.Errorf("LockFile = %+v, %v", f, err)
		}
		_, err := q.LockFile(ctx, "org_2", "file_1")
		wantErr(t, "lock a file of another org", err, store.ErrNotFound)
		return nil
	})
	must(t, err)
}

func testBlobs(t *testing.T, s store.Store) {
	seed(t, s)
	ctx := context.Background()
	must(t, s.CreateFile(ctx, file("file_1", "org_1", "aa", "image/png", 100)))
	must(t, s.CreateFile(ctx, file("file_2", "org_1", "bb", "image/png", 10)))
	must(t, s.CreateFile(ctx, file("file_3", "org_1", "cc", "image/png", 10)))
	must(t, s.DeleteFile(ctx, "org_1", "file_2", t0))
	must(t, s.DeleteFile(ctx, "org_1", "file_1", t0.Add(time.Minute)))
	shas := func(bs []store.Blob) string {
		var out []string
		for _, b := range bs {
			out = append(out, b.SHA256)
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		before time.Time
		limit  int
		want   string
	}{
		{t0.Add(-time.Second), 10, ""},
		{t0, 10, "bb"},
		{t0.Add(time.Hour), 10, "bb,aa"},
		{t0.Add(time.Hour), 1, "bb"},
	} {
		if bs, err := s.UnreferencedBlobs(ctx, tt.before, tt.limit); err != nil || shas(bs) != tt.want {
			t.Errorf("UnreferencedBlobs(%v, %d) = %s, %v; want %s", tt.before, tt.limit, shas(bs), err, tt.want)
		}
	}
	wantErr(t, "delete a referenced blob", s.DeleteBlob(ctx, "cc"), store.ErrNotFound)
	wantErr(t, "claim a known blob", s.ClaimBlob(ctx, store.Blob{SHA256: "cc", Size: 10, ZeroSince: t0}), store.ErrConflict)
	err := s.Write(ctx, func(q store.Queries) error {
		b, err := q.LockBlob(ctx, "bb")
		if err != nil || b.Refs != 0 || b.Size != 10 {
			t.Errorf("LockBlob = %+v, %v", b, err)
		}
		return q.DeleteBlob(ctx, "bb")
	})
	must(t, err)
	_, err = s.Blob(ctx, "bb")
	wantErr(t, "deleted blob", err, store.ErrNotFound)
	must(t, s.ClaimBlob(ctx, store.Blob{SHA256: "dd", Size: 5, ZeroSince: t0}))
	mustBlob(t, s, "dd", 0, t0)
	must(t, s.DeleteBlob(ctx, "dd"))
}
