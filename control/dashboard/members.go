package dashboard

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// roles a member can have, in the order the forms offer them.
var roles = []string{"member", "admin", "owner"}

// memberRow is a member as the members table shows them.
type memberRow struct {
	apiclient.Member
	Joined *time.Time
	Me     bool
}

type membersData struct {
	Members []memberRow
	Roles   []string
	// The invitation form's values.
	Email, Role string
}

// Owner reports whether the person is an Owner of the chosen
// organization: only an Owner grants or touches the Owner role.
func (s *session) Owner() bool { return s.Me.Role == "owner" }

// membersPage lists the members, with the forms an Admin or Owner
// changes them with.
func (h *Handler) membersPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderMembers(w, r, s, http.StatusOK, "", nil, membersData{Role: "member"})
}

// renderMembers answers the members page with status, msg about the
// page and the invitation form's field errors and values in d.
func (h *Handler) renderMembers(w http.ResponseWriter, r *http.Request, s *session, status int, msg string,
	fields map[string]string, d membersData) {
	if !h.page(w, r, s) {
		return
	}
	p, err := s.api.ListMembers(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	for _, m := range p.Data {
		d.Members = append(d.Members, memberRow{Member: m, Joined: parseTime(&m.JoinedAt), Me: m.UserID == s.Me.User.ID})
	}
	d.Roles = roles
	h.render(w, r, status, "members", view{Title: "Members", Section: "members", Session: s, Error: msg,
		FieldErrors: fields, Data: d})
}

// memberRefused answers an API refusal of a change on the members page: a
// validation error, a missing permission or a protected Owner (the last
// one cannot leave) is said above the table; the rest is fail's.
func (h *Handler) memberRefused(w http.ResponseWriter, r *http.Request, s *session, err error) {
	e, ok := errors.AsType[*apiclient.Error](err)
	if !ok || e.Status != http.StatusBadRequest && e.Status != http.StatusForbidden && e.Status != http.StatusConflict {
		h.fail(w, r, s, err)
		return
	}
	msg := e.Message
	for _, d := range e.Details {
		msg += "; " + strings.TrimSpace(d.Field+" "+d.Reason)
	}
	if e.Status == http.StatusForbidden {
		msg = "You may not do this: " + e.Message + "."
	}
	h.renderMembers(w, r, s, e.Status, msg, nil, membersData{Role: "member"})
}

func (h *Handler) setMemberRole(w http.ResponseWriter, r *http.Request, s *session) {
	m, err := s.api.SetMemberRole(r.Context(), r.PathValue("id"), r.PostFormValue("role"))
	if err != nil {
		h.memberRefused(w, r, s, err)
		return
	}
	flash(w, r, displayName(m)+" is now "+m.Role+".")
	http.Redirect(w, r, "/members", http.StatusSeeOther)
}

// member finds the member id in the organization's list (the API has no
// GET of one member).
func (h *Handler) member(w http.ResponseWriter, r *http.Request, s *session, id string) (apiclient.Member, bool) {
	p, err := s.api.ListMembers(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return apiclient.Member{}, false
	}
	for _, m := range p.Data {
		if m.UserID == id {
			return m, true
		}
	}
	h.problem(w, r, s, http.StatusNotFound, "Not found: no such member.")
	return apiclient.Member{}, false
}

func (h *Handler) removeMemberPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	m, ok := h.member(w, r, s, r.PathValue("id"))
	if !ok {
		return
	}
	if m.UserID == s.Me.User.ID {
		http.Redirect(w, r, "/members/leave", http.StatusSeeOther)
		return
	}
	if !s.Admin() {
		h.problem(w, r, s, http.StatusForbidden, "You may not remove members of this organization.")
		return
	}
	h.render(w, r, http.StatusOK, "membersremove", view{Title: "Remove " + displayName(m), Section: "members",
		Session: s, Data: m})
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if err := s.api.RemoveMember(r.Context(), id); err != nil {
		h.memberRefused(w, r, s, err)
		return
	}
	flash(w, r, "Member removed: their user key in this organization no longer works.")
	http.Redirect(w, r, "/members", http.StatusSeeOther)
}

func (h *Handler) leavePage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	o, err := s.api.GetOrg(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, http.StatusOK, "membersleave", view{Title: "Leave " + o.Name, Section: "members", Session: s,
		Data: o})
}

// leave takes the person out of the organization; they go on in another
// of theirs, or, in none left, are signed out.
func (h *Handler) leave(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	if err := s.api.LeaveOrg(r.Context()); err != nil {
		h.memberRefused(w, r, s, err)
		return
	}
	for _, m := range s.Me.Organizations {
		if m.OrgID != s.Me.OrgID {
			setCookie(w, r, orgCookie, m.OrgID, h.orgExpiry())
			flash(w, r, "You left the organization.")
			http.Redirect(w, r, "/links", http.StatusSeeOther)
			return
		}
	}
	// A session in no organization can do nothing here: it ends (through
	// a client in no organization, which the API now refuses).
	c, _ := r.Cookie(sessionCookie) // signedIn found it
	if err := h.client(r, c.Value, "").Logout(r.Context()); err != nil && !apiclient.IsCode(err, apierror.Unauthorized) {
		h.fail(w, r, nil, err)
		return
	}
	clearSession(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type invitedData struct {
	Invitation apiclient.Invitation
	Link       string
	Expires    *time.Time
}

// invite asks the API for an invitation and answers its link: shown
// this once (the API keeps only a digest of the token).
func (h *Handler) invite(w http.ResponseWriter, r *http.Request, s *session) {
	email, role := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("role")
	inv, err := s.api.Invite(r.Context(), email, role)
	if err != nil {
		fields, msg, ok := fieldErrors(err, "email", "role")
		if !ok {
			h.memberRefused(w, r, s, err)
			return
		}
		if e, _ := errors.AsType[*apiclient.Error](err); e != nil && e.Status == http.StatusConflict && len(fields) == 0 {
			// Already a member: said beside the address.
			fields, msg = map[string]string{"email": e.Message}, "Please correct the fields marked below."
		}
		h.renderMembers(w, r, s, http.StatusBadRequest, msg, fields, membersData{Email: email, Role: role})
		return
	}
	if !h.page(w, r, s) {
		return
	}
	h.render(w, r, http.StatusOK, "membersinvited", view{Title: "Invitation for " + inv.Email, Section: "members",
		Session: s, Flash: "Invitation created.",
		Data: invitedData{Invitation: inv, Link: origin(r) + "/invite/" + inv.Token, Expires: parseTime(&inv.ExpiresAt)}})
}

// origin is the scheme and host the request came to: where the invited
// person opens the dashboard.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func displayName(m apiclient.Member) string {
	if m.Name != "" {
		return m.Name
	}
	if m.Email != "" {
		return m.Email
	}
	return m.UserID
}
