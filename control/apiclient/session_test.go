package apiclient_test

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// TestInProcessTransport: a request through InProcess reaches the handler
// from the caller's address, with its method, path, query, headers and
// body, and its answer comes back whole.
func TestInProcessTransport(t *testing.T) {
	var got *http.Request
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("X-Seen", r.Header.Get("x-org-id"))
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte(`{"error":{"code":"VALIDATION_ERROR","message":"short and stout"}}`))
	})
	c, err := apiclient.NewSession(apiclient.InProcessURL, "h0p_s_token", "org_1")
	if err != nil {
		t.Fatal(err)
	}
	c.HTTPClient = &http.Client{Transport: apiclient.InProcess(h, "192.0.2.7:4242")}
	err = c.Do(context.Background(), "POST", "/v1/links", url.Values{"a": {"b"}}, map[string]string{"url": "x"}, nil)
	e, ok := err.(*apiclient.Error)
	if !ok || e.Status != http.StatusTeapot || e.Code != apierror.ValidationError || e.Message != "short and stout" {
		t.Fatalf("answer: %v", err)
	}
	if got.RemoteAddr != "192.0.2.7:4242" || got.Method != "POST" || got.URL.Path != "/v1/links" ||
		got.URL.RawQuery != "a=b" || got.RequestURI != "/v1/links?a=b" {
		t.Errorf("request: %s %s %s from %s", got.Method, got.RequestURI, got.URL, got.RemoteAddr)
	}
	if a, o, k := got.Header.Get("Authorization"), got.Header.Get("x-org-id"), got.Header.Get("x-api-key"); a != "Bearer h0p_s_token" || o != "org_1" || k != "" {
		t.Errorf("credentials: Authorization %q, x-org-id %q, x-api-key %q", a, o, k)
	}
}

// TestSessionClient: a person invited by the Owner accepts with a
// password, signs in, acts through a session client (in process, through
// the API's own server), and signing out ends the session on the server.
func TestSessionClient(t *testing.T) {
	ctx := context.Background()
	a := mustStartAPI(t)
	owner := mustClient(t, a.control.URL(), a.key)
	var inv struct {
		Token string `json:"token"`
	}
	if err := owner.Do(ctx, "POST", "/v1/invitations", nil, map[string]string{"email": "ada@example.com", "role": "member"}, &inv); err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(a.control.URL())
	transport := apiclient.InProcess(httputil.NewSingleHostReverseProxy(base), "127.0.0.1:1")
	session := func(token, org string) *apiclient.Client {
		c, err := apiclient.NewSession(apiclient.InProcessURL, token, org)
		if err != nil {
			t.Fatal(err)
		}
		c.HTTPClient = &http.Client{Transport: transport}
		return c
	}
	acc, err := session("", "").AcceptInvitation(ctx, inv.Token, "Ada", "a long password")
	if err != nil || acc.OrgID == "" || acc.User.Email != "ada@example.com" {
		t.Fatalf("accept: %+v %v", acc, err)
	}
	login, err := session("", "").Login(ctx, "ada@example.com", "a long password")
	if err != nil || login.Token == "" || login.ExpiresAt.IsZero() || len(login.Organizations) != 1 {
		t.Fatalf("login: %+v %v", login, err)
	}
	ada := session(login.Token, acc.OrgID)
	me, err := ada.Me(ctx)
	if err != nil || me.OrgID != acc.OrgID || me.Role != "member" || !me.Can("shortLinks", "delete") || me.Can("apiKeys", "read") {
		t.Fatalf("me: %+v %v", me, err)
	}
	org, err := ada.GetOrg(ctx)
	if err != nil || org.ID != acc.OrgID || org.Plan == "" {
		t.Fatalf("org: %+v %v", org, err)
	}
	if _, err := ada.RenameOrg(ctx, "Ada's"); !apiclient.IsCode(err, apierror.Forbidden) {
		t.Errorf("a Member renames the org: %v, want FORBIDDEN", err)
	}
	if err := ada.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ada.Me(ctx); !apiclient.IsCode(err, apierror.Unauthorized) {
		t.Errorf("after logout: %v, want UNAUTHORIZED", err)
	}
}
