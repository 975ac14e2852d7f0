package blobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3 store keeps its objects.
type S3Config struct {
	Endpoint  string // host[:port], no scheme
	Bucket    string
	Region    string // empty: the server's default
	AccessKey string
	SecretKey string
	Secure    bool   // HTTPS
	Prefix    string // prepended to every key, e.g. "files/"
	// CreateBucket makes the bucket when it does not exist; otherwise
	// NewS3 fails when it is missing.
	CreateBucket bool
	// PartSize is the size of a multipart upload's parts; objects up to it
	// go in one PUT. Zero is minio-go's default (16 MiB); S3's minimum is
	// 5 MiB.
	PartSize uint64
	// UnsignedPayload sends bodies over plain HTTP unsigned, as over HTTPS,
	// rather than as signed aws-chunked streams: for servers that store
	// multipart parts still chunk-encoded (gofakes3 1.2 does).
	UnsignedPayload bool
	// Transport, when set, carries the requests (tests, proxies).
	Transport http.RoundTripper
}

// S3 is a Store in a bucket of an S3-compatible server.
type S3 struct {
	client   *minio.Client
	bucket   string
	prefix   string
	part     uint64
	unsigned bool
}

var _ Store = (*S3)(nil)

// NewS3 connects to the server and checks (or creates) the bucket.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("blobs: s3 needs an endpoint and a bucket")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("blobs: s3 %s: %w", cfg.Endpoint, err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blobs: s3 %s: bucket %s: %w", cfg.Endpoint, cfg.Bucket, err)
	}
	if !ok {
		if !cfg.CreateBucket {
			return nil, fmt.Errorf("blobs: s3 %s: bucket %s does not exist (create it, or set CreateBucket)", cfg.Endpoint, cfg.Bucket)
		}
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return nil, fmt.Errorf("blobs: s3 %s: create bucket %s: %w", cfg.Endpoint, cfg.Bucket, err)
		}
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix, part: cfg.PartSize, unsigned: cfg.UnsignedPayload}, nil
}

// isNotFound: minio-go names a 404 on an object NoSuchKey, HEAD's too; a
// missing bucket (NoSuchBucket) is an error, not an absent object.
func isNotFound(err error) bool {
	return minio.ToErrorResponse(err).Code == minio.NoSuchKey
}

// Put implements Store. See the package doc for why the object is whole or
// absent.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	if _, err := s.Stat(ctx, key); err == nil {
		return drain(ctx, key, r, size)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	v := newVerifier(ctx, r, key, size)
	var body io.Reader = v
	if size == 0 {
		// An empty body is checked here, as the HTTP client never reads it.
		if err := drain(ctx, key, r, 0); err != nil {
			return err
		}
		body, v.done = bytes.NewReader(nil), true
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, body, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    s.part,
		// minio-go's streaming signature (plain HTTP) sends an empty body
		// chunked, without a Content-Length, which S3 refuses.
		DisableContentSha256: size == 0 || s.unsigned,
	})
	if err != nil {
		// Report the cause the verifier saw (mismatch, the reader's error),
		// not minio's account of the aborted request.
		if ferr := v.failure(); ferr != nil {
			return ferr
		}
		return fmt.Errorf("blobs: put %s: %w", key, err)
	}
	if !v.done {
		// Not reachable with a conforming client: the object went out
		// without all its bytes passing the verifier. Take it back.
		s.Delete(context.WithoutCancel(ctx), key)
		return fmt.Errorf("blobs: put %s: body not read to its end", key)
	}
	return nil
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("blobs: open %s: %w", key, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		if isNotFound(err) {
			return nil, fmt.Errorf("blobs: open %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("blobs: open %s: %w", key, err)
	}
	return &s3Object{Object: obj, size: info.Size}, nil
}

type s3Object struct {
	*minio.Object
	size int64
}

func (o *s3Object) Size() int64 { return o.size }

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		if isNotFound(err) {
			return 0, fmt.Errorf("blobs: stat %s: %w", key, ErrNotFound)
		}
		return 0, fmt.Errorf("blobs: stat %s: %w", key, err)
	}
	return info.Size, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("blobs: delete %s: %w", key, err)
	}
	return nil
}

// List implements Store. Names under the prefix that are not keys are
// skipped.
func (s *S3) List(ctx context.Context, fn func(key string, size int64, modified time.Time) error) error {
	ctx, cancel := context.WithCancel(ctx) // stops the listing goroutine on an early return
	defer cancel()
	for info := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if info.Err != nil {
			return fmt.Errorf("blobs: list: %w", info.Err)
		}
		key, ok := strings.CutPrefix(info.Key, s.prefix)
		if !ok || CheckKey(key) != nil {
			continue
		}
		if err := fn(key, info.Size, info.LastModified); err != nil {
			return err
		}
	}
	return nil
}
