package api_test

import (
	"cmp"
	"context"
	"fmt"
	"image/color"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

// actor is one principal of the matrix, with the credential it calls with.
type actor struct {
	name string
	p    access.Principal // what the server should make of the credential
	cred string
}

// matrixOrg is a fresh org for one route's column of the matrix: for each
// role a signed-in user, three users with user keys (full, minimal, no
// grants) and three bot keys made at that role's level; plus a keeper Owner
// (so "leave" never hits the last-Owner rule), a victim member with a user
// key, a bot key without grants, and a link — the objects the canonical
// requests act on.
type matrixOrg struct {
	orgID, victim, victimKey, botKey, linkID, fileID string
	actors                                           []actor
}

var grantVariants = map[string]func(identity.Role) access.Set{
	"full": access.OfRole,
	"minimal": func(identity.Role) access.Set {
		return access.Of(map[access.Resource][]access.Action{access.ShortLinks: {access.Read}})
	},
	"none": func(identity.Role) access.Set { return 0 },
}

func mustMatrixOrg(t *testing.T, e *env, n int) matrixOrg {
	t.Helper()
	ctx := context.Background()
	o := matrixOrg{orgID: fmt.Sprintf("org_m%d", n)}
	tag := func(s string) string { return fmt.Sprintf("%s_m%d", s, n) }
	err := e.store.Write(ctx, func(q store.Queries) error {
		if err := q.CreateOrg(ctx, store.Org{ID: o.orgID, Name: "matrix", Plan: "enterprise", CreatedAt: e.now}); err != nil {
			return err
		}
		addUser := func(id string, role identity.Role) error {
			if err := q.CreateUser(ctx, store.User{ID: id, Email: id + "@example.com", CreatedAt: e.now, EmailVerifiedAt: e.now}); err != nil {
				return err
			}
			return q.AddMember(ctx, store.Member{OrgID: o.orgID, UserID: id, Role: role, CreatedAt: e.now})
		}
		addKey := func(id string, typ identity.KeyType, user string, grants access.Set) (string, error) {
			t := apikey.User
			if typ == identity.KeyBot {
				t = apikey.Bot
			}
			plain := apikey.Generate(t)
			return plain, q.CreateAPIKey(ctx, store.APIKey{ID: id, OrgID: o.orgID, Type: typ, UserID: user, Name: id,
				Prefix: apikey.Prefix(plain), Digest: apikey.Digest(pepper, plain), Permissions: grants.Permissions(),
				CreatedBy: tag("usr_keeper"), CreatedAt: e.now})
		}
		if err := addUser(tag("usr_keeper"), identity.RoleOwner); err != nil {
			return err
		}
		o.victim = tag("usr_victim")
		if err := addUser(o.victim, identity.RoleMember); err != nil {
			return err
		}
		o.victimKey = tag("key_victim")
		if _, err := addKey(o.victimKey, identity.KeyUser, o.victim, access.OfRole(identity.RoleMember)); err != nil {
			return err
		}
		o.botKey = tag("key_bot")
		if _, err := addKey(o.botKey, identity.KeyBot, "", 0); err != nil {
			return err
		}
		o.linkID = tag("link_t")
		if err := q.InsertLink(ctx, store.Link{ID: o.linkID, OrgID: o.orgID, Domain: "localhost", Key: tag("slug"),
			URL: "https://example.com", Version: 1, CreatedBy: tag("usr_keeper"), CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
			return err
		}
		o.fileID = tag("file_t")
		if err := q.CreateFile(ctx, store.File{ID: o.fileID, OrgID: o.orgID, Name: "logo.png", MediaType: "image/png",
			Size: int64(len(matrixPNG)), SHA256: sha([]byte(matrixPNG)), Version: 1, CreatedBy: tag("usr_keeper"),
			CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
			return err
		}
		for _, role := range []identity.Role{identity.RoleOwner, identity.RoleAdmin, identity.RoleMember} {
			// A signed-in user.
			uid := tag("usr_" + string(role) + "_s")
			if err := addUser(uid, role); err != nil {
				return err
			}
			token := apikey.Generate(apikey.Session)
			sid := tag("ses_" + string(role))
			if err := q.CreateSession(ctx, store.Session{ID: sid, UserID: uid, Digest: apikey.Digest(pepper, token),
				CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}); err != nil {
				return err
			}
			o.actors = append(o.actors, actor{fmt.Sprintf("%s/session", role),
				access.Principal{Kind: access.Session, OrgID: o.orgID, UserID: uid, Role: role}, token})
			for variant, grants := range grantVariants {
				// A user key of its own user, and a bot key.
				uid := tag("usr_" + string(role) + "_" + variant)
				if err := addUser(uid, role); err != nil {
					return err
				}
				kid := tag("key_" + string(role) + "_u_" + variant)
				plain, err := addKey(kid, identity.KeyUser, uid, grants(role))
				if err != nil {
					return err
				}
				o.actors = append(o.actors, actor{fmt.Sprintf("%s/userKey/%s", role, variant),
					access.Principal{Kind: access.UserKey, OrgID: o.orgID, UserID: uid, Role: role, KeyID: kid, Grants: grants(role)}, plain})
				bid := tag("key_" + string(role) + "_b_" + variant)
				plain, err = addKey(bid, identity.KeyBot, "", grants(role))
				if err != nil {
					return err
				}
				o.actors = append(o.actors, actor{fmt.Sprintf("%s/botKey/%s", role, variant),
					access.Principal{Kind: access.BotKey, OrgID: o.orgID, KeyID: bid, Grants: grants(role)}, plain})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.blobs.Put(ctx, sha([]byte(matrixPNG)), strings.NewReader(matrixPNG), int64(len(matrixPNG))); err != nil {
		t.Fatal(err)
	}
	return o
}

// matrixPNG is the bytes of the matrix's files, and of its uploads.
var matrixPNG = string(pngOf(&testing.B{}, 1, 1, color.Black))

// canonical is the request the matrix sends to a route: path parameters
// point at the org's victim objects (for keys, a bot key that holds nothing,
// so the route's own need decides; keys_matrix_test.go varies the target),
// bodies are valid.
func canonical(rt api.RouteNeed, o matrixOrg) (path, body string) {
	r := strings.NewReplacer(":userId", o.victim, ":id", o.botKey, ":token", apikey.Generate(apikey.Invitation))
	path = r.Replace(rt.Path)
	if strings.HasPrefix(rt.Path, "/v1/links/") {
		path = strings.Replace(rt.Path, ":id", o.linkID, 1)
	}
	if strings.HasPrefix(rt.Path, "/v1/files/") {
		path = strings.Replace(rt.Path, ":id", o.fileID, 1)
	}
	switch rt.Method + " " + rt.Path {
	case "POST /v1/auth/login":
		body = `{"email":"nobody@example.com","password":"wrong password"}`
	case "POST /v1/orgs", "PATCH /v1/org":
		body = `{"name":"renamed"}`
	case "PATCH /v1/members/:userId":
		body = `{"role":"member"}`
	case "POST /v1/invitations":
		body = `{"email":"invitee@example.com","role":"member"}`
	case "POST /v1/invitations/:token/accept":
		body = `{"name":"N","password":"long enough password"}`
	case "POST /v1/auth/password":
		body = `{"currentPassword":"not the password","newPassword":"a new long password"}`
	case "POST /v1/auth/password-reset":
		body = `{"email":"nobody@example.com"}`
	case "POST /v1/auth/password-reset/confirm":
		body = `{"token":"` + apikey.Generate(apikey.EmailToken) + `","password":"a new long password"}`
	case "POST /v1/auth/verify-email":
		body = `{"token":"` + apikey.Generate(apikey.EmailToken) + `"}`
	case "POST /v1/api-keys":
		body = `{"name":"mine","type":"user","permissions":{}}`
	case "PATCH /v1/api-keys/:id":
		body = `{"name":"renamed"}`
	case "POST /v1/links":
		body = `{"url":"https://example.com/new"}`
	case "POST /v1/files":
		body = matrixPNG
	case "PATCH /v1/files/:id":
		body = `{"name":"renamed.png"}`
	case "POST /v1/files/qr":
		body = `{"linkId":"` + o.linkID + `"}`
	case "POST /v1/webhooks":
		body = `{"url":"https://127.0.0.1:1/in","events":["link.created"]}`
	}
	return path, body
}

// expectAllowed is the route-level decision of control/access, refined for
// routes whose "own user key" exemption depends on the target: canonical
// requests target someone else's key, except creating and listing.
func expectAllowed(rt api.RouteNeed, p access.Principal) bool {
	switch access.Check(p, rt.Need) {
	case access.Allowed:
		return true
	case access.OwnKeyOnly:
		return rt.Path == "/v1/api-keys"
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Every route × {Owner, Admin, Member} × {session, user key, bot key} ×
// {full, minimal, none}: a denied call answers 403 FORBIDDEN, an allowed one
// anything but 401/403.
func TestPermissionMatrix(t *testing.T) {
	e := mustStart(t)
	for i, rt := range api.Routes() {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			o := mustMatrixOrg(t, e, i)
			// Denied actors first: allowed ones may delete the objects the
			// canonical request names, and a missing object is a 404.
			slices.SortStableFunc(o.actors, func(a, b actor) int {
				return cmp.Compare(b2i(expectAllowed(rt, a.p)), b2i(expectAllowed(rt, b.p)))
			})
			for _, a := range o.actors {
				path, body := canonical(rt, o)
				r := e.do(t, rt.Method, path, "", strings.NewReader(body), "Authorization", "Bearer "+a.cred)
				allowed := expectAllowed(rt, a.p)
				switch {
				case allowed && (r.status == 403 || r.status == 401 && !rt.Need.Public):
					t.Errorf("%s: %d %s; want allowed (need %s)", a.name, r.status, r.body, rt.Need)
				case !allowed && r.status != 403:
					t.Errorf("%s: %d %s; want 403 (need %s)", a.name, r.status, r.body, rt.Need)
				case r.status >= 500:
					t.Errorf("%s: %d %s", a.name, r.status, r.body)
				}
			}
		})
	}
}

// A route without a declared permission fails the suite: every route the
// router serves must come from the declared table (the cluster endpoints,
// node-to-node with certificates, are the one exception).
func TestEveryRouteDeclaresItsPermission(t *testing.T) {
	e := mustStart(t)
	declared := map[string]bool{}
	for _, rt := range api.Routes() {
		declared[rt.Method+" "+rt.Path] = true
		forms := 0
		for _, set := range []bool{rt.Need.Public, rt.Need.SessionOnly, rt.Need.Member, rt.Need.Person,
			rt.Need.MinRole != "", rt.Need.Resource != ""} {
			if set {
				forms++
			}
		}
		if forms != 1 || (rt.Need.Resource != "") != (rt.Need.Action != "") {
			t.Errorf("%s %s: need %+v must take exactly one form", rt.Method, rt.Path, rt.Need)
		}
	}
	for _, r := range e.router.Routes() {
		if strings.HasPrefix(r.Path, "/cluster/") || r.Path == "/v1/panic" {
			continue
		}
		if !declared[r.Method+" "+r.Path] {
			t.Errorf("%s %s is served without a declared permission", r.Method, r.Path)
		}
	}
}

// Objects of another org answer 404 NOT_FOUND, never 403, for every object
// type an ID can name.
func TestCrossOrgAccessIsNotFound(t *testing.T) {
	e := mustStart(t)
	a := mustMatrixOrg(t, e, 900)
	other := mustBootstrap(t, e.store, "other", time.Time{}) // an Owner of another org, every permission
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/links/" + a.linkID, ""},
		{"DELETE", "/v1/links/" + a.linkID, ""},
		{"GET", "/v1/api-keys/" + a.victimKey, ""},
		{"GET", "/v1/api-keys/" + a.victimKey + "/usage", ""},
		{"PATCH", "/v1/api-keys/" + a.victimKey, `{"name":"x"}`},
		{"POST", "/v1/api-keys/" + a.victimKey + "/rotate", ""},
		{"DELETE", "/v1/api-keys/" + a.victimKey, ""},
		{"PATCH", "/v1/members/" + a.victim, `{"role":"admin"}`},
		{"DELETE", "/v1/members/" + a.victim, ""},
		{"GET", "/v1/files/" + a.fileID, ""},
		{"GET", "/v1/files/" + a.fileID + "/content", ""},
		{"PATCH", "/v1/files/" + a.fileID, `{"name":"x"}`},
		{"DELETE", "/v1/files/" + a.fileID, ""},
	} {
		r := e.do(t, tc.method, tc.path, other, strings.NewReader(tc.body))
		if r.status != http.StatusNotFound || !strings.Contains(string(r.body), `"NOT_FOUND"`) {
			t.Errorf("%s %s from another org: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	// And nothing of org a changed.
	ctx := context.Background()
	if _, err := e.store.Link(ctx, a.orgID, a.linkID); err != nil {
		t.Errorf("link of org a: %v", err)
	}
	if k, err := e.store.APIKey(ctx, a.orgID, a.victimKey); err != nil || k.Name != a.victimKey {
		t.Errorf("key of org a: %+v %v", k, err)
	}
	if f, err := e.store.File(ctx, a.orgID, a.fileID); err != nil || f.Name != "logo.png" {
		t.Errorf("file of org a: %+v %v", f, err)
	}
	if m, err := e.store.Member(ctx, a.orgID, a.victim); err != nil || m.Role != identity.RoleMember {
		t.Errorf("member of org a: %+v %v", m, err)
	}
}
