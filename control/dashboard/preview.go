package dashboard

import (
	"io"
	"net/http"
	"net/url"
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
	c := &previewCard{Title: p.Title, Description: p.Description, Image: p.Image}
	if u, err := url.Parse(l.URL); err == nil {
		c.Host = u.Host
	}
	own := strings.TrimSuffix(h.cfg.PublicURL, "/")
	switch {
	case strings.HasPrefix(p.Image, "file_"):
		c.ImageSrc = "/links/" + url.PathEscape(l.ID) + "/preview-image"
	case own != "" && strings.HasPrefix(p.Image, own+"/f/"):
		c.ImageSrc = strings.TrimPrefix(p.Image, own)
	}
	return c
}

// rasterTypes are the media types a preview image file may have (the
// API's rule); the preview image route serves no other.
var rasterTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// previewImage answers the image file of link id's preview, read through
// the API as the person (GET /v1/files/{id}/content), so that the card
// shows it under the page's Content-Security-Policy.
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
	path := "/v1/files/" + url.PathEscape(l.Preview.Image)
	var f apiclient.File
	if err := s.api.Do(r.Context(), "GET", path, nil, nil, &f); err != nil {
		h.fail(w, r, s, err)
		return
	}
	if !rasterTypes[f.Type] {
		h.problem(w, r, s, http.StatusNotFound, "This link's preview image is not a PNG, JPEG, GIF or WebP file.")
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
