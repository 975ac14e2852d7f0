package blobs_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	filesvc "github.com/h0p/h0p/control/files"
	"github.com/h0p/h0p/control/files/blobs"
	"github.com/h0p/h0p/control/files/blobs/blobstest"
)

func TestLocal(t *testing.T) {
	blobstest.Run(t, func(t *testing.T) blobstest.Harness {
		dir := t.TempDir()
		s, err := blobs.OpenLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		return blobstest.Harness{Store: s, Raw: func(t *testing.T) []string { return files(t, dir) }}
	})
}

// files lists the regular files under dir, tmp/ included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestLocalCrashAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := blobs.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a saved QR code")
	key := blobs.Key(data)
	if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	// A crash mid-upload leaves a partial file in tmp/.
	if err := os.WriteFile(filepath.Join(dir, "tmp", "put-123"), data[:4], 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = blobs.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(key[:2], key[2:])}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after reopening: %v, want %v", got, want)
	}
	obj, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.Size() != int64(len(data)) {
		t.Fatalf("size %d, want %d", obj.Size(), len(data))
	}
	for path, want := range map[string]fs.FileMode{
		dir:                                  0o700,
		filepath.Join(dir, "tmp"):            0o700,
		filepath.Join(dir, key[:2]):          0o700,
		filepath.Join(dir, key[:2], key[2:]): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}

// The S3 runs talk to a real S3 server over HTTP on loopback: gofakes3 with
// its in-memory backend, which parses and answers the S3 protocol (signed
// requests, single and multipart uploads, ranged GETs) as a server would.
// It is not a mock of the client: minio-go runs unchanged against it.
func newS3Server(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(gofakes3.New(s3mem.New()).Server())
	// gofakes3 writes a second header on the requests Put cuts off.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestS3(t *testing.T) {
	for _, c := range []struct {
		name     string
		part     uint64
		unsigned bool
	}{
		{"SinglePut", 0, false}, // minio-go's 16 MiB parts: every object in one PUT
		// S3's smallest parts: 10 MiB goes in two. gofakes3 stores parts
		// sent as signed aws-chunked streams without decoding them.
		{"Multipart", 5 << 20, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			blobstest.Run(t, func(t *testing.T) blobstest.Harness {
				endpoint := newS3Server(t)
				cfg := blobs.S3Config{
					Endpoint: endpoint, Bucket: "h0p-files", Region: "us-east-1",
					AccessKey: "test", SecretKey: "test-secret",
					Prefix: "files/", CreateBucket: true, PartSize: c.part, UnsignedPayload: c.unsigned,
				}
				s, err := blobs.NewS3(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				return blobstest.Harness{Store: s, Raw: func(t *testing.T) []string { return bucket(t, cfg) }}
			})
		})
	}
}

// bucket lists every object in the bucket, whatever its prefix, and the
// multipart uploads begun and neither completed nor aborted.
func bucket(t *testing.T, cfg blobs.S3Config) []string {
	t.Helper()
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Region: cfg.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var names []string
	for o := range client.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		names = append(names, o.Key)
	}
	for u := range client.ListIncompleteUploads(ctx, cfg.Bucket, "", true) {
		if u.Err != nil {
			if minio.ToErrorResponse(u.Err).Code == "NoSuchUpload" {
				break // gofakes3's answer for a bucket that never had an upload
			}
			t.Fatal(u.Err)
		}
		names = append(names, "upload:"+u.Key)
	}
	return names
}

func TestS3Bucket(t *testing.T) {
	ctx := context.Background()
	endpoint := newS3Server(t)
	cfg := blobs.S3Config{Endpoint: endpoint, Bucket: "missing", Region: "us-east-1", AccessKey: "test", SecretKey: "test-secret"}
	if _, err := blobs.NewS3(ctx, cfg); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("NewS3 on a missing bucket = %v, want a clear error", err)
	}
	cfg.CreateBucket = true
	for range 2 { // the second finds the bucket the first made
		if _, err := blobs.NewS3(ctx, cfg); err != nil {
			t.Fatalf("NewS3 with CreateBucket: %v", err)
		}
	}
	cfg.Endpoint = "127.0.0.1:1"
	cfg.Bucket = "x"
	if _, err := blobs.NewS3(ctx, cfg); err == nil {
		t.Fatal("NewS3 on a closed port succeeded")
	}
}

// The files service takes both stores as they are.
var (
	_ filesvc.Store = (*blobs.Local)(nil)
	_ filesvc.Store = (*blobs.S3)(nil)
)
