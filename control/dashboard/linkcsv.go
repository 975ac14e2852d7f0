package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
)

// maxImport bounds an import's upload: the API's bound on the file
// (20 MiB), and room for the form around it.
const maxImport = 20<<20 + 64<<10

// limitUpload bounds the body of next's request to n bytes before
// anything reads it (the CSRF check parses the form).
func limitUpload(n int64, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next(w, r)
	}
}

type importData struct {
	Report *apiclient.ImportReport
	// Failed are the rows the API refused, with why.
	Failed []importFailure
}

type importFailure struct {
	Line   int
	Reason string
}

func (h *Handler) importPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	if !s.Can("shortLinks", "create") {
		h.problem(w, r, s, http.StatusForbidden, "You may not create links in this organization.")
		return
	}
	h.render(w, r, http.StatusOK, "linksimport", view{Title: "Import links", Session: s, Data: importData{}})
}

// importLinks hands the uploaded CSV file to the API as it is, and
// shows what became of each row: how many links were made, and a table
// of the rows refused.
func (h *Handler) importLinks(w http.ResponseWriter, r *http.Request, s *session) {
	f, _, err := r.FormFile("file")
	if err != nil {
		msg := "Choose a CSV file to import."
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			msg = "The file is too large: import files are at most 20 MiB."
		}
		h.importRefused(w, r, s, msg, nil)
		return
	}
	defer f.Close()
	rep, err := s.api.ImportLinks(r.Context(), f)
	if err != nil {
		fields, msg, ok := fieldErrors(err, "file")
		if !ok {
			h.fail(w, r, s, err)
			return
		}
		h.importRefused(w, r, s, msg, fields)
		return
	}
	if !h.page(w, r, s) {
		return
	}
	d := importData{Report: &rep}
	for _, row := range rep.Rows {
		if row.Error == nil {
			continue
		}
		reason := row.Error.Message
		if len(row.Error.Details) > 0 {
			var parts []string
			for _, dt := range row.Error.Details {
				parts = append(parts, strings.TrimSpace(dt.Field+" "+dt.Reason))
			}
			reason = strings.Join(parts, "; ")
		}
		d.Failed = append(d.Failed, importFailure{Line: row.Line, Reason: reason})
	}
	h.render(w, r, http.StatusOK, "linksimport", view{Title: "Import links", Session: s,
		Flash: "Imported " + itoa(int64(rep.Imported)) + " " + plural(rep.Imported, "link") + ".", Data: d})
}

func (h *Handler) importRefused(w http.ResponseWriter, r *http.Request, s *session, msg string, fields map[string]string) {
	if !h.page(w, r, s) {
		return
	}
	if fields == nil {
		fields = map[string]string{"file": msg}
		msg = "Please correct the fields marked below."
	}
	h.render(w, r, http.StatusBadRequest, "linksimport", view{Title: "Import links", Session: s, Error: msg,
		FieldErrors: fields, Data: importData{}})
}

// exportLinks answers the organization's links as a CSV download (GET
// /v1/links/export, H0p's format, which the import reads back),
// streamed as the API writes it.
func (h *Handler) exportLinks(w http.ResponseWriter, r *http.Request, s *session) {
	h.download(w, r, s, "/v1/links/export", nil, "links.csv")
}
