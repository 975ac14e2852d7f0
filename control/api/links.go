package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/store"
)

// linkJSON is a link as the API shows it.
type linkJSON struct {
	ID        string `json:"id"`
	Domain    string `json:"domain"`
	Key       string `json:"key"`
	URL       string `json:"url"`
	ShortLink string `json:"shortLink"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// timeFormat is RFC 3339 in UTC with milliseconds, the store's precision.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func (h *handler) linkJSON(l store.Link) linkJSON {
	return linkJSON{
		ID: l.ID, Domain: l.Domain, Key: l.Key, URL: l.URL,
		ShortLink: h.ShortLink(l.Domain, l.Key),
		CreatedAt: l.CreatedAt.UTC().Format(timeFormat),
		UpdatedAt: l.UpdatedAt.UTC().Format(timeFormat),
	}
}

type createLinkRequest struct {
	URL    string `json:"url"`
	Key    string `json:"key"`
	Domain string `json:"domain"`
}

func (h *handler) createLink(c *gin.Context) {
	var req createLinkRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	l, err := h.Links.Create(c.Request.Context(), actor(c), links.CreateInput{URL: req.URL, Key: req.Key, Domain: req.Domain})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, h.linkJSON(l))
}

func (h *handler) getLink(c *gin.Context) {
	l, err := h.Links.Get(c.Request.Context(), actor(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.linkJSON(l))
}

func (h *handler) deleteLink(c *gin.Context) {
	l, err := h.Links.Delete(c.Request.Context(), actor(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": l.ID})
}
