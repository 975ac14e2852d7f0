package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/page"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/usage"
	"github.com/h0p/h0p/shared/apierror"
)

// list is the envelope of every list response.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

func listOf[S, T any](items []S, view func(S) T) list[T] {
	out := list[T]{Data: make([]T, 0, len(items))}
	for _, it := range items {
		out.Data = append(out.Data, view(it))
	}
	return out
}

// pageOf is a page of a list: listOf, and the cursor of the next page
// ("" at the end).
func pageOf[S, T any](items []S, view func(S) T, next string) list[T] {
	out := listOf(items, view)
	if next != "" {
		out.NextCursor = &next
	}
	return out
}

// queryLimit is a list's limit query parameter: 0 when not given (the
// list's default), else a positive number (control/page bounds it).
func queryLimit(c *gin.Context) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, apierror.Invalid("limit", "must be 1 to 100")
	}
	return n, nil
}

// respond writes v with status, or the error.
func (h *handler) respond(c *gin.Context, status int, v any, err error) {
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(status, v)
}

// --- auth ------------------------------------------------------------------

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type userJSON struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"emailVerified"`
	Name          string `json:"name"`
	CreatedAt     string `json:"createdAt"`
}

func userView(u store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, EmailVerified: !u.EmailVerifiedAt.IsZero(), Name: u.Name,
		CreatedAt: u.CreatedAt.UTC().Format(accounts.TimeFormat)}
}

type membershipJSON struct {
	OrgID string `json:"orgId"`
	Role  string `json:"role"`
}

func membershipsView(ms []store.Member) []membershipJSON {
	out := make([]membershipJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, membershipJSON{OrgID: m.OrgID, Role: string(m.Role)})
	}
	return out
}

func (h *handler) login(c *gin.Context) {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	token, sess, err := h.Accounts.Login(ctx, req.Email, req.Password)
	if err != nil {
		h.fail(c, err)
		return
	}
	u, ms, err := h.Accounts.Me(ctx, principalFor(sess))
	h.respond(c, http.StatusOK, gin.H{
		"token": token, "expiresAt": sess.ExpiresAt.UTC().Format(accounts.TimeFormat),
		"user": userView(u), "organizations": membershipsView(ms),
	}, err)
}

func (h *handler) logout(c *gin.Context) {
	if err := h.Accounts.Logout(c.Request.Context(), principalOf(c)); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handler) me(c *gin.Context) {
	p := principalOf(c)
	u, ms, err := h.Accounts.Me(c.Request.Context(), p)
	h.respond(c, http.StatusOK, gin.H{
		"user": userView(u), "organizations": membershipsView(ms),
		"orgId": p.OrgID, "role": p.Role, "via": p.Kind, "permissions": p.Effective().Permissions(),
	}, err)
}

type passwordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// changePassword sets a new password; every other session of the user ends.
func (h *handler) changePassword(c *gin.Context) {
	var req passwordRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	if err := h.Accounts.ChangePassword(c.Request.Context(), principalOf(c), req.CurrentPassword, req.NewPassword); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type resetRequest struct {
	Email string `json:"email"`
}

// requestPasswordReset mails a reset code; the answer is the same whether
// an account exists or not.
func (h *handler) requestPasswordReset(c *gin.Context) {
	var req resetRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	err := h.Accounts.RequestPasswordReset(c.Request.Context(), req.Email)
	h.respond(c, http.StatusAccepted, gin.H{"message": "if an account has this email address, a reset code is on its way"}, err)
}

type codeRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (h *handler) resetPassword(c *gin.Context) {
	var req codeRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	u, err := h.Accounts.ResetPassword(c.Request.Context(), req.Token, req.Password)
	h.respond(c, http.StatusOK, gin.H{"user": userView(u)}, err)
}

func (h *handler) verifyEmail(c *gin.Context) {
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	u, err := h.Accounts.VerifyEmail(c.Request.Context(), principalOf(c), req.Token)
	h.respond(c, http.StatusOK, gin.H{"user": userView(u)}, err)
}

func (h *handler) resendVerification(c *gin.Context) {
	u, err := h.Accounts.ResendVerification(c.Request.Context(), principalOf(c))
	h.respond(c, http.StatusOK, gin.H{"user": userView(u)}, err)
}

// --- orgs ------------------------------------------------------------------

type orgRequest struct {
	Name string `json:"name"`
}

func (h *handler) createOrg(c *gin.Context) {
	var req orgRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	o, err := h.Accounts.CreateOrg(c.Request.Context(), principalOf(c), req.Name)
	h.respond(c, http.StatusCreated, accounts.OrgView(o), err)
}

// getOrg shows the org with what its plan allows of what H0p serves today
// (plans.Plan.Served: no limits or features of endpoints still to come).
func (h *handler) getOrg(c *gin.Context) {
	ctx, p := c.Request.Context(), principalOf(c)
	o, plan, u, err := h.Accounts.OrgUsage(ctx, p)
	if err != nil {
		h.fail(c, err)
		return
	}
	plan = plan.Served()
	view := orgUsage{Usage: u}
	if h.Usage != nil {
		month, err := h.Usage.Month(ctx, p.OrgID)
		if err != nil {
			h.fail(c, err)
			return
		}
		view.API = &month
	}
	h.respond(c, http.StatusOK, struct {
		accounts.Org
		Limits        map[string]*int `json:"limits"`
		Features      map[string]bool `json:"features"`
		Usage         orgUsage        `json:"usage"`
		ClickTracking clickTracking   `json:"clickTracking"`
	}{accounts.OrgView(o), limitsView(plan.Limits), plan.Features, view, clickTrackingOf(plan, u, h.Now())}, nil)
}

// orgUsage is the usage section of GET /v1/org: the plan's counters, and
// the API requests of the month (UTC) by every caller of the org.
type orgUsage struct {
	accounts.Usage
	API *usage.Totals `json:"apiRequestsThisMonth,omitempty"`
}

// clickTracking says whether the org's clicks are counted: past its plan's
// trackedClicksPerMonth, links keep redirecting but their clicks are not
// counted or stored until the next month (UTC).
type clickTracking struct {
	Paused    bool    `json:"paused"`
	ResumesAt *string `json:"resumesAt"`
	Message   string  `json:"message,omitempty"`
}

func clickTrackingOf(plan plans.Plan, u accounts.Usage, now time.Time) clickTracking {
	limit := plan.Limits[plans.ClicksPerMonth]
	if limit <= 0 || u.ClicksThisMonth < int64(limit) {
		return clickTracking{}
	}
	y, m, _ := now.UTC().Date()
	resumes := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	return clickTracking{Paused: true, ResumesAt: &resumes, Message: fmt.Sprintf(
		"the %s plan's %d tracked clicks this month are used: links keep redirecting, but their clicks are not counted or stored until %s",
		plan.Name, limit, resumes)}
}

// limitsView shows a plan's limits to clients: null for no limit, 0 where
// the plan does not include the thing at all.
func limitsView(limits map[string]int) map[string]*int {
	out := map[string]*int{}
	for k, v := range limits {
		switch {
		case v == 0:
			out[k] = nil
		case v < 0:
			zero := 0
			out[k] = &zero
		default:
			out[k] = &v
		}
	}
	return out
}

func (h *handler) patchOrg(c *gin.Context) {
	var req orgRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	o, err := h.Accounts.RenameOrg(c.Request.Context(), principalOf(c), req.Name)
	h.respond(c, http.StatusOK, accounts.OrgView(o), err)
}

// --- members and invitations -----------------------------------------------

func (h *handler) listMembers(c *gin.Context) {
	ms, err := h.Accounts.Members(c.Request.Context(), principalOf(c))
	h.respond(c, http.StatusOK, listOf(ms, accounts.MemberView), err)
}

type roleRequest struct {
	Role string `json:"role"`
}

func (h *handler) patchMember(c *gin.Context) {
	var req roleRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	m, err := h.Accounts.SetRole(c.Request.Context(), principalOf(c), c.Param("userId"), req.Role)
	h.respond(c, http.StatusOK, accounts.MemberView(m), err)
}

func (h *handler) leave(c *gin.Context) {
	p := principalOf(c)
	err := h.Accounts.RemoveMember(c.Request.Context(), p, p.UserID)
	h.respond(c, http.StatusOK, gin.H{"userId": p.UserID}, err)
}

func (h *handler) removeMember(c *gin.Context) {
	id := c.Param("userId")
	err := h.Accounts.RemoveMember(c.Request.Context(), principalOf(c), id)
	h.respond(c, http.StatusOK, gin.H{"userId": id}, err)
}

type inviteRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

func (h *handler) invite(c *gin.Context) {
	var req inviteRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	token, inv, err := h.Accounts.Invite(c.Request.Context(), principalOf(c), req.Email, req.Role)
	h.respond(c, http.StatusCreated, struct {
		accounts.Invitation
		Token string `json:"token"`
	}{accounts.InvitationView(inv), token}, err)
}

type acceptRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// acceptInvitation joins the invitation's org: as the signed-in user (the
// body may be empty), or as a new account made from the body.
func (h *handler) acceptInvitation(c *gin.Context) {
	var req acceptRequest
	p := principalOf(c)
	if c.Request.ContentLength != 0 || p.UserID == "" {
		if err := decodeJSON(c, &req); err != nil {
			h.fail(c, err)
			return
		}
	}
	a, err := h.Accounts.Accept(c.Request.Context(), p, c.Param("token"), req.Name, req.Password)
	h.respond(c, http.StatusOK, gin.H{"orgId": a.Member.OrgID, "member": accounts.MemberView(a.Member),
		"user": userView(a.User)}, err)
}

// --- API keys --------------------------------------------------------------

type keyRequest struct {
	Name        *string               `json:"name"`
	Type        string                `json:"type"`
	Permissions *identity.Permissions `json:"permissions"`
	ExpiresAt   *string               `json:"expiresAt"`
}

func (r keyRequest) input() (accounts.KeyInput, error) {
	in := accounts.KeyInput{Name: r.Name, Type: r.Type, Permissions: r.Permissions}
	if r.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *r.ExpiresAt)
		if err != nil {
			return in, apierror.Invalid("expiresAt", "must be an RFC 3339 time")
		}
		in.ExpiresAt = &t
	}
	return in, nil
}

// decodeKeyRequest reads a key request body.
func decodeKeyRequest(c *gin.Context) (accounts.KeyInput, error) {
	var req keyRequest
	if err := decodeJSON(c, &req); err != nil {
		return accounts.KeyInput{}, err
	}
	return req.input()
}

// keyWithSecret is a key as shown the one time its secret is.
type keyWithSecret struct {
	accounts.Key
	Secret string `json:"key"`
}

func (h *handler) createKey(c *gin.Context) {
	in, err := decodeKeyRequest(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	plain, k, err := h.Accounts.CreateKey(c.Request.Context(), principalOf(c), in)
	h.respond(c, http.StatusCreated, keyWithSecret{accounts.KeyView(k), plain}, err)
}

func (h *handler) listKeys(c *gin.Context) {
	keys, err := h.Accounts.Keys(c.Request.Context(), principalOf(c))
	h.respond(c, http.StatusOK, listOf(keys, accounts.KeyView), err)
}

func (h *handler) getKey(c *gin.Context) {
	k, err := h.Accounts.Key(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, accounts.KeyView(k), err)
}

func (h *handler) patchKey(c *gin.Context) {
	in, err := decodeKeyRequest(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	k, err := h.Accounts.UpdateKey(c.Request.Context(), principalOf(c), c.Param("id"), in)
	h.respond(c, http.StatusOK, accounts.KeyView(k), err)
}

func (h *handler) rotateKey(c *gin.Context) {
	plain, k, err := h.Accounts.RotateKey(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, keyWithSecret{accounts.KeyView(k), plain}, err)
}

func (h *handler) deleteKey(c *gin.Context) {
	id := c.Param("id")
	err := h.Accounts.DeleteKey(c.Request.Context(), principalOf(c), id)
	h.respond(c, http.StatusOK, gin.H{"id": id}, err)
}

// --- audit log -------------------------------------------------------------

type auditJSON struct {
	ID           string `json:"id"`
	At           string `json:"at"`
	ActorType    string `json:"actorType"`
	ActorID      string `json:"actorId"`
	KeyID        string `json:"keyId,omitempty"`
	Action       string `json:"action"`
	ResourceType string `json:"resourceType"`
	ResourceID   string `json:"resourceId"`
	RequestID    string `json:"requestId"`
	IP           string `json:"ip"`
	Diff         any    `json:"diff"`
}

func auditView(e store.AuditEntry) auditJSON {
	var diff any
	if len(e.Diff) > 0 {
		diff = e.Diff
	}
	return auditJSON{ID: e.ID, At: e.At.UTC().Format(accounts.TimeFormat), ActorType: e.ActorType, ActorID: e.ActorID,
		KeyID: e.KeyID, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		RequestID: e.RequestID, IP: e.IP, Diff: diff}
}

func queryTime(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apierror.Invalid(name, "must be an RFC 3339 time")
	}
	return t, nil
}

func (h *handler) auditLogs(c *gin.Context) {
	f := store.AuditFilter{ActorID: c.Query("actor"), ResourceType: c.Query("resourceType"),
		ResourceID: c.Query("resourceId"), Before: c.Query("cursor")}
	var err error
	if f.From, err = queryTime(c, "from"); err != nil {
		h.fail(c, err)
		return
	}
	if f.To, err = queryTime(c, "to"); err != nil {
		h.fail(c, err)
		return
	}
	if f.Limit, err = queryLimit(c); err != nil {
		h.fail(c, err)
		return
	}
	entries, err := h.Accounts.AuditLogs(c.Request.Context(), principalOf(c), f)
	next := ""
	if n := len(entries); n > 0 && (n == f.Limit || f.Limit == 0 && n == page.Default) {
		next = entries[n-1].ID
	}
	out := pageOf(entries, auditView, next)
	h.respond(c, http.StatusOK, out, err)
}
