package apiclient

import (
	"context"
	"net/url"
	"time"
)

// User is a person's account.
type User struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"emailVerified"`
	Name          string `json:"name"`
	CreatedAt     string `json:"createdAt"`
}

// Membership is a person's role in one organization.
type Membership struct {
	OrgID string `json:"orgId"`
	Role  string `json:"role"`
}

// Login is the answer of POST /v1/auth/login: a session token, shown
// once, and who signed in.
type Login struct {
	Token         string       `json:"token"`
	ExpiresAt     time.Time    `json:"expiresAt"`
	User          User         `json:"user"`
	Organizations []Membership `json:"organizations"`
}

// Login signs in with email and password (no credentials needed).
func (c *Client) Login(ctx context.Context, email, password string) (Login, error) {
	var l Login
	in := struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}{email, password}
	return l, c.Do(ctx, "POST", "/v1/auth/login", nil, in, &l)
}

// Logout ends the client's session on the server.
func (c *Client) Logout(ctx context.Context) error {
	return c.Do(ctx, "POST", "/v1/auth/logout", nil, nil, nil)
}

// Me is the caller as GET /v1/me shows it: the person, their
// organizations, and the organization, role and permissions of this call.
type Me struct {
	User          User                `json:"user"`
	Organizations []Membership        `json:"organizations"`
	OrgID         string              `json:"orgId"`
	Role          string              `json:"role"`
	Via           string              `json:"via"`
	Permissions   map[string][]string `json:"permissions"`
}

// Can reports whether the caller has the permission resource:action
// (e.g. "shortLinks", "delete").
func (m Me) Can(resource, action string) bool {
	for _, a := range m.Permissions[resource] {
		if a == action {
			return true
		}
	}
	return false
}

// Me reads the caller (GET /v1/me).
func (c *Client) Me(ctx context.Context) (Me, error) {
	var m Me
	return m, c.Do(ctx, "GET", "/v1/me", nil, nil, &m)
}

// Org is the caller's organization with its plan's limits and features
// and its usage (GET /v1/org). A limit nil has no bound; 0 is not in the
// plan.
type Org struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Plan          string          `json:"plan"`
	CreatedAt     string          `json:"createdAt"`
	Limits        map[string]*int `json:"limits"`
	Features      map[string]bool `json:"features"`
	Usage         OrgUsage        `json:"usage"`
	ClickTracking struct {
		Paused    bool    `json:"paused"`
		ResumesAt *string `json:"resumesAt"`
		Message   string  `json:"message"`
	} `json:"clickTracking"`
}

// OrgUsage is the organization's usage against its plan's limits.
type OrgUsage struct {
	LinksCreatedThisMonth  int64 `json:"linksCreatedThisMonth"`
	CustomDomains          int   `json:"customDomains"`
	Tags                   int   `json:"tags"`
	APIKeys                int   `json:"apiKeys"`
	Webhooks               int   `json:"webhooks"`
	TrackedClicksThisMonth int64 `json:"trackedClicksThisMonth"`
	Files                  int   `json:"files"`
	FilesStorageBytes      int64 `json:"filesStorageBytes"`
	APIRequestsThisMonth   *struct {
		Requests    int64 `json:"requests"`
		Errors      int64 `json:"errors"`
		RateLimited int64 `json:"rateLimited"`
	} `json:"apiRequestsThisMonth"`
}

// GetOrg reads the caller's organization, plan and usage.
func (c *Client) GetOrg(ctx context.Context) (Org, error) {
	var o Org
	return o, c.Do(ctx, "GET", "/v1/org", nil, nil, &o)
}

// RenameOrg renames the caller's organization (Admin or Owner).
func (c *Client) RenameOrg(ctx context.Context, name string) (Org, error) {
	var o Org
	in := struct {
		Name string `json:"name"`
	}{name}
	return o, c.Do(ctx, "PATCH", "/v1/org", nil, in, &o)
}

// Accepted is the answer of accepting an invitation.
type Accepted struct {
	OrgID string `json:"orgId"`
	User  User   `json:"user"`
}

// AcceptInvitation joins the organization of invitation token: as the
// signed-in person (a session client; name and password ""), or as a new
// account with name and password (a client without credentials).
func (c *Client) AcceptInvitation(ctx context.Context, token, name, password string) (Accepted, error) {
	var a Accepted
	var in any
	if name != "" || password != "" {
		in = struct {
			Name     string `json:"name"`
			Password string `json:"password"`
		}{name, password}
	}
	return a, c.Do(ctx, "POST", "/v1/invitations/"+url.PathEscape(token)+"/accept", nil, in, &a)
}
