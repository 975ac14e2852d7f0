package accounts

import (
	"time"

	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

// Views are the API's JSON shapes of accounts objects. They never carry a
// secret, so they are also what the audit log records.

// TimeFormat is RFC 3339 in UTC with milliseconds, the store's precision.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

type Org struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Plan      string `json:"plan"`
	CreatedAt string `json:"createdAt"`
}

func OrgView(o store.Org) Org {
	plan := o.Plan
	if plan == "" {
		plan = "free"
	}
	return Org{ID: o.ID, Name: o.Name, Plan: plan, CreatedAt: stamp(o.CreatedAt)}
}

type Member struct {
	UserID   string `json:"userId"`
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	Role     string `json:"role"`
	JoinedAt string `json:"joinedAt"`
}

func MemberView(m store.Member) Member {
	return Member{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: string(m.Role), JoinedAt: stamp(m.CreatedAt)}
}

type Invitation struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	InvitedBy string `json:"invitedBy"`
	CreatedAt string `json:"createdAt"`
	ExpiresAt string `json:"expiresAt"`
}

func InvitationView(inv store.Invitation) Invitation {
	return Invitation{ID: inv.ID, Email: inv.Email, Role: string(inv.Role), InvitedBy: inv.InvitedBy,
		CreatedAt: stamp(inv.CreatedAt), ExpiresAt: stamp(inv.ExpiresAt)}
}

type Key struct {
	ID          string               `json:"id"`
	Name        string               `json:"name"`
	Type        string               `json:"type"`
	UserID      string               `json:"userId,omitempty"`
	Prefix      string               `json:"prefix"`
	Permissions identity.Permissions `json:"permissions"`
	CreatedBy   string               `json:"createdBy"`
	CreatedAt   string               `json:"createdAt"`
	LastUsedAt  *string              `json:"lastUsedAt"`
	ExpiresAt   *string              `json:"expiresAt"`
}

func optional(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}

func KeyView(k store.APIKey) Key {
	perms := k.Permissions
	if perms == nil {
		perms = identity.Permissions{}
	}
	return Key{ID: k.ID, Name: k.Name, Type: string(k.Type), UserID: k.UserID, Prefix: k.Prefix,
		Permissions: perms, CreatedBy: k.CreatedBy, CreatedAt: stamp(k.CreatedAt),
		LastUsedAt: optional(k.LastUsedAt), ExpiresAt: optional(k.ExpiresAt)}
}
