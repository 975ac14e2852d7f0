// Package blobstest is the conformance suite every blobs.Store runs: the
// same cases against a directory and against an S3 server, so the files
// service can rely on one contract whichever keeps its bytes.
package blobstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/h0p/h0p/control/files/blobs"
)

// Harness is a fresh, empty store and a view of its backend.
type Harness struct {
	Store blobs.Store
	// Raw lists every name the backend holds, objects, temporary files and
	// unfinished uploads alike: after a failed Put it must list nothing
	// more than before.
	Raw func(t *testing.T) []string
}

const mib = 1 << 20

// Run runs the suite; open gives each subtest its own empty store.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		h := open(t)
		for _, size := range []int{0, 1, 5 * mib, 10 * mib} {
			data := randomBytes(size, uint64(size))
			key := blobs.Key(data)
			mustPut(t, h.Store, key, data)
			got := mustRead(t, h.Store, key)
			if !bytes.Equal(got, data) {
				t.Fatalf("size %d: read %d bytes, not the bytes put", size, len(got))
			}
			if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != key {
				t.Fatalf("size %d: read bytes hash to %x, want %s", size, sum, key)
			}
			n, err := h.Store.Stat(ctx, key)
			if err != nil || n != int64(size) {
				t.Fatalf("Stat = %d, %v; want %d", n, err, size)
			}
		}
	})

	t.Run("SeekRange", func(t *testing.T) {
		h := open(t)
		data := randomBytes(5*mib, 7)
		key := blobs.Key(data)
		mustPut(t, h.Store, key, data)
		obj, err := h.Store.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		for _, c := range []struct {
			offset int64
			whence int
			start  int // where the read should start
			n      int
		}{
			{3*mib + 17, io.SeekStart, 3*mib + 17, 4096},
			{0, io.SeekStart, 0, 10},
			{-100, io.SeekEnd, 5*mib - 100, 100},
			{1, io.SeekStart, 1, 1},
			{mib, io.SeekCurrent, mib + 2, 1000},
		} {
			pos, err := obj.Seek(c.offset, c.whence)
			if err != nil || pos != int64(c.start) {
				t.Fatalf("Seek(%d, %d) = %d, %v; want %d", c.offset, c.whence, pos, err, c.start)
			}
			got := make([]byte, c.n)
			if _, err := io.ReadFull(obj, got); err != nil {
				t.Fatalf("read %d at %d: %v", c.n, c.start, err)
			}
			if !bytes.Equal(got, data[c.start:c.start+c.n]) {
				t.Fatalf("read %d at %d: wrong bytes", c.n, c.start)
			}
		}
	})

	t.Run("PutExistingIsNoOp", func(t *testing.T) {
		h := open(t)
		data := randomBytes(mib, 3)
		key := blobs.Key(data)
		mustPut(t, h.Store, key, data)
		before := h.Raw(t)
		r := &countingReader{r: bytes.NewReader(data)}
		if err := h.Store.Put(ctx, key, r, int64(len(data))); err != nil {
			t.Fatalf("second Put: %v", err)
		}
		if r.n != int64(len(data)) {
			t.Fatalf("second Put read %d bytes, want all %d", r.n, len(data))
		}
		// Other bytes under an existing key: an error, the object intact.
		wrong := randomBytes(mib, 4)
		if err := h.Store.Put(ctx, key, bytes.NewReader(wrong), int64(len(wrong))); !errors.Is(err, blobs.ErrHashMismatch) {
			t.Fatalf("Put of other bytes under an existing key = %v, want ErrHashMismatch", err)
		}
		if got := h.Raw(t); !slices.Equal(got, before) {
			t.Fatalf("backend holds %v, want %v", got, before)
		}
		if !bytes.Equal(mustRead(t, h.Store, key), data) {
			t.Fatal("object changed")
		}
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		h := open(t)
		data := randomBytes(mib, 8)
		key := blobs.Key(data)
		errs := make(chan error, 8)
		for range cap(errs) {
			go func() { errs <- h.Store.Put(ctx, key, bytes.NewReader(data), int64(len(data))) }()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Errorf("concurrent Put: %v", err)
			}
		}
		if !bytes.Equal(mustRead(t, h.Store, key), data) {
			t.Fatal("object differs from the bytes put")
		}
		if raw := h.Raw(t); len(raw) != 1 {
			t.Fatalf("backend holds %v, want the one object", raw)
		}
	})

	// Failed Puts: each leaves nothing, neither the object nor a temporary.
	failures := []struct {
		name string
		size int
		body func(data []byte, cancel func()) io.Reader
		want func(error) bool
	}{
		{"HashMismatchSmall", 1000, func(data []byte, _ func()) io.Reader {
			return bytes.NewReader(randomBytes(len(data), 99))
		}, isMismatch},
		{"HashMismatchLarge", 10 * mib, func(data []byte, _ func()) io.Reader {
			other := slices.Clone(data)
			other[len(other)-1] ^= 1 // only the last byte differs
			return bytes.NewReader(other)
		}, isMismatch},
		{"HashMismatchEmpty", 0, func([]byte, func()) io.Reader { return bytes.NewReader(nil) }, isMismatch},
		{"ReaderFails", 10 * mib, func(data []byte, _ func()) io.Reader {
			return &failingReader{r: bytes.NewReader(data), after: 3 * mib}
		}, func(err error) bool { return errors.Is(err, errReader) }},
		{"ReaderShort", 5 * mib, func(data []byte, _ func()) io.Reader {
			return bytes.NewReader(data[:4*mib])
		}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"ContextCancelled", 10 * mib, func(data []byte, cancel func()) io.Reader {
			return &cancellingReader{r: bytes.NewReader(data), after: 3 * mib, cancel: cancel}
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			h := open(t)
			data := randomBytes(f.size, 11)
			key := blobs.Key(data)
			if f.name == "HashMismatchEmpty" {
				key = blobs.Key([]byte("not empty"))
			}
			pctx, cancel := context.WithCancel(ctx)
			defer cancel()
			err := h.Store.Put(pctx, key, f.body(data, cancel), int64(f.size))
			if err == nil || f.want != nil && !f.want(err) {
				t.Fatalf("Put = %v, want the failure's error", err)
			}
			if _, err := h.Store.Stat(ctx, key); !errors.Is(err, blobs.ErrNotFound) {
				t.Fatalf("Stat after failed Put = %v, want ErrNotFound", err)
			}
			if _, err := h.Store.Open(ctx, key); !errors.Is(err, blobs.ErrNotFound) {
				t.Fatalf("Open after failed Put = %v, want ErrNotFound", err)
			}
			if keys := listKeys(t, h.Store); len(keys) != 0 {
				t.Fatalf("List after failed Put = %v, want nothing", keys)
			}
			if raw := h.Raw(t); len(raw) != 0 {
				t.Fatalf("backend holds %v after failed Put, want nothing", raw)
			}
		})
	}

	t.Run("Delete", func(t *testing.T) {
		h := open(t)
		data := randomBytes(1000, 5)
		key := blobs.Key(data)
		mustPut(t, h.Store, key, data)
		for i := range 2 { // the second deletes an absent key
			if err := h.Store.Delete(ctx, key); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
		}
		if _, err := h.Store.Open(ctx, key); !errors.Is(err, blobs.ErrNotFound) {
			t.Fatalf("Open after Delete = %v, want ErrNotFound", err)
		}
		if _, err := h.Store.Stat(ctx, key); !errors.Is(err, blobs.ErrNotFound) {
			t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
		}
		if raw := h.Raw(t); len(raw) != 0 {
			t.Fatalf("backend holds %v after Delete, want nothing", raw)
		}
	})

	t.Run("List", func(t *testing.T) {
		h := open(t)
		want := map[string]int64{}
		for i := range 20 {
			data := randomBytes(i*37, uint64(100+i))
			key := blobs.Key(data)
			mustPut(t, h.Store, key, data)
			want[key] = int64(len(data))
		}
		deleted := ""
		for k := range want {
			deleted = k
			break
		}
		if err := h.Store.Delete(ctx, deleted); err != nil {
			t.Fatal(err)
		}
		delete(want, deleted)
		got := map[string]int64{}
		err := h.Store.List(ctx, func(key string, size int64, modified time.Time) error {
			if _, dup := got[key]; dup {
				t.Errorf("List gave %s twice", key)
			}
			if modified.IsZero() || time.Since(modified) > time.Hour {
				t.Errorf("List: %s modified %v", key, modified)
			}
			got[key] = size
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("List gave %d keys, want %d", len(got), len(want))
		}
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("List: %s size %d, want %d", k, got[k], n)
			}
		}
		stop := errors.New("stop")
		calls := 0
		err = h.Store.List(ctx, func(string, int64, time.Time) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("List with fn failing = %v after %d calls, want stop after 1", err, calls)
		}
	})

	t.Run("BadKeys", func(t *testing.T) {
		h := open(t)
		good := blobs.Key([]byte("x"))
		for _, key := range []string{
			"", "../x", "ab", good[:63], good + "0",
			"../" + good[3:], good[:62] + "/x", good[:60] + "ABCD",
			"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		} {
			if err := h.Store.Put(ctx, key, bytes.NewReader(nil), 0); !errors.Is(err, blobs.ErrBadKey) {
				t.Errorf("Put(%q) = %v, want ErrBadKey", key, err)
			}
			if _, err := h.Store.Open(ctx, key); !errors.Is(err, blobs.ErrBadKey) {
				t.Errorf("Open(%q) = %v, want ErrBadKey", key, err)
			}
			if _, err := h.Store.Stat(ctx, key); !errors.Is(err, blobs.ErrBadKey) {
				t.Errorf("Stat(%q) = %v, want ErrBadKey", key, err)
			}
			if err := h.Store.Delete(ctx, key); !errors.Is(err, blobs.ErrBadKey) {
				t.Errorf("Delete(%q) = %v, want ErrBadKey", key, err)
			}
		}
		if raw := h.Raw(t); len(raw) != 0 {
			t.Fatalf("backend holds %v, want nothing", raw)
		}
	})
}

func isMismatch(err error) bool { return errors.Is(err, blobs.ErrHashMismatch) }

func mustPut(t *testing.T, s blobs.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put %d bytes: %v", len(data), err)
	}
}

func mustRead(t *testing.T, s blobs.Store, key string) []byte {
	t.Helper()
	obj, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if obj.Size() != int64(len(got)) {
		t.Fatalf("Size() = %d, read %d bytes", obj.Size(), len(got))
	}
	return got
}

func listKeys(t *testing.T, s blobs.Store) []string {
	t.Helper()
	var keys []string
	err := s.List(context.Background(), func(key string, _ int64, _ time.Time) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return keys
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x626c6f6273))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

var errReader = errors.New("reader failed")

// failingReader fails once it has given after bytes.
type failingReader struct {
	r     io.Reader
	after int
	n     int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, errReader
	}
	p = p[:min(len(p), f.after-f.n)]
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}

// cancellingReader cancels the Put's context once it has given after bytes,
// and goes on giving bytes.
type cancellingReader struct {
	r      io.Reader
	after  int
	n      int
	cancel func()
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
