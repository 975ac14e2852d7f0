package api

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// Idempotency-Key on writes; the contract is in doc.go.

const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"

	// idempotencyWindow is how long a key's answer is replayed; older
	// entries are absent.
	idempotencyWindow = 24 * time.Hour
	// idempotencyLease is how long a retry is told to wait for a request
	// still running under its key. Past it the first request is taken for
	// lost (its control node stopped) and the retry learns that its outcome
	// is unknown, rather than to retry in a second for the rest of the day.
	idempotencyLease = 5 * time.Minute

	// One settled keyed request in purgeOneIn also deletes up to purgeBatch
	// expired entries: several times the rate at which they are made, at a
	// cost no single request notices, with no sweeper to start and stop.
	purgeOneIn = 32
	purgeBatch = 256
)

// savedHeaders are the headers of an answer that clients rely on; they are
// saved and replayed with it. The others (request ID, rate limits) belong to
// each request.
var savedHeaders = []string{"Content-Type", "Location"}

// idempotent is the idempotency middleware of route rt: the real one on
// writes that have a caller, nothing on reads and public routes.
func (h *handler) idempotent(rt route) gin.HandlerFunc {
	switch rt.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		if !rt.need.Public {
			return func(c *gin.Context) { h.idempotency(c, rt.need) }
		}
	}
	return func(c *gin.Context) { c.Next() }
}

// idempotency runs a write with an Idempotency-Key at most once per key and
// caller: the first request claims the key and saves its answer, retries of
// the same request get that answer back, and a retry while the first still
// runs is asked to wait.
func (h *handler) idempotency(c *gin.Context, need access.Need) {
	values, ok := c.Request.Header[idempotencyHeader]
	if !ok {
		c.Next()
		return
	}
	if len(values) != 1 || !validIdempotencyKey(values[0]) {
		h.fail(c, apierror.Invalid(idempotencyHeader, "must be one value of 1 to 255 printable ASCII characters"))
		return
	}
	// The body is part of the request's fingerprint: read it now (the body
	// limit still holds) and hand the handler a copy.
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		h.fail(c, unreadableBody(err))
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))

	now := h.Now()
	k := store.IdempotencyKey{
		Scope:       idempotencyScope(principalOf(c), need),
		Key:         values[0],
		Fingerprint: h.fingerprint(c.Request, body),
		Owner:       c.GetString(ctxRequestID),
		CreatedAt:   now,
	}
	// From here on nothing depends on the client still being there: a
	// client that gives up (or a write timeout that cuts the reply) must
	// not stop work that may commit, nor the saving of its answer, or its
	// retry could neither replay it nor safely run it again.
	ctx := context.WithoutCancel(c.Request.Context())
	held, claimed, err := h.Store.ClaimIdempotencyKey(ctx, k, now.Add(-idempotencyWindow))
	if err != nil {
		h.fail(c, fmt.Errorf("claim idempotency key: %w", err))
		return
	}
	if !claimed {
		h.answerHeld(c, k, held, now)
		return
	}
	c.Request = c.Request.WithContext(ctx)
	rec := &answerRecorder{ResponseWriter: c.Writer}
	c.Writer = rec
	returned := false
	defer func() {
		if !returned {
			// The handler panicked; recoverPanic answers 500 INTERNAL once
			// this returns. Save that answer, as any 5xx: the handler may
			// have committed before it panicked.
			h.saveAnswer(ctx, k, httpStatus(apierror.Internal), http.Header{"Content-Type": {"application/json; charset=utf-8"}},
				internalErrorBody(k.Owner))
		}
	}()
	c.Next()
	returned = true

	status := rec.Status()
	if !c.GetBool(ctxChangedAnyway) && (status >= 400 && status < 500 || c.GetBool(ctxNothingWritten)) {
		// A refusal changed nothing: free the key, so a corrected request
		// (or the same one, later) can use it.
		if err := h.Store.ReleaseIdempotencyKey(ctx, k); err != nil {
			h.Logger.Warn("could not release idempotency key", "err", err, "requestId", k.Owner)
		}
	} else {
		h.saveAnswer(ctx, k, status, rec.Header(), rec.body.Bytes())
	}
	if mathrand.IntN(purgeOneIn) == 0 {
		if _, err := h.Store.PurgeIdempotencyKeys(ctx, now.Add(-idempotencyWindow), purgeBatch); err != nil {
			h.Logger.Warn("could not purge expired idempotency keys", "err", err)
		}
	}
}

const (
	ctxChangedAnyway  = "h0p.changedAnyway"
	ctxNothingWritten = "h0p.nothingWritten" // set by fail for apierror.ErrNothingWritten
)

// changedAnyway marks a request that made a change although it answers a
// 4xx, so that its answer is saved like a 2xx: running it again would
// repeat the change. Handlers whose 4xx can come after a commit call it
// (an import that created links before it found its file too long).
func changedAnyway(c *gin.Context) { c.Set(ctxChangedAnyway, true) }

// answerHeld answers a request whose key is held by an earlier one.
func (h *handler) answerHeld(c *gin.Context, k, held store.IdempotencyKey, now time.Time) {
	switch {
	case !bytes.Equal(held.Fingerprint, k.Fingerprint):
		h.fail(c, apierror.New(apierror.IdempotencyKeyReused,
			"this Idempotency-Key was used with another request (method, path, query or body); use a new key for a new request"))
	case held.Status == 0 && now.Sub(held.CreatedAt) < idempotencyLease:
		c.Header("Retry-After", "1")
		h.fail(c, apierror.New(apierror.IdempotencyKeyInUse,
			"a request with this Idempotency-Key is still running; retry in 1 s to get its answer"))
	case held.Status == 0:
		h.fail(c, apierror.New(apierror.Internal,
			"the request first sent with this Idempotency-Key has not finished after %s (its server may have stopped), so whether it took effect is unknown: check, then retry with a new key",
			idempotencyLease))
	default:
		h.replay(c, held)
	}
}

// replay answers with a saved answer.
func (h *handler) replay(c *gin.Context, held store.IdempotencyKey) {
	body, err := h.openAnswer(held)
	if err != nil {
		h.fail(c, fmt.Errorf("saved answer of idempotency key: %w", err))
		return
	}
	var header map[string]string
	if err := json.Unmarshal(held.Header, &header); err != nil {
		h.fail(c, fmt.Errorf("saved headers of idempotency key: %w", err))
		return
	}
	for name, v := range header {
		c.Header(name, v)
	}
	c.Header(replayedHeader, "true")
	c.Writer.WriteHeader(held.Status)
	c.Writer.WriteHeaderNow()
	c.Writer.Write(body)
	c.Abort()
}

// saveAnswer stores the answer of the request that claimed k. If it cannot,
// the key stays claimed: retries are asked to wait, then told the outcome
// is unknown, which is true; releasing it could run a committed write twice.
func (h *handler) saveAnswer(ctx context.Context, k store.IdempotencyKey, status int, header http.Header, body []byte) {
	saved := map[string]string{}
	for _, name := range savedHeaders {
		if v := header.Get(name); v != "" {
			saved[name] = v
		}
	}
	k.Status = status
	k.Header, _ = json.Marshal(saved)
	k.Body = h.sealAnswer(k, body)
	if err := h.Store.FinishIdempotencyKey(ctx, k); err != nil {
		h.Logger.Error("could not save the answer of an idempotency key", "err", err, "requestId", k.Owner)
	}
}

// Answers are saved encrypted: some carry a secret shown once (a new API
// key, an invitation token) that the store otherwise keeps only as a
// digest. The key derives from the pepper, which is not in the store, and
// the entry's scope, key and owner are bound to the ciphertext, so a saved
// answer opens only for the entry it was saved under.

func (h *handler) answerAEAD() cipher.AEAD {
	mac := hmac.New(sha256.New, h.Pepper)
	mac.Write([]byte("h0p idempotency answers v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

func answerAAD(k store.IdempotencyKey) []byte {
	return []byte(k.Scope + "\x00" + k.Key + "\x00" + k.Owner)
}

func (h *handler) sealAnswer(k store.IdempotencyKey, body []byte) []byte {
	aead := h.answerAEAD()
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(body)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, body, answerAAD(k))
}

func (h *handler) openAnswer(k store.IdempotencyKey) ([]byte, error) {
	aead := h.answerAEAD()
	if len(k.Body) < aead.NonceSize() {
		return nil, errors.New("too short")
	}
	nonce, sealed := k.Body[:aead.NonceSize()], k.Body[aead.NonceSize():]
	return aead.Open(nil, nonce, sealed, answerAAD(k))
}

// validIdempotencyKey: 1 to 255 printable ASCII characters.
func validIdempotencyKey(v string) bool {
	if len(v) == 0 || len(v) > 255 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotencyScope is whose keys a request uses: the credential that calls
// — a person's session, or one API key — within the org. A replay skips the
// handler's checks, so a key must never replay what its person's session
// (or another key) was allowed to do. Session-only routes (creating an org)
// are outside any org, whose choice may change between a request and its
// retry: their scope is the person alone.
func idempotencyScope(p access.Principal, need access.Need) string {
	who := "key:" + p.KeyID
	if p.Kind == access.Session {
		who = "user:" + p.UserID
	}
	if need.SessionOnly {
		return who
	}
	return p.OrgID + "/" + who
}

// fingerprint is what makes two requests the same — method, path with
// query, and body — as an HMAC under a key derived from the pepper: bodies
// may hold passwords, and a plain hash of one would be a fast way to guess
// it from a copy of the database.
func (h *handler) fingerprint(r *http.Request, body []byte) []byte {
	key := hmac.New(sha256.New, h.Pepper)
	key.Write([]byte("h0p idempotency fingerprints v1"))
	d := hmac.New(sha256.New, key.Sum(nil))
	io.WriteString(d, r.Method+"\n"+r.URL.RequestURI()+"\n")
	d.Write(body)
	return d.Sum(nil)
}

// unreadableBody is the error for a body that could not be read whole.
func unreadableBody(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return apierror.New(apierror.PayloadTooLarge, "request body is larger than %d MiB", tooBig.Limit>>20)
	}
	return apierror.Invalid("body", "could not be read whole")
}

// internalErrorBody is the envelope recoverPanic writes after a panic.
func internalErrorBody(requestID string) []byte {
	b, _ := json.Marshal(apierror.NewEnvelope(apierror.New(apierror.Internal, "internal error"), requestID))
	return b
}

// answerRecorder keeps a copy of the body written to the client; status and
// headers are the writer's own.
type answerRecorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *answerRecorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *answerRecorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}
