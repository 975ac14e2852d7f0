package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/domains"
	"github.com/h0p/h0p/shared/apierror"
)

func decodeDomainInput(c *gin.Context) (domains.Input, error) {
	b, err := readBody(c)
	if err != nil {
		return domains.Input{}, err
	}
	return domains.DecodeInput(b)
}

func (h *handler) createDomain(c *gin.Context) {
	in, err := decodeDomainInput(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	d, err := h.Domains.Create(c.Request.Context(), principalOf(c), in)
	h.respondDomain(c, http.StatusCreated, d, err)
}

func (h *handler) listDomains(c *gin.Context) {
	limit, err := queryLimit(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	ds, next, err := h.Domains.List(c.Request.Context(), principalOf(c), limit, c.Query("cursor"))
	views := make([]domains.View, 0, len(ds))
	for _, d := range ds {
		if err != nil {
			break
		}
		var v domains.View
		v, err = h.Domains.View(c.Request.Context(), d)
		views = append(views, v)
	}
	h.respond(c, http.StatusOK, pageOf(views, func(v domains.View) domains.View { return v }, next), err)
}

func (h *handler) getDomain(c *gin.Context) {
	d, err := h.Domains.Get(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respondDomain(c, http.StatusOK, d, err)
}

func (h *handler) patchDomain(c *gin.Context) {
	in, err := decodeDomainInput(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	d, err := h.Domains.Update(c.Request.Context(), principalOf(c), c.Param("id"), in)
	h.respondDomain(c, http.StatusOK, d, err)
}

// deleteDomain deletes a domain; force=true deletes its links too, which
// takes the permission to delete links as well.
func (h *handler) deleteDomain(c *gin.Context) {
	force, err := boolQuery(c, "force")
	if err != nil {
		h.fail(c, err)
		return
	}
	p := principalOf(c)
	if force != nil && *force {
		if access.Check(p, access.Need{Resource: access.ShortLinks, Action: access.Delete}) != access.Allowed {
			h.fail(c, apierror.New(apierror.Forbidden, "force=true deletes links: it needs the shortLinks delete permission"))
			return
		}
	}
	d, err := h.Domains.Delete(c.Request.Context(), p, c.Param("id"), force != nil && *force)
	h.respond(c, http.StatusOK, gin.H{"id": d.ID}, err)
}

func (h *handler) verifyDomain(c *gin.Context) {
	d, err := h.Domains.Verify(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respondDomain(c, http.StatusOK, d, err)
}

// respondDomain writes d, with its certificate, or the error.
func (h *handler) respondDomain(c *gin.Context, status int, d domains.Domain, err error) {
	var v domains.View
	if err == nil {
		v, err = h.Domains.View(c.Request.Context(), d)
	}
	h.respond(c, status, v, err)
}
