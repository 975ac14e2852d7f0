package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/files"
	"github.com/h0p/h0p/control/qr"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// uploadOverhead is what a multipart upload may carry beside the file's
// bytes: boundaries, part headers, other (skipped) fields.
const uploadOverhead = 64 << 10

// fileCacheControl: a file's bytes never change under its ID.
const fileCacheControl = "private, max-age=3600"

// fileCSP is every file answer's Content-Security-Policy: an SVG opened
// as a document runs nothing and loads nothing.
const fileCSP = "default-src 'none'; style-src 'unsafe-inline'"

// filesOn answers 404 when the server keeps no files (Config.Files nil).
func (h *handler) filesOn(next gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if h.Files == nil {
			h.fail(c, apierror.New(apierror.NotFound, "this server keeps no files"))
			return
		}
		next(c)
	}
}

// readUpload reads the file of an upload: the multipart field "file" with
// the part's filename, or else the raw body named by ?name=. Only the one
// part is read, into memory, at most the size limit plus one byte.
func (h *handler) readUpload(c *gin.Context) (string, []byte, error) {
	mt, params, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "multipart/form-data" {
		b, err := h.Files.Read(c.Request.Body)
		return c.Query("name"), b, uploadErr(err)
	}
	mr := multipart.NewReader(c.Request.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return "", nil, apierror.Invalid("file", "is required: send it as the multipart field \"file\"")
		}
		if err != nil {
			return "", nil, uploadErr(errors.Join(apierror.Invalid("body", "is not a complete multipart body"), err))
		}
		if part.FormName() != "file" {
			continue // NextPart skips the rest of this part
		}
		b, err := h.Files.Read(part)
		return part.FileName(), b, uploadErr(err)
	}
}

// uploadErr is PAYLOAD_TOO_LARGE when err is the body limit's.
func uploadErr(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return apierror.New(apierror.PayloadTooLarge, "the request body is larger than a file may be")
	}
	return err
}

func (h *handler) uploadFile(c *gin.Context) {
	name, b, err := h.readUpload(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	f, err := h.Files.Upload(c.Request.Context(), principalOf(c), name, b)
	h.respond(c, http.StatusCreated, files.ViewOf(f), err)
}

func (h *handler) listFiles(c *gin.Context) {
	limit, err := queryLimit(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	fs, next, err := h.Files.List(c.Request.Context(), principalOf(c), c.Query("type"), limit, c.Query("cursor"))
	var views []files.View
	if err == nil {
		views, err = h.Files.Views(c.Request.Context(), fs)
	}
	h.respond(c, http.StatusOK, pageOf(views, func(v files.View) files.View { return v }, next), err)
}

func (h *handler) getFile(c *gin.Context) {
	f, err := h.Files.Get(c.Request.Context(), principalOf(c), c.Param("id"))
	var v files.View
	if err == nil {
		v, err = h.Files.View(c.Request.Context(), f)
	}
	h.respond(c, http.StatusOK, v, err)
}

// fileContent serves a file's bytes with their stored type; ServeContent
// answers Range, If-None-Match, If-Match, If-Unmodified-Since and
// If-Range, its errors in the API's envelope (serveFile). An SVG is an
// attachment but to an image request (Sec-Fetch-Dest: image, an <img>
// that runs no script), so that opening its URL never makes it a document
// of the API's origin; every answer carries fileCSP.
func (h *handler) fileContent(c *gin.Context) {
	f, o, err := h.Files.Open(c.Request.Context(), principalOf(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	defer o.Close()
	h.serveFile(c, f, o, fileCacheControl)
}

// serveFile answers with f's bytes, o, as fileContent says.
func (h *handler) serveFile(c *gin.Context, f store.File, o files.Object, cacheControl string) {
	hd := c.Writer.Header()
	hd.Set("Content-Type", f.MediaType)
	hd.Set("ETag", `"`+f.SHA256+`"`)
	hd.Set("Cache-Control", cacheControl)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", fileCSP)
	disposition := "inline"
	if f.MediaType == files.SVG {
		hd.Set("Vary", "Sec-Fetch-Dest") // a cache must not serve an <img>'s inline answer to a page load
		if c.GetHeader("Sec-Fetch-Dest") != "image" {
			disposition = "attachment"
		}
	}
	hd.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": f.Name}))
	w := &heldError{ResponseWriter: c.Writer}
	http.ServeContent(w, c.Request, "", f.CreatedAt, o)
	if w.status != 0 {
		h.failContent(c, f, w.status, w.text.String())
	}
}

// heldError passes ServeContent's answers through (200, 206, 304) but
// holds back an error answer, its status and text, for failContent to
// give in the envelope: ServeContent answers 416 in text/plain and 412
// with no body.
type heldError struct {
	http.ResponseWriter
	status int
	text   bytes.Buffer
}

func (w *heldError) WriteHeader(code int) {
	switch {
	case w.status != 0:
	case code >= 400:
		w.status = code
	default:
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *heldError) Write(b []byte) (int, error) {
	if w.status == 0 {
		return w.ResponseWriter.Write(b)
	}
	if w.text.Len() < 1024 {
		w.text.Write(b)
	}
	return len(b), nil
}

func (w *heldError) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// failContent answers ServeContent's error status for f in the envelope:
// 416 is a VALIDATION_ERROR on Range, with Content-Range: bytes */size
// (RFC 9110 15.5.17), 412 one on the precondition that failed (If-Match,
// else If-Unmodified-Since); anything else is INTERNAL, logged with
// ServeContent's text. The headers of the bytes (type, disposition,
// caching, validators) are not the error's.
func (h *handler) failContent(c *gin.Context, f store.File, status int, text string) {
	hd := c.Writer.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Disposition",
		"Cache-Control", "ETag", "Last-Modified"} {
		hd.Del(k)
	}
	var e *apierror.Error
	switch status {
	case http.StatusRequestedRangeNotSatisfiable:
		// ServeContent sets Content-Range (bytes */size) to a range
		// outside the bytes, not to one it cannot parse.
		reason := fmt.Sprintf("lies outside the file's %d bytes", f.Size)
		if hd.Get("Content-Range") == "" {
			hd.Set("Content-Range", fmt.Sprintf("bytes */%d", f.Size))
			reason = "is not a byte range, like bytes=0-1023"
		}
		e = apierror.Invalid("Range", reason)
	case http.StatusPreconditionFailed:
		field := "If-Match"
		if c.GetHeader(field) == "" {
			field = "If-Unmodified-Since"
		}
		e = apierror.Invalid(field, "does not hold for this file")
	default:
		h.fail(c, fmt.Errorf("serve file %s: %d %s", f.ID, status, strings.TrimSpace(text)))
		return
	}
	c.AbortWithStatusJSON(status, apierror.NewEnvelope(e, c.GetString(ctxRequestID)))
}

func (h *handler) patchFile(c *gin.Context) {
	var in struct {
		Name *string `json:"name"`
	}
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	if in.Name == nil {
		h.fail(c, apierror.Invalid("name", "is required"))
		return
	}
	f, err := h.Files.Rename(c.Request.Context(), principalOf(c), c.Param("id"), *in.Name)
	var v files.View
	if err == nil {
		v, err = h.Files.View(c.Request.Context(), f)
	}
	h.respond(c, http.StatusOK, v, err)
}

func (h *handler) deleteFile(c *gin.Context) {
	force, err := boolQuery(c, "force")
	if err != nil {
		h.fail(c, err)
		return
	}
	f, err := h.Files.Delete(c.Request.Context(), principalOf(c), c.Param("id"), force != nil && *force)
	h.respond(c, http.StatusOK, gin.H{"id": f.ID}, err)
}

// saveQRInput is POST /v1/files/qr's body: a link and the options of GET
// /v1/links/{id}/qr, by the same names.
type saveQRInput struct {
	LinkID  string  `json:"linkId"`
	Name    *string `json:"name"`
	Format  *string `json:"format"`
	Size    *int    `json:"size"`
	Level   *string `json:"level"`
	FGColor *string `json:"fgColor"`
	BGColor *string `json:"bgColor"`
	Margin  *int    `json:"margin"`
	Logo    *string `json:"logo"`
}

// options are in's options as the query of GET /v1/links/{id}/qr would
// carry them, read by the same parser.
func (in saveQRInput) options() (qr.Options, error) {
	q := url.Values{}
	for name, v := range map[string]*string{"format": in.Format, "level": in.Level, "fgColor": in.FGColor,
		"bgColor": in.BGColor, "logo": in.Logo} {
		if v != nil {
			q.Set(name, *v)
		}
	}
	for name, v := range map[string]*int{"size": in.Size, "margin": in.Margin} {
		if v != nil {
			q.Set(name, strconv.Itoa(*v))
		}
	}
	return qr.ParseOptions(q)
}

// saveQR renders a link's QR code and saves it as a file of the org, for
// print workflows: 201 with the file. It reads the link, which takes the
// shortLinks read permission beside files create. A saved SVG holds no
// logo (a stored SVG is sanitised, images removed): save such a code as
// PNG.
func (h *handler) saveQR(c *gin.Context) {
	if access.Check(principalOf(c), access.Need{Resource: access.ShortLinks, Action: access.Read}) != access.Allowed {
		h.fail(c, apierror.New(apierror.Forbidden, "a QR code reads its link: it needs the shortLinks read permission"))
		return
	}
	var in saveQRInput
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	if in.LinkID == "" {
		h.fail(c, apierror.Invalid("linkId", "is required"))
		return
	}
	o, err := in.options()
	if err != nil {
		h.fail(c, err)
		return
	}
	if o.Format == qr.SVG && o.LogoID != "" {
		h.fail(c, apierror.Invalid("logo", "a saved SVG code holds no logo: save it as png"))
		return
	}
	l, img, err := h.renderQR(c, in.LinkID, &o)
	if err != nil {
		h.fail(c, err)
		return
	}
	name := "qr-" + l.Key + "." + string(o.Format)
	if in.Name != nil {
		name = *in.Name
	}
	f, err := h.Files.SaveQR(c.Request.Context(), principalOf(c), name, img, l.ID, o.LogoID)
	h.respond(c, http.StatusCreated, files.ViewOf(f), err)
}
