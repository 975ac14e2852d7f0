package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Local is a Store in a directory of the local file system.
type Local struct {
	dir string
}

var _ Store = (*Local)(nil)

// OpenLocal opens (creating it if needed) the store in dir and removes
// whatever dir/tmp holds: uploads a crash interrupted.
func OpenLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blobs: open %s: %w", dir, err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("blobs: clear %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("blobs: open %s: %w", dir, err)
	}
	return &Local{dir: dir}, nil
}

func (l *Local) path(key string) string {
	return filepath.Join(l.dir, key[:2], key[2:])
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	if _, err := os.Stat(l.path(key)); err == nil {
		return drain(ctx, key, r, size)
	}
	f, err := os.CreateTemp(filepath.Join(l.dir, "tmp"), "put-*")
	if err != nil {
		return fmt.Errorf("blobs: put %s: %w", key, err)
	}
	tmp := f.Name()
	if err := l.write(ctx, f, key, r, size); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := l.place(tmp, key); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// copyBuffers hold the bytes between the reader and the file: io.Copy's
// 32 KiB made a 10 MiB object 320 writes.
var copyBuffers = sync.Pool{New: func() any { return new([256 << 10]byte) }}

// write copies the verified bytes to f, syncs and closes it.
func (l *Local) write(ctx context.Context, f *os.File, key string, r io.Reader, size int64) error {
	v := newVerifier(ctx, r, key, size)
	buf := copyBuffers.Get().(*[256 << 10]byte)
	defer copyBuffers.Put(buf)
	// The struct hides f's ReadFrom, which would copy through a buffer of
	// its own.
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, v, buf[:]); err != nil {
		return fmt.Errorf("blobs: put %s: %w", key, err)
	}
	if err := v.finish(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("blobs: put %s: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blobs: put %s: close: %w", key, err)
	}
	return nil
}

// place renames the complete temporary file under key and syncs the
// directories the rename (and a new fan-out directory) changed.
func (l *Local) place(tmp, key string) error {
	fan := filepath.Join(l.dir, key[:2])
	_, err := os.Stat(fan)
	newFan := errors.Is(err, fs.ErrNotExist)
	if newFan {
		if err := os.Mkdir(fan, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("blobs: put %s: %w", key, err)
		}
	}
	if err := os.Rename(tmp, l.path(key)); err != nil {
		return fmt.Errorf("blobs: put %s: %w", key, err)
	}
	if err := syncDir(fan); err != nil {
		return fmt.Errorf("blobs: put %s: %w", key, err)
	}
	if newFan {
		if err := syncDir(l.dir); err != nil {
			return fmt.Errorf("blobs: put %s: %w", key, err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Open implements Store.
func (l *Local) Open(ctx context.Context, key string) (Object, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blobs: open %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: open %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blobs: open %s: %w", key, err)
	}
	return &localObject{File: f, size: fi.Size()}, nil
}

type localObject struct {
	*os.File
	size int64
}

func (o *localObject) Size() int64 { return o.size }

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	fi, err := os.Stat(l.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blobs: stat %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("blobs: stat %s: %w", key, err)
	}
	return fi.Size(), nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := os.Remove(l.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobs: delete %s: %w", key, err)
	}
	return nil
}

// List implements Store. It skips tmp/ and any name that is not a key.
func (l *Local) List(ctx context.Context, fn func(key string, size int64, modified time.Time) error) error {
	fans, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("blobs: list: %w", err)
	}
	for _, fan := range fans {
		if !fan.IsDir() || len(fan.Name()) != 2 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(l.dir, fan.Name()))
		if err != nil {
			return fmt.Errorf("blobs: list: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			key := fan.Name() + e.Name()
			if !e.Type().IsRegular() || CheckKey(key) != nil {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since ReadDir
			}
			if err != nil {
				return fmt.Errorf("blobs: list: %w", err)
			}
			if err := fn(key, fi.Size(), fi.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}
