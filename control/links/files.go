package links

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
)

// A link's image and preview image are a URL or a file of the link's org
// (its ID, file_…), kept as given. A file must be a raster image: social
// networks do not show SVG previews. It is checked in the transaction that
// writes the link, its row locked (store.Queries.LockFile), so that the
// file's delete, which locks it too before reading its references, either
// sees the link or makes the link's write find no file. The edges get the
// file's public URL (Service.FileURL) in the link's record.

const filePrefix = "file_"

// isFile reports whether an image field names a file rather than a URL
// (a URL has a scheme, so cannot begin so).
func isFile(v string) bool { return strings.HasPrefix(v, filePrefix) }

// rasterTypes are the media types (control/files) a link's images may be.
var rasterTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// fileIDs sets the row's file columns from l's image fields.
func (l *Link) fileIDs(sl *store.Link) {
	sl.ImageFile, sl.PreviewImageFile = "", ""
	if isFile(l.Image) {
		sl.ImageFile = l.Image
	}
	if isFile(l.Preview.Image) {
		sl.PreviewImageFile = l.Preview.Image
	}
}

// checkFiles checks, inside q's transaction, the image fields in sets that
// name files: each a raster image file of l's org, locked until the
// transaction ends, and who names one (pr) may read files, since the
// edges publish it.
func checkFiles(ctx context.Context, q store.Queries, pr access.Principal, l *Link, in Input) error {
	var p problems
	for _, f := range []struct {
		set          bool
		field, value string
	}{
		{in.Image.Set, "image", l.Image},
		{in.Preview.Set, "preview.image", l.Preview.Image},
	} {
		if !f.set || !isFile(f.value) {
			continue
		}
		if pr.Kind != access.System && access.Check(pr, access.Need{Resource: access.Files, Action: access.Read}) != access.Allowed {
			return apierror.New(apierror.Forbidden, "%s names a file, which publishes it: it needs the files read permission", f.field)
		}
		file, err := q.LockFile(ctx, l.OrgID, f.value)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.add(f.field, "no such file")
		case err != nil:
			return fmt.Errorf("file of link %s: %w", f.field, err)
		case file.MediaType == "image/svg+xml":
			p.add(f.field, "is an SVG file, which social networks do not show as a preview: use a PNG, JPEG, GIF or WebP file")
		case !rasterTypes[file.MediaType]:
			p.add(f.field, "is not an image file: use a PNG, JPEG, GIF or WebP file")
		}
	}
	return p.err()
}

// fileURL is the URL the edges show for an image field: a file's public
// URL, a URL as it is.
func (s *Service) fileURL(v string) string {
	if !isFile(v) {
		return v
	}
	if s.FileURL == nil {
		return ""
	}
	return s.FileURL(v)
}

// record is l's record for the edges, its image files made URLs.
func (s *Service) record(l *Link) kv.Link {
	r := l.record()
	r.Preview.Image = s.fileURL(r.Preview.Image)
	return r
}

// ClearFile runs fn in a transaction that then clears file id from the
// image and preview image of p's org's links that use it, each a link
// update (version, audit entry, event, record for the edges), and
// replicates them after the commit. fn is meant to delete the file: it
// locks the file's row (a delete does) before the links are read, so a
// link written meanwhile is either seen here or finds no file.
func (s *Service) ClearFile(ctx context.Context, p access.Principal, id string, fn func(q store.Queries) error) error {
	now := s.now()
	var pub pending
	err := s.Store.Write(ctx, func(q store.Queries) error {
		if err := fn(q); err != nil {
			return err
		}
		refs, err := q.FileReferences(ctx, p.OrgID, id)
		if err != nil {
			return err
		}
		// No tag is created here: the plan's limits do not matter.
		tags, err := loadTags(ctx, q, p.OrgID, plans.Plan{})
		if err != nil {
			return err
		}
		j := newJournal(now)
		var ops []kv.Op
		done := map[string]bool{}
		for _, ref := range refs {
			if ref.Type != "link" || done[ref.ID] {
				continue
			}
			done[ref.ID] = true
			l, err := clearFile(ctx, q, p, ref.ID, id, tags, j)
			if err != nil {
				return err
			}
			rec := s.record(&l)
			ops = append(ops, kv.Op{Type: kv.OpPutLink, Link: &rec})
		}
		if err := j.flush(ctx, q); err != nil {
			return err
		}
		pub, err = record(ctx, q, ops, now)
		return err
	})
	if err != nil {
		return err
	}
	return s.publish(ctx, pub)
}

func clearFile(ctx context.Context, q store.Queries, p access.Principal, linkID, fileID string, tags *tagIndex, j *journal) (Link, error) {
	cur, err := q.LockLink(ctx, p.OrgID, linkID)
	if err != nil {
		return Link{}, fmt.Errorf("link using file %s: %w", fileID, err)
	}
	l, err := fromStore(cur, tags)
	if err != nil {
		return Link{}, err
	}
	before := ViewOf(l)
	if l.Image == fileID {
		l.Image = ""
	}
	if l.Preview.Image == fileID {
		l.Preview.Image = ""
	}
	return saveChange(ctx, q, p, l, before, j)
}
