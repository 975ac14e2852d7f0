package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/page"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// Prefix of file IDs.
const Prefix = "file"

// Defaults of the Service's settings.
const (
	DefaultMaxBytes = 10 << 20
	DefaultGrace    = time.Hour
	// MaxNameBytes bounds a file's name.
	MaxNameBytes = 255
)

// Store keeps bytes under a key, the lowercase hex SHA-256 of the bytes.
// Put is atomic and a no-op for a key that exists; Delete of an absent
// key is no error.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	Open(ctx context.Context, key string) (Object, error)
	Stat(ctx context.Context, key string) (int64, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, fn func(key string, size int64, modified time.Time) error) error
}

// Object is stored bytes, open to read.
type Object = interface {
	io.ReadSeekCloser
	Size() int64
}

// Service manages an org's files.
type Service struct {
	Store store.Store
	Blobs Store
	// MaxBytes bounds a file's size (0: DefaultMaxBytes).
	MaxBytes int64
	// Grace is how long unreferenced bytes are kept before Sweep removes
	// them (0: DefaultGrace).
	Grace time.Duration
	// URLs makes files' public URLs (nil: none is served).
	URLs *URLs
	// Links clears a file from the links that use it when it is deleted
	// by force (nil: they keep naming it).
	Links  Unlinker
	Now    func() time.Time
	Logger *slog.Logger
}

// Unlinker clears a file from the links that use it (control/links).
type Unlinker interface {
	// ClearFile runs fn in a transaction that clears file id from p's
	// org's links after fn ran (fn locks the file), each a link update,
	// replicated after the commit.
	ClearFile(ctx context.Context, p access.Principal, id string, fn func(q store.Queries) error) error
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Max is the size limit of a file.
func (s *Service) Max() int64 {
	if s.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return s.MaxBytes
}

func (s *Service) grace() time.Duration {
	if s.Grace <= 0 {
		return DefaultGrace
	}
	return s.Grace
}

// View is a file as the API shows it.
type View struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Size       int64       `json:"size"`
	SHA256     string      `json:"sha256"`
	Width      *int        `json:"width"`
	Height     *int        `json:"height"`
	CreatedBy  string      `json:"createdBy"`
	CreatedAt  time.Time   `json:"createdAt"`
	UpdatedAt  time.Time   `json:"updatedAt"`
	References []Reference `json:"references"`
}

// Reference is a link or QR code that uses a file: a link (type "link",
// its ID) by its image or preview image (field "image", "preview.image"),
// or a saved QR code (type "qr", the ID of its file) by its logo (field
// "logo").
type Reference struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Field string `json:"field"`
}

// View shows f with its references.
func (s *Service) View(ctx context.Context, f store.File) (View, error) {
	v := ViewOf(f)
	refs, err := s.Store.FileReferences(ctx, f.OrgID, f.ID)
	if err != nil {
		return v, err
	}
	for _, r := range refs {
		v.References = append(v.References, Reference(r))
	}
	return v, nil
}

// Views shows fs with their references, one indexed query per file.
func (s *Service) Views(ctx context.Context, fs []store.File) ([]View, error) {
	out := make([]View, len(fs))
	for i, f := range fs {
		var err error
		if out[i], err = s.View(ctx, f); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ViewOf shows f.
func ViewOf(f store.File) View {
	v := View{ID: f.ID, Name: f.Name, Type: f.MediaType, Size: f.Size, SHA256: f.SHA256, CreatedBy: f.CreatedBy,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, References: []Reference{}}
	if f.Width > 0 && f.Height > 0 {
		w, h := f.Width, f.Height
		v.Width, v.Height = &w, &h
	}
	return v
}

func notFoundErr() error { return apierror.New(apierror.NotFound, "file not found") }

func lookup(f store.File, err error) (store.File, error) {
	if errors.Is(err, store.ErrNotFound) {
		return store.File{}, notFoundErr()
	}
	return f, err
}

// CleanName is name as a file's name: the last element of a path (a
// browser may send C:\fakepath\x.png), valid UTF-8, without control
// characters or surrounding space, at most MaxNameBytes; "file" when
// nothing is left. Names are metadata only, never part of a path.
func CleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "\uFFFD")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// Read reads an upload of at most Max bytes from r: PAYLOAD_TOO_LARGE
// once it has read one more, VALIDATION_ERROR when r fails (a body cut
// short) or is empty.
func (s *Service) Read(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, s.Max()+1))
	if int64(len(b)) > s.Max() {
		return nil, apierror.New(apierror.PayloadTooLarge, "files are at most %d bytes", s.Max())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", apierror.Invalid("file", "could not be read whole"), err)
	}
	if len(b) == 0 {
		return nil, apierror.Invalid("file", "is empty")
	}
	return b, nil
}

// checkPlan refuses adding a file of size bytes beyond the org's plan.
func checkPlan(ctx context.Context, q store.Queries, orgID string, size int64) error {
	o, err := q.Org(ctx, orgID)
	if err != nil {
		return fmt.Errorf("org of file: %w", err)
	}
	p := plans.Get(o.Plan)
	n, used, err := q.FileUsage(ctx, orgID)
	if err != nil {
		return err
	}
	if err := p.CheckLimit(plans.Files, n, 1); err != nil {
		return err
	}
	return p.CheckLimit(plans.FilesStorage, int(used), int(size))
}

// Upload stores b as a file of p's org named name. Everything that can
// refuse it (type, size, plan) is checked before its bytes are stored.
func (s *Service) Upload(ctx context.Context, p access.Principal, name string, b []byte) (store.File, error) {
	return s.upload(ctx, p, name, b, "", "")
}

// SaveQR stores b, a QR code of link linkID drawn with image file logoID
// as its logo ("" for none), as a file: it is among the logo's references.
func (s *Service) SaveQR(ctx context.Context, p access.Principal, name string, b []byte, linkID, logoID string) (store.File, error) {
	return s.upload(ctx, p, name, b, linkID, logoID)
}

func (s *Service) upload(ctx context.Context, p access.Principal, name string, b []byte, linkID, logoID string) (store.File, error) {
	if int64(len(b)) > s.Max() {
		return store.File{}, apierror.New(apierror.PayloadTooLarge, "files are at most %d bytes", s.Max())
	}
	c, err := Inspect(b)
	if err != nil {
		return store.File{}, err
	}
	sum := sha256.Sum256(c.Bytes)
	now := s.now()
	f := store.File{ID: ids.New(Prefix, now), OrgID: p.OrgID, Name: CleanName(name), MediaType: c.MediaType,
		Size: int64(len(c.Bytes)), SHA256: hex.EncodeToString(sum[:]), Width: c.Width, Height: c.Height, Version: 1,
		CreatedBy: p.ActorID(), CreatedAt: now, UpdatedAt: now, LinkID: linkID, LogoFileID: logoID}
	if err := checkPlan(ctx, s.Store, p.OrgID, f.Size); err != nil {
		return store.File{}, err
	}
	// Bytes first: a row never names bytes that were not stored. A crash
	// before the commit leaves bytes no row names, which Sweep removes.
	if err := s.Blobs.Put(ctx, f.SHA256, bytes.NewReader(c.Bytes), f.Size); err != nil {
		return store.File{}, fmt.Errorf("store file bytes: %w", err)
	}
	err = s.Store.Write(ctx, func(q store.Queries) error {
		if err := checkPlan(ctx, q, p.OrgID, f.Size); err != nil {
			return err
		}
		if logoID != "" { // a logo deleted since the code was drawn is no reference
			if _, err := lookup(q.LockFile(ctx, p.OrgID, logoID)); err != nil {
				return err
			}
		}
		if err := q.CreateFile(ctx, f); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "file.created", "file", f.ID, nil, ViewOf(f)))
	})
	if err != nil {
		return store.File{}, err
	}
	// A sweep that found the bytes unreferenced just before the commit
	// may have deleted them: store them again.
	if _, err := s.Blobs.Stat(ctx, f.SHA256); err != nil {
		if err := s.Blobs.Put(ctx, f.SHA256, bytes.NewReader(c.Bytes), f.Size); err != nil {
			return store.File{}, fmt.Errorf("store file bytes again: %w", err)
		}
	}
	return f, nil
}

// Get reads file id of p's org.
func (s *Service) Get(ctx context.Context, p access.Principal, id string) (store.File, error) {
	return lookup(s.Store.File(ctx, p.OrgID, id))
}

// Open reads file id of p's org and opens its bytes.
func (s *Service) Open(ctx context.Context, p access.Principal, id string) (store.File, Object, error) {
	f, err := s.Get(ctx, p, id)
	return s.openBytes(ctx, f, err)
}

// openBytes opens the bytes of f, read with err.
func (s *Service) openBytes(ctx context.Context, f store.File, err error) (store.File, Object, error) {
	if err != nil {
		return f, nil, err
	}
	o, err := s.Blobs.Open(ctx, f.SHA256)
	if err != nil {
		return f, nil, fmt.Errorf("open bytes of file %s: %w", f.ID, err)
	}
	return f, o, nil
}

// MediaTypeOf reads a list filter: a short name of Types or a media type
// of Types; "" is every type.
func MediaTypeOf(filter string) (string, error) {
	if filter == "" {
		return "", nil
	}
	if mt, ok := Types[strings.ToLower(filter)]; ok {
		return mt, nil
	}
	for _, mt := range Types {
		if strings.EqualFold(filter, mt) {
			return mt, nil
		}
	}
	return "", apierror.Invalid("type", "must be png, jpeg, gif, webp, svg, pdf or one of their media types")
}

// List returns a page of p's org's files, oldest first, of media type
// typ ("" for all), and the cursor of the next page ("" at the end).
func (s *Service) List(ctx context.Context, p access.Principal, typ string, limit int, cursor string) ([]store.File, string, error) {
	mt, err := MediaTypeOf(typ)
	if err != nil {
		return nil, "", err
	}
	return page.ListByID(limit, cursor, func(after string, n int) ([]store.File, error) {
		return s.Store.Files(ctx, store.FileFilter{OrgID: p.OrgID, MediaType: mt, AfterID: after, Limit: n})
	}, func(f store.File) string { return f.ID }, func(f store.File) (store.File, error) { return f, nil })
}

// Rename gives file id a new name.
func (s *Service) Rename(ctx context.Context, p access.Principal, id, name string) (store.File, error) {
	now := s.now()
	var f store.File
	err := s.Store.Write(ctx, func(q store.Queries) error {
		var err error
		if f, err = lookup(q.File(ctx, p.OrgID, id)); err != nil {
			return err
		}
		before := ViewOf(f)
		f.Name, f.Version, f.UpdatedAt = CleanName(name), f.Version+1, now
		if err := q.UpdateFile(ctx, f); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "file.updated", "file", f.ID, before, ViewOf(f)))
	})
	return f, err
}

// Delete removes file id; its bytes stay while other files name them,
// and are swept a grace period after the last one goes. A file that links
// or saved QR codes use is refused (ALREADY_EXIST, 409, each use a
// detail) unless force: then the links that use it lose it, each a link
// update (Links), in the delete's transaction; a saved QR code keeps its
// bytes, the logo drawn in them, and only loses the reference.
func (s *Service) Delete(ctx context.Context, p access.Principal, id string, force bool) (store.File, error) {
	now := s.now()
	var f store.File
	del := func(q store.Queries) error {
		// Locked first, so that a link naming the file either committed
		// before (and is among the references read next) or finds no
		// file.
		var err error
		if f, err = lookup(q.LockFile(ctx, p.OrgID, id)); err != nil {
			return err
		}
		if !force {
			refs, err := q.FileReferences(ctx, p.OrgID, id)
			if err != nil {
				return err
			}
			if len(refs) > 0 {
				return inUse(refs)
			}
		}
		if err := q.DeleteFile(ctx, p.OrgID, id, now); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "file.deleted", "file", f.ID, ViewOf(f), nil))
	}
	var err error // f is set by del: read it after the call
	if force && s.Links != nil {
		err = s.Links.ClearFile(ctx, p, id, del)
	} else {
		err = s.Store.Write(ctx, del)
	}
	return f, err
}

// inUse is the error of deleting a file that refs use.
func inUse(refs []store.FileReference) error {
	e := apierror.New(apierror.AlreadyExist,
		"the file is in use (%d references); delete with force=true to delete it and remove it from the links", len(refs))
	for _, r := range refs {
		e.Details = append(e.Details, apierror.Detail{Field: "references",
			Reason: fmt.Sprintf("%s %s uses it as %s", r.Type, r.ID, r.Field)})
	}
	return e
}
