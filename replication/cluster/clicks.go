package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/clustercert"
)

const (
	clicksPath = "/cluster/v1/clicks"
	// ClicksContentType is the media type of an encoded clicks.Batch.
	ClicksContentType = "application/vnd.h0p.clicks"
	// MaxClicksBody bounds a click batch's body. It is also the most the
	// control API reads of any request body: an edge makes its batches no
	// larger.
	MaxClicksBody = 1 << 20
)

// shipClicks serves POST /cluster/v1/clicks: an encoded clicks.Batch,
// which an edge may ship only under its own node id ("<node id>/…"); a
// control node may ship any edge's.
func (h *Handler) shipClicks(w http.ResponseWriter, r *http.Request, peerID string, peerRole clustercert.Role) {
	if !peerRole.IsNode() {
		writeError(w, apierror.Forbidden, "only cluster nodes ship clicks")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != ClicksContentType {
		writeError(w, apierror.ValidationError, "Content-Type must be "+ClicksContentType)
		return
	}
	if r.ContentLength > MaxClicksBody {
		writeError(w, apierror.PayloadTooLarge, fmt.Sprintf("a click batch is at most %d bytes", MaxClicksBody))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxClicksBody+1))
	switch {
	case err != nil:
		writeError(w, apierror.ValidationError, "cannot read body")
		return
	case len(body) > MaxClicksBody:
		writeError(w, apierror.PayloadTooLarge, fmt.Sprintf("a click batch is at most %d bytes", MaxClicksBody))
		return
	}
	head, err := clicks.Verify(body)
	if err != nil {
		writeError(w, apierror.ValidationError, err.Error())
		return
	}
	if peerRole != clustercert.Control && !strings.HasPrefix(head.Edge, peerID+"/") {
		// A 400, not a 403: the edge sets the batch aside instead of
		// retrying what no retry changes.
		writeError(w, apierror.ValidationError, fmt.Sprintf("batch of edge %q shipped with the certificate of node %q", head.Edge, peerID))
		return
	}
	if h.Clicks == nil {
		writeError(w, apierror.Unavailable, "this node does not take clicks")
		return
	}
	switch err := h.Clicks(r.Context(), body); {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, clicks.ErrCorrupt) || errors.Is(err, clicks.ErrRejected):
		writeError(w, apierror.ValidationError, err.Error())
	default:
		h.Logger.Warn("storing a click batch failed", "edge", head.Edge, "seq", head.Seq, "err", err)
		writeError(w, apierror.Unavailable, "storing the batch failed; retry")
	}
}

// ClickSender ships encoded click batches to control: POST
// /cluster/v1/clicks to each control API URL in turn, starting with the
// one that answered last. 2xx: control has the batch (stored now or
// before). 400 and 413: refused for good, an error wrapping
// clicks.ErrRejected. Anything else: the next URL, and the error once
// every URL failed.
type ClickSender struct {
	Client *http.Client // the node's mutual-TLS client
	URLs   []string
	first  atomic.Int64 // index of the URL to try first
}

// Ship sends one batch.
func (s *ClickSender) Ship(ctx context.Context, batch []byte) error {
	if len(s.URLs) == 0 {
		return errors.New("ship clicks: no control URL")
	}
	var errs []error
	first := int(s.first.Load())
	for i := range s.URLs {
		k := (first + i) % len(s.URLs)
		err := s.post(ctx, s.URLs[k], batch)
		if err == nil {
			s.first.Store(int64(k))
			return nil
		}
		if errors.Is(err, clicks.ErrRejected) || ctx.Err() != nil {
			return err
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("ship clicks: %w", errors.Join(errs...))
}

func (s *ClickSender) post(ctx context.Context, base string, batch []byte) error {
	u := strings.TrimSuffix(base, "/") + clicksPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(batch))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ClicksContentType)
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%s: %w: %d %s", u, clicks.ErrRejected, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return fmt.Errorf("%s: %d %s", u, resp.StatusCode, bytes.TrimSpace(msg))
}
