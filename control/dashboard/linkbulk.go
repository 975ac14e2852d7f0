package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
)

// maxSelected bounds the links one bulk form acts on: the table shows a
// page (pageSize), and adding a tag reads each link selected.
const maxSelected = 2 * pageSize

type bulkDeleteData struct {
	Links []apiclient.Link
	Back  string
}

// bulkLinks acts on the links ticked in the links table: action
// "delete" asks for a confirmation (a page that posts again with
// confirm), "tag" adds a tag to each. The person goes back to the table
// they came from, told what was done and what the API refused.
func (h *Handler) bulkLinks(w http.ResponseWriter, r *http.Request, s *session) {
	r.ParseForm()
	back := r.PostFormValue("back")
	if back = localPath(back); !strings.HasPrefix(back, "/links") {
		back = "/links"
	}
	ids := slices.Compact(slices.Sorted(slices.Values(r.PostForm["id"])))
	switch {
	case len(ids) == 0:
		flash(w, r, "Select at least one link.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	case len(ids) > maxSelected:
		h.problem(w, r, s, http.StatusBadRequest, fmt.Sprintf("Select at most %d links at a time.", maxSelected))
		return
	}
	switch r.PostFormValue("action") {
	case "delete":
		if r.PostFormValue("confirm") == "" {
			h.confirmBulkDelete(w, r, s, ids, back)
			return
		}
		res, err := s.api.BulkDeleteLinks(r.Context(), ids)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		var out outcome
		out.add(res, ids)
		flash(w, r, out.say("Deleted %d %s."))
	case "tag":
		tag := strings.TrimSpace(r.PostFormValue("tag"))
		if tag == "" {
			flash(w, r, "Give the tag to add to the selected links.")
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		msg, err := h.addTag(r, s, ids, tag)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		flash(w, r, msg)
	default:
		h.problem(w, r, s, http.StatusBadRequest, "Choose what to do with the selected links.")
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (h *Handler) confirmBulkDelete(w http.ResponseWriter, r *http.Request, s *session, ids []string, back string) {
	if !h.page(w, r, s) {
		return
	}
	d := bulkDeleteData{Back: back}
	for _, id := range ids {
		l, err := s.api.GetLink(r.Context(), id)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.Links = append(d.Links, l)
	}
	h.render(w, r, http.StatusOK, "linksbulkdelete", view{Title: "Delete links", Session: s, Data: d})
}

// addTag adds tag to each link of ids. The API's bulk update sets the
// same tags on every link it names, so the links are read and grouped by
// the tags they will have: one bulk update a group.
func (h *Handler) addTag(r *http.Request, s *session, ids []string, tag string) (string, error) {
	groups := map[string][]string{}
	var order []string
	var out outcome
	for _, id := range ids {
		l, err := s.api.GetLink(r.Context(), id)
		if e, ok := errors.AsType[*apiclient.Error](err); ok && e.Status == http.StatusNotFound {
			out.failed = append(out.failed, id+" "+e.Message)
			continue
		}
		if err != nil {
			return "", err
		}
		tags := l.Tags
		if !slices.Contains(tags, tag) {
			tags = append(slices.Clone(tags), tag)
		}
		k := strings.Join(tags, "\x00")
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], id)
	}
	for _, k := range order {
		rs, err := s.api.BulkUpdateLinks(r.Context(), groups[k], apiclient.LinkInput{Tags: strings.Split(k, "\x00")})
		if err != nil {
			return "", err
		}
		out.add(rs, groups[k])
	}
	return out.say("Tag " + tag + " added to %d %s."), nil
}

// outcome is what a bulk action did: how many links it changed, and the
// API's refusals of single links ("id reason").
type outcome struct {
	done   int
	failed []string
}

// add counts the results of a bulk call on ids (the API answers one a
// link named, in order).
func (o *outcome) add(res []apiclient.BulkResult, ids []string) {
	for _, x := range res {
		if x.Err == nil {
			o.done++
			continue
		}
		id := ""
		if x.Index >= 0 && x.Index < len(ids) {
			id = ids[x.Index]
		}
		o.failed = append(o.failed, strings.TrimSpace(id+" "+x.Err.Message))
	}
}

// say is the outcome in a sentence: done formats the count and "link(s)".
func (o outcome) say(done string) string {
	msg := fmt.Sprintf(done, o.done, plural(o.done, "link"))
	// The message goes in a cookie: a few refusals are named, the rest
	// counted.
	const named = 5
	if f := o.failed; len(f) > named {
		msg += fmt.Sprintf(" %d refused: %s; and %d more.", len(f), strings.Join(f[:named], "; "), len(f)-named)
	} else if len(f) > 0 {
		msg += fmt.Sprintf(" %d refused: %s.", len(f), strings.Join(f, "; "))
	}
	return msg
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
