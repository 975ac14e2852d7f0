package dashboard

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
)

// previewCard is what a social network's bot sees of a link with a
// preview (the edge's Open Graph page): its title, description and image
// and the destination's host.
type previewCard struct {
	Title, Description, Host string
	// Image is the preview's image as the link holds it: an URL or a
	// file of the org (file_…). ImageSrc is where the page may load it
	// from under its Content-Security-Policy (img-src 'self'): the
	// dashboard's preview image route for a file, the path of a public
	// file URL of this server; "" for an image elsewhere, which is shown
	// as its URL, never fetched.
	Image, ImageSrc string
}

// cardOf is l's card, nil when l has no preview (bots then follow the
// redirect and show the destination's own).
func (h *Handler) cardOf(l apiclient.Link) *previewCard {
	p := l.Preview
	if p == nil || *p == (apiclient.Preview{}) {
		return nil
	}
	c := &previewCard{Title: p.Title, Description: p.Description, Image: p.Image, Host: hostOf(l.URL)}
	c.ImageSrc = h.imageSrc(p.Image, "/links/"+url.PathEscape(l.ID)+"/preview-image")
	return c
}

// formCard is the card of the link form's preview fields, nil when they
// are empty: what the link's page will show once it is saved, before
// static/app.js redraws it as the person types.
func (h *Handler) formCard(f linkForm) *previewCard {
	if f.PreviewTitle == "" && f.PreviewDescription == "" && f.PreviewImage == "" {
		return nil
	}
	c := &previewCard{Title: f.PreviewTitle, Description: f.PreviewDescription, Image: f.PreviewImage, Host: hostOf(f.URL)}
	fileSrc := "" // an ID that is none: shown as typed
	if fileIDRe.MatchString(f.PreviewImage) {
		fileSrc = "/files/" + f.PreviewImage + "/image"
	}
	c.ImageSrc = h.imageSrc(f.PreviewImage, fileSrc)
	return c
}

func hostOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Host
	}
	return ""
}

// fileIDRe is what a file's ID looks like (the form's card loads no
// other through the file image route).
var fileIDRe = regexp.MustCompile(`^file_[0-9A-Za-z]+$`)

// imageSrc is where a page may load the preview image image from (see
// previewCard.ImageSrc): fileSrc for a file of the org, the path of a
// public file URL of this server, "" for another URL.
func (h *Handler) imageSrc(image, fileSrc string) string {
	own := strings.TrimSuffix(h.cfg.PublicURL, "/")
	switch {
	case strings.HasPrefix(image, "file_"):
		return fileSrc
	case own != "" && strings.HasPrefix(image, own+"/f/"):
		return strings.TrimPrefix(image, own)
	}
	return ""
}

// rasterTypes are the media types a preview image file may have (the
// API's rule); the preview image route serves no other.
var rasterTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// previewImage answers the image file of link id's preview, so that the
// card shows it under the page's Content-Security-Policy.
func (h *Handler) previewImage(w http.ResponseWriter, r *http.Request, s *session) {
	l, err := s.api.GetLink(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if l.Preview == nil || !strings.HasPrefix(l.Preview.Image, "file_") {
		h.problem(w, r, s, http.StatusNotFound, "This link's preview has no image file.")
		return
	}
	h.serveImage(w, r, s, l.Preview.Image)
}

// fileImage answers an image file of the org, for the link form's card
// (the preview image typed there is not the link's yet).
func (h *Handler) fileImage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !fileIDRe.MatchString(id) {
		h.problem(w, r, s, http.StatusNotFound, "There is no such file.")
		return
	}
	h.serveImage(w, r, s, id)
}

// serveImage answers file id of the org, read through the API as the
// person (GET /v1/files/{id}/content), when it is a PNG, JPEG, GIF or
// WebP image.
func (h *Handler) serveImage(w http.ResponseWriter, r *http.Request, s *session, id string) {
	path := "/v1/files/" + url.PathEscape(id)
	var f apiclient.File
	if err := s.api.Do(r.Context(), "GET", path, nil, nil, &f); err != nil {
		h.fail(w, r, s, err)
		return
	}
	if !rasterTypes[f.Type] {
		h.problem(w, r, s, http.StatusNotFound, "This preview image is not a PNG, JPEG, GIF or WebP file.")
		return
	}
	body, err := s.api.Stream(r.Context(), "GET", path+"/content", nil, nil)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	defer body.Close()
	w.Header().Set("Content-Type", f.Type)
	w.Header().Set("Cache-Control", "private, max-age=300")
	if _, err := io.Copy(w, body); err != nil {
		// Cut, not ended as if whole.
		h.logFailure(r, err)
		panic(http.ErrAbortHandler)
	}
}
