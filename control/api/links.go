package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/store"
)

// linkJSON is a link as the API shows it.
type linkJSON struct {
	links.View
	ShortLink string `json:"shortLink"`
}

func (h *handler) linkJSON(l store.Link) linkJSON {
	return linkJSON{View: links.ViewOf(l), ShortLink: h.ShortLink(l.Domain, l.Key)}
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
	l, err := h.Links.Create(c.Request.Context(), principalOf(c), links.CreateInput{URL: req.URL, Key: req.Key, Domain: req.Domain})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, h.linkJSON(l))
}

func (h *handler) getLink(c *gin.Context) {
	l, err := h.Links.Get(c.Request.Context(), principalOf(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.linkJSON(l))
}

func (h *handler) deleteLink(c *gin.Context) {
	l, err := h.Links.Delete(c.Request.Context(), principalOf(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": l.ID})
}
