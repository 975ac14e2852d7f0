package apiclient

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// Member is a person's membership of the caller's organization.
type Member struct {
	UserID   string `json:"userId"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	JoinedAt string `json:"joinedAt"`
}

// ListMembers lists the organization's members (GET /v1/members).
func (c *Client) ListMembers(ctx context.Context) (Page[Member], error) {
	var p Page[Member]
	return p, c.Do(ctx, "GET", "/v1/members", nil, nil, &p)
}

// SetMemberRole gives the member userID role (owner, admin or member);
// Admin or Owner, and only an Owner touches the Owner role.
func (c *Client) SetMemberRole(ctx context.Context, userID, role string) (Member, error) {
	var m Member
	in := struct {
		Role string `json:"role"`
	}{role}
	return m, c.Do(ctx, "PATCH", "/v1/members/"+url.PathEscape(userID), nil, in, &m)
}

// RemoveMember removes the member userID from the organization.
func (c *Client) RemoveMember(ctx context.Context, userID string) error {
	return c.Do(ctx, "DELETE", "/v1/members/"+url.PathEscape(userID), nil, nil, nil)
}

// LeaveOrg removes the caller from the organization (the last Owner
// cannot leave).
func (c *Client) LeaveOrg(ctx context.Context) error {
	return c.Do(ctx, "DELETE", "/v1/members/me", nil, nil, nil)
}

// Invitation is an invitation to the organization, with its token: the
// answer of creating it is the only one that has it.
type Invitation struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	InvitedBy string `json:"invitedBy"`
	CreatedAt string `json:"createdAt"`
	ExpiresAt string `json:"expiresAt"`
	Token     string `json:"token"`
}

// Invite invites email into the organization with role (POST
// /v1/invitations).
func (c *Client) Invite(ctx context.Context, email, role string) (Invitation, error) {
	var inv Invitation
	in := struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}{email, role}
	return inv, c.Do(ctx, "POST", "/v1/invitations", nil, in, &inv)
}

// AuditEntry is one change of the organization's audit log. Diff is
// {"before":…,"after":…} (either side may be missing), or null.
type AuditEntry struct {
	ID           string          `json:"id"`
	At           string          `json:"at"`
	ActorType    string          `json:"actorType"`
	ActorID      string          `json:"actorId"`
	KeyID        string          `json:"keyId"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resourceType"`
	ResourceID   string          `json:"resourceId"`
	RequestID    string          `json:"requestId"`
	IP           string          `json:"ip"`
	Diff         json.RawMessage `json:"diff"`
}

// AuditQuery filters the audit log; every field is optional. From and
// To bound the time, [From, To).
type AuditQuery struct {
	Actor, ResourceType, ResourceID string
	From, To                        time.Time
	Limit                           int
	Cursor                          string
}

// Values is q as query parameters.
func (q AuditQuery) Values() url.Values {
	v := url.Values{}
	set(v, "actor", q.Actor)
	set(v, "resourceType", q.ResourceType)
	set(v, "resourceId", q.ResourceID)
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	setInt(v, "limit", q.Limit)
	set(v, "cursor", q.Cursor)
	return v
}

// ListAuditLogs reads a page of the audit log, newest first (Admin or
// Owner).
func (c *Client) ListAuditLogs(ctx context.Context, q AuditQuery) (Page[AuditEntry], error) {
	var p Page[AuditEntry]
	return p, c.Do(ctx, "GET", "/v1/audit-logs", q.Values(), nil, &p)
}
