package api_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/mail/mailtest"
)

// call is do with a JSON body and a decoded JSON answer.
func (e *env) call(t *testing.T, method, path, cred, body string, headers ...string) (int, map[string]any, response) {
	t.Helper()
	h := append([]string{"Authorization", "Bearer " + cred}, headers...)
	if cred == "" {
		h = headers
	}
	r := e.do(t, method, path, "", strings.NewReader(body), h...)
	var m map[string]any
	json.Unmarshal(r.body, &m)
	return r.status, m, r
}

func (e *env) mustCall(t *testing.T, want int, method, path, cred, body string, headers ...string) map[string]any {
	t.Helper()
	status, m, r := e.call(t, method, path, cred, body, headers...)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, r.body, want)
	}
	return m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// invite makes an invitation with the inviter's credential and accepts it
// as a new user, who signs in and verifies their address with the code
// mailed to it; it returns the new user's session token and user ID.
func (e *env) inviteAndLogin(t *testing.T, inviter, email, role string) (string, string) {
	t.Helper()
	inv := e.mustCall(t, 201, "POST", "/v1/invitations", inviter, `{"email":"`+email+`","role":"`+role+`"}`)
	token := inv["token"].(string)
	acc := e.mustCall(t, 200, "POST", "/v1/invitations/"+token+"/accept", "", `{"name":"New","password":"long enough password"}`)
	uid := acc["member"].(map[string]any)["userId"].(string)
	login := e.mustCall(t, 200, "POST", "/v1/auth/login", "", `{"email":"`+email+`","password":"long enough password"}`)
	sess := login["token"].(string)
	code := mailedCode(t, e.mail.Wait(t, strings.ToLower(email), "Confirm your email"))
	e.mustCall(t, 200, "POST", "/v1/auth/verify-email", sess, `{"token":"`+code+`"}`)
	return sess, uid
}

var mailedCodePattern = regexp.MustCompile(`h0p_[ei]_[0-9A-Za-z]{36}`)

// mailedCode is the one-time code (or invitation token) in an email.
func mailedCode(t *testing.T, m mailtest.Message) string {
	t.Helper()
	code := mailedCodePattern.FindString(m.Body)
	if code == "" {
		t.Fatalf("no code in the email %q:\n%s", m.Subject, m.Body)
	}
	return code
}

func TestInvitationsLoginSessionsAndOrgs(t *testing.T) {
	e := mustStart(t)
	sess, uid := e.inviteAndLogin(t, e.key, "Ada@Example.com", "admin")

	me := e.mustCall(t, 200, "GET", "/v1/me", sess, "")
	if me["role"] != "admin" || me["orgId"] != "org_1" || me["user"].(map[string]any)["email"] != "ada@example.com" || me["via"] != "session" {
		t.Errorf("me = %v", me)
	}
	// Wrong password and unknown user look the same.
	for _, body := range []string{`{"email":"ada@example.com","password":"wrong password!"}`, `{"email":"nobody@example.com","password":"x"}`} {
		if status, m, _ := e.call(t, "POST", "/v1/auth/login", "", body); status != 401 || errCode(m) != "UNAUTHORIZED" {
			t.Errorf("bad login: %d %v", status, m)
		}
	}
	// An invitation works once, and not after it expires.
	inv := e.mustCall(t, 201, "POST", "/v1/invitations", e.key, `{"email":"late@example.com","role":"member"}`)
	if _, ok := inv["token"].(string); !ok || inv["expiresAt"] == nil {
		t.Fatalf("invitation %v", inv)
	}
	if status, m, _ := e.call(t, "POST", "/v1/invitations/"+inv["token"].(string)+"/accept", "", `{"password":"short"}`); status != 400 || errCode(m) != "VALIDATION_ERROR" {
		t.Errorf("weak password: %d %v", status, m)
	}
	again := e.mustCall(t, 201, "POST", "/v1/invitations", e.key, `{"email":"twice@example.com","role":"member"}`)["token"].(string)
	e.mustCall(t, 200, "POST", "/v1/invitations/"+again+"/accept", "", `{"password":"long enough password"}`)
	if status, m, _ := e.call(t, "POST", "/v1/invitations/"+again+"/accept", "", `{"password":"long enough password"}`); status != 409 || errCode(m) != "ALREADY_EXIST" {
		t.Errorf("second accept: %d %v", status, m)
	}
	if status, m, _ := e.call(t, "POST", "/v1/invitations", e.key, `{"email":"ada@example.com","role":"member"}`); status != 409 {
		t.Errorf("inviting a member: %d %v", status, m)
	}

	// A second org: the creator is its Owner, and now names the org.
	org2 := e.mustCall(t, 201, "POST", "/v1/orgs", sess, `{"name":"Side project"}`)
	if status, m, _ := e.call(t, "GET", "/v1/org", sess, ""); status != 400 || errCode(m) != "VALIDATION_ERROR" {
		t.Errorf("two orgs without x-org-id: %d %v", status, m)
	}
	got := e.mustCall(t, 200, "GET", "/v1/org", sess, "", "x-org-id", org2["id"].(string))
	if got["name"] != "Side project" {
		t.Errorf("org2 = %v", got)
	}
	if me := e.mustCall(t, 200, "GET", "/v1/me", sess, "", "x-org-id", org2["id"].(string)); me["role"] != "owner" {
		t.Errorf("role in own org: %v", me["role"])
	}
	if status, _, _ := e.call(t, "GET", "/v1/org", sess, "", "x-org-id", "org_nope"); status != 404 {
		t.Errorf("unknown x-org-id: %d", status)
	}
	if status, m, _ := e.call(t, "POST", "/v1/orgs", e.key, `{"name":"x"}`); status != 403 {
		t.Errorf("org created with an API key: %d %v", status, m)
	}

	// Logout ends the session at once.
	e.mustCall(t, 204, "POST", "/v1/auth/logout", sess, "")
	if status, _, _ := e.call(t, "GET", "/v1/me", sess, ""); status != 401 {
		t.Errorf("after logout: %d", status)
	}
	// Sessions are short-lived; invitations expire after a week.
	sess2 := e.mustCall(t, 200, "POST", "/v1/auth/login", "", `{"email":"ada@example.com","password":"long enough password"}`)["token"].(string)
	e.now = e.now.Add(13 * time.Hour)
	if status, m, _ := e.call(t, "GET", "/v1/me", sess2, "", "x-org-id", "org_1"); status != 401 || !strings.Contains(m["error"].(map[string]any)["message"].(string), "expired") {
		t.Errorf("after 13h: %d %v", status, m)
	}
	e.now = e.now.Add(8 * 24 * time.Hour)
	if status, _, _ := e.call(t, "POST", "/v1/invitations/"+inv["token"].(string)+"/accept", "", `{"password":"long enough password"}`); status != 404 {
		t.Errorf("expired invitation: %d", status)
	}
	_ = uid
}

func TestOwnerRules(t *testing.T) {
	e := mustStart(t)
	admin, adminID := e.inviteAndLogin(t, e.key, "admin@example.com", "admin")
	_, memberID := e.inviteAndLogin(t, e.key, "member@example.com", "member")

	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/invitations", `{"email":"o@example.com","role":"owner"}`},
		{"PATCH", "/v1/members/" + memberID, `{"role":"owner"}`},
		{"PATCH", "/v1/members/usr_1", `{"role":"member"}`},
		{"DELETE", "/v1/members/usr_1", ""},
	} {
		if status, m, _ := e.call(t, tc.method, tc.path, admin, tc.body); status != 403 || errCode(m) != "FORBIDDEN" {
			t.Errorf("admin %s %s: %d %v", tc.method, tc.path, status, m)
		}
	}
	// An admin may manage members and admins.
	e.mustCall(t, 200, "PATCH", "/v1/members/"+memberID, admin, `{"role":"admin"}`)
	e.mustCall(t, 200, "PATCH", "/v1/members/"+memberID, admin, `{"role":"member"}`)
	if status, m, _ := e.call(t, "PATCH", "/v1/members/"+memberID, admin, `{"role":"king"}`); status != 400 {
		t.Errorf("bad role: %d %v", status, m)
	}

	// The last Owner can neither leave nor be demoted.
	if status, m, _ := e.call(t, "DELETE", "/v1/members/me", e.key, ""); status != 403 || !strings.Contains(string(mustJSON(m)), "last Owner") {
		t.Errorf("last owner leaves: %d %v", status, m)
	}
	if status, _, _ := e.call(t, "PATCH", "/v1/members/usr_1", e.key, `{"role":"admin"}`); status != 403 {
		t.Errorf("last owner demoted: %d", status)
	}
	// With a second Owner, the first may go.
	e.mustCall(t, 200, "PATCH", "/v1/members/"+adminID, e.key, `{"role":"owner"}`)
	e.mustCall(t, 200, "DELETE", "/v1/members/me", e.key, "")
	if status, _, _ := e.call(t, "GET", "/v1/org", e.key, ""); status != 401 {
		t.Errorf("the user key of someone who left: %d, want 401 (deleted with the membership)", status)
	}
	members := e.mustCall(t, 200, "GET", "/v1/members", admin, "")["data"].([]any)
	if len(members) != 2 {
		t.Errorf("members after leaving: %v", members)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestAPIKeys(t *testing.T) {
	e := mustStart(t)
	member, memberID := e.inviteAndLogin(t, e.key, "member@example.com", "member")
	admin, adminID := e.inviteAndLogin(t, e.key, "admin@example.com", "admin")

	// Any member may make their own user key with their session, once.
	k := e.mustCall(t, 201, "POST", "/v1/api-keys", member, `{"name":"laptop","type":"user","permissions":{"shortLinks":["create","read"]}}`)
	secret := k["key"].(string)
	if !strings.HasPrefix(secret, "h0p_u_") || !strings.HasPrefix(secret, k["prefix"].(string)) || k["userId"] != memberID || k["createdBy"] != memberID {
		t.Errorf("created key %v", k)
	}
	if status, m, _ := e.call(t, "POST", "/v1/api-keys", member, `{"name":"again","type":"user"}`); status != 409 || errCode(m) != "ALREADY_EXIST" {
		t.Errorf("second user key: %d %v", status, m)
	}
	// Never beyond the role, and the refusal names the excess.
	status, m, _ := e.call(t, "POST", "/v1/api-keys", admin, `{"name":"x","type":"user","permissions":{"stats":["delete"],"shortLinks":["read"]}}`)
	if status != 403 || !strings.Contains(m["error"].(map[string]any)["message"].(string), "stats:delete") {
		t.Errorf("excess grants: %d %v", status, m)
	}
	if status, m, _ := e.call(t, "POST", "/v1/api-keys", admin, `{"name":"x","type":"user","permissions":{"links":["read"]}}`); status != 400 || errCode(m) != "VALIDATION_ERROR" {
		t.Errorf("unknown resource: %d %v", status, m)
	}
	// Members may not make bot keys.
	if status, _, _ := e.call(t, "POST", "/v1/api-keys", member, `{"name":"bot","type":"bot"}`); status != 403 {
		t.Errorf("member bot key: %d", status)
	}
	// Lists and reads never show the secret; members see only their own.
	list := e.mustCall(t, 200, "GET", "/v1/api-keys", member, "")["data"].([]any)
	if len(list) != 1 || strings.Contains(string(mustJSON(list)), secret) || list[0].(map[string]any)["key"] != nil {
		t.Errorf("member's list %v", list)
	}
	all := e.mustCall(t, 200, "GET", "/v1/api-keys", e.key, "")["data"].([]any)
	if len(all) != 2 {
		t.Errorf("owner sees %d keys, want 2", len(all))
	}

	// The key works, and uses it update lastUsedAt.
	e.mustCall(t, 201, "POST", "/v1/links", secret, `{"url":"https://example.com/k"}`)
	if got := e.mustCall(t, 200, "GET", "/v1/api-keys/"+k["id"].(string), member, ""); got["lastUsedAt"] == nil {
		t.Errorf("lastUsedAt not set: %v", got)
	}
	// Rotation: the old secret stops at once.
	rot := e.mustCall(t, 200, "POST", "/v1/api-keys/"+k["id"].(string)+"/rotate", member, "")
	if status, _, _ := e.call(t, "GET", "/v1/links/x", secret, ""); status != 401 {
		t.Errorf("old secret after rotation: %d", status)
	}
	secret = rot["key"].(string)
	if status, _, _ := e.call(t, "GET", "/v1/links/x", secret, ""); status != 404 {
		t.Errorf("new secret: %d", status)
	}

	// A user key inherits its user's role: a demotion narrows it at once.
	ak := e.mustCall(t, 201, "POST", "/v1/api-keys", admin, `{"name":"admin key","type":"user","permissions":{"apiKeys":["read"]}}`)["key"].(string)
	e.mustCall(t, 200, "GET", "/v1/api-keys", ak, "")
	e.mustCall(t, 200, "PATCH", "/v1/members/"+adminID, e.key, `{"role":"member"}`)
	if status, _, _ := e.call(t, "GET", "/v1/api-keys/"+k["id"].(string), ak, ""); status != 403 {
		t.Errorf("demoted admin's key reads others' keys: %d", status)
	}
	e.mustCall(t, 200, "PATCH", "/v1/members/"+adminID, e.key, `{"role":"admin"}`)

	// Bot keys belong to the org: they survive their creator leaving.
	bot := e.mustCall(t, 201, "POST", "/v1/api-keys", admin, `{"name":"ci","type":"bot","permissions":{"shortLinks":["create","read"]}}`)
	if bot["userId"] != nil || bot["createdBy"] != adminID {
		t.Errorf("bot key %v", bot)
	}
	botSecret := bot["key"].(string)
	e.mustCall(t, 200, "DELETE", "/v1/members/me", admin, "")
	e.mustCall(t, 201, "POST", "/v1/links", botSecret, `{"url":"https://example.com/bot"}`)
	if status, _, _ := e.call(t, "DELETE", "/v1/links/x", botSecret, ""); status != 403 {
		t.Errorf("bot without delete: %d", status)
	}
	// Removing a member deletes their user key.
	e.mustCall(t, 200, "DELETE", "/v1/members/"+memberID, e.key, "")
	if status, _, _ := e.call(t, "GET", "/v1/links/x", secret, ""); status != 401 {
		t.Errorf("removed member's key: %d", status)
	}
	// Deleting revokes immediately; expired keys stop.
	e.mustCall(t, 200, "DELETE", "/v1/api-keys/"+bot["id"].(string), e.key, "")
	if status, _, _ := e.call(t, "GET", "/v1/links/x", botSecret, ""); status != 401 {
		t.Errorf("deleted bot key: %d", status)
	}
	exp := e.mustCall(t, 201, "POST", "/v1/api-keys", e.key, `{"name":"tmp","type":"bot","permissions":{"shortLinks":["read"]},"expiresAt":"2026-11-25T13:00:00Z"}`)["key"].(string)
	e.mustCall(t, 404, "GET", "/v1/links/x", exp, "")
	e.now = e.now.Add(2 * time.Hour)
	if status, _, _ := e.call(t, "GET", "/v1/links/x", exp, ""); status != 401 {
		t.Errorf("expired key: %d", status)
	}
	if status, m, _ := e.call(t, "POST", "/v1/api-keys", e.key, `{"name":"past","type":"bot","expiresAt":"2020-01-01T00:00:00Z"}`); status != 400 {
		t.Errorf("expiry in the past: %d %v", status, m)
	}
}

func TestAuditLog(t *testing.T) {
	e := mustStart(t)
	bot := e.mustCall(t, 201, "POST", "/v1/api-keys", e.key, `{"name":"ci","type":"bot","permissions":{"shortLinks":["create","read","delete"]}}`)
	botSecret := bot["key"].(string)
	_, link, r := e.call(t, "POST", "/v1/links", botSecret, `{"url":"https://example.com/audited","key":"audited"}`)
	e.mustCall(t, 200, "DELETE", "/v1/links/"+link["id"].(string), botSecret, "")

	page := e.mustCall(t, 200, "GET", "/v1/audit-logs?limit=2", e.key, "")
	entries := page["data"].([]any)
	if len(entries) != 2 || page["nextCursor"] == nil {
		t.Fatalf("page %v", page)
	}
	del, created := entries[0].(map[string]any), entries[1].(map[string]any)
	if del["action"] != "link.deleted" || created["action"] != "link.created" || created["actorType"] != "bot" ||
		created["actorId"] != bot["id"] || created["keyId"] != bot["id"] || created["resourceId"] != link["id"] ||
		created["requestId"] != r.header.Get("X-Request-Id") || created["ip"] != "127.0.0.1" {
		t.Errorf("entries %v", entries)
	}
	if after := created["diff"].(map[string]any)["after"].(map[string]any); after["url"] != "https://example.com/audited" {
		t.Errorf("diff %v", created["diff"])
	}
	rest := e.mustCall(t, 200, "GET", "/v1/audit-logs?cursor="+page["nextCursor"].(string), e.key, "")["data"].([]any)
	if len(rest) != 1 || rest[0].(map[string]any)["action"] != "apiKey.created" {
		t.Errorf("next page %v", rest)
	}
	// Secrets never appear.
	if strings.Contains(string(mustJSON(rest)), botSecret) || strings.Contains(string(mustJSON(rest)), "digest") {
		t.Errorf("audit entry leaks a secret: %s", mustJSON(rest))
	}
	byActor := e.mustCall(t, 200, "GET", "/v1/audit-logs?actor=usr_1", e.key, "")["data"].([]any)
	if len(byActor) != 1 {
		t.Errorf("actor filter: %v", byActor)
	}
	byRes := e.mustCall(t, 200, "GET", "/v1/audit-logs?resourceType=link&resourceId="+link["id"].(string), e.key, "")["data"].([]any)
	if len(byRes) != 2 {
		t.Errorf("resource filter: %v", byRes)
	}
	if status, _, _ := e.call(t, "GET", "/v1/audit-logs?from=yesterday", e.key, ""); status != 400 {
		t.Errorf("bad from: %d", status)
	}
	if status, _, _ := e.call(t, "GET", "/v1/audit-logs", botSecret, ""); status != 403 {
		t.Errorf("bot reads the audit log: %d", status)
	}
}
