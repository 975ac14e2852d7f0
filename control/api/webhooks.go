package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/webhooks"
)

func decodeWebhookInput(c *gin.Context) (webhooks.Input, error) {
	b, err := readBody(c)
	if err != nil {
		return webhooks.Input{}, err
	}
	return webhooks.DecodeInput(b)
}

// createWebhook answers with the endpoint and its secret, shown this once.
func (h *handler) createWebhook(c *gin.Context) {
	in, err := decodeWebhookInput(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	w, secret, err := h.Webhooks.Create(c.Request.Context(), principalOf(c), in)
	h.respond(c, http.StatusCreated, webhooks.Created{View: h.Webhooks.View(w), Secret: secret}, err)
}

func (h *handler) listWebhooks(c *gin.Context) {
	limit, err := queryLimit(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	ws, next, err := h.Webhooks.List(c.Request.Context(), principalOf(c), limit, c.Query("cursor"))
	h.respond(c, http.StatusOK, pageOf(ws, h.Webhooks.View, next), err)
}

func (h *handler) getWebhook(c *gin.Context) {
	w, err := h.Webhooks.Get(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, h.Webhooks.View(w), err)
}

func (h *handler) patchWebhook(c *gin.Context) {
	in, err := decodeWebhookInput(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	w, err := h.Webhooks.Update(c.Request.Context(), principalOf(c), c.Param("id"), in)
	h.respond(c, http.StatusOK, h.Webhooks.View(w), err)
}

func (h *handler) deleteWebhook(c *gin.Context) {
	w, err := h.Webhooks.Delete(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, gin.H{"id": w.ID}, err)
}

// rotateWebhookSecret answers with the endpoint and its new secret, shown
// this once; previousSecretExpiresAt says until when the old one signs too.
func (h *handler) rotateWebhookSecret(c *gin.Context) {
	w, secret, err := h.Webhooks.RotateSecret(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, webhooks.Created{View: h.Webhooks.View(w), Secret: secret}, err)
}

func (h *handler) enableWebhook(c *gin.Context) {
	w, err := h.Webhooks.Enable(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, h.Webhooks.View(w), err)
}

// testWebhook sends a ping now and answers with the attempt: 200 whether
// or not the receiver accepted it (success says which).
func (h *handler) testWebhook(c *gin.Context) {
	a, err := h.Webhooks.Test(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, a, err)
}

// listDeliveries pages an endpoint's messages, newest first, filtered by
// status, eventType and creation (from, to).
func (h *handler) listDeliveries(c *gin.Context) {
	q := webhooks.DeliveryQuery{Status: c.Query("status"), EventType: c.Query("eventType"), From: c.Query("from"),
		To: c.Query("to"), Cursor: c.Query("cursor"), Limit: c.Query("limit")}
	ds, next, err := h.Webhooks.Deliveries(c.Request.Context(), principalOf(c), c.Param("id"), q)
	h.respond(c, http.StatusOK, pageOf(ds, func(d webhooks.Delivery) webhooks.Delivery { return d }, next), err)
}

func (h *handler) getDelivery(c *gin.Context) {
	d, err := h.Webhooks.Delivery(c.Request.Context(), principalOf(c), c.Param("id"), c.Param("msgId"))
	h.respond(c, http.StatusOK, d, err)
}

// retryDelivery makes a message due now, under its ID, delivered or not.
func (h *handler) retryDelivery(c *gin.Context) {
	d, err := h.Webhooks.Retry(c.Request.Context(), principalOf(c), c.Param("id"), c.Param("msgId"))
	h.respond(c, http.StatusAccepted, d, err)
}

// replayWebhook makes the endpoint's messages created in [since, until)
// due now, under their IDs, and answers with how many.
func (h *handler) replayWebhook(c *gin.Context) {
	b, err := readBody(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	in, err := webhooks.DecodeReplay(b)
	if err != nil {
		h.fail(c, err)
		return
	}
	n, err := h.Webhooks.Replay(c.Request.Context(), principalOf(c), c.Param("id"), in)
	h.respond(c, http.StatusAccepted, gin.H{"messages": n}, err)
}
