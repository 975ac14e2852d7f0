package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/files"
	"github.com/h0p/h0p/control/files/blobs"
)

// fileFlags say where uploaded files' bytes live: a directory of this
// node, or an S3-compatible bucket, which every control node of a cluster
// must share (an upload is served by whichever node reads it).
type fileFlags struct {
	dir      string
	maxBytes int64
	s3       blobs.S3Config
	insecure bool
}

func (f *fileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "files-dir", "", "directory of uploaded files' bytes when no --files-s3-bucket is set (default <data>/control/files)")
	fs.Int64Var(&f.maxBytes, "files-max-bytes", files.DefaultMaxBytes, "largest file an upload may be, in bytes (0: the default)")
	fs.StringVar(&f.s3.Endpoint, "files-s3-endpoint", "", "host[:port] of an S3-compatible server keeping uploaded files' bytes (with --files-s3-bucket; every control node of a cluster needs it)")
	fs.StringVar(&f.s3.Bucket, "files-s3-bucket", "", "bucket of uploaded files' bytes (empty: --files-dir)")
	fs.StringVar(&f.s3.Region, "files-s3-region", "", "region of the bucket (empty: the server's default)")
	fs.StringVar(&f.s3.Prefix, "files-s3-prefix", "files/", "prefix of the objects' names in the bucket")
	fs.StringVar(&f.s3.AccessKey, "files-s3-access-key", "", "access key of the bucket (prefer H0P_FILES_S3_ACCESS_KEY)")
	fs.StringVar(&f.s3.SecretKey, "files-s3-secret-key", "", "secret key of the bucket (prefer H0P_FILES_S3_SECRET_KEY or H0P_FILES_S3_SECRET_KEY_FILE: a flag shows in the process list)")
	fs.BoolVar(&f.insecure, "files-s3-insecure", false, "reach the S3 server over plain HTTP (tests and private networks only)")
}

// apply opens the file store and sets the files fields of cfg; cluster
// says whether control nodes share a database (and so need S3).
func (f *fileFlags) apply(ctx context.Context, cfg *control.Config, cluster bool) error {
	if f.maxBytes < 0 {
		return errors.New("--files-max-bytes must not be negative")
	}
	cfg.FilesMaxBytes = f.maxBytes
	if f.s3.Bucket != "" {
		if f.s3.Endpoint == "" {
			return errors.New("--files-s3-bucket needs --files-s3-endpoint")
		}
		c := f.s3
		c.Secure = !f.insecure
		s, err := blobs.NewS3(ctx, c)
		if err != nil {
			return fmt.Errorf("files' bucket: %w", err)
		}
		cfg.Files = s
		return nil
	}
	if cluster && f.dir == "" {
		cfg.Logger.Warn("uploaded files live in this node's data directory; control nodes sharing a database need --files-s3-bucket (or a --files-dir they share)")
	}
	dir := f.dir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "files")
	}
	l, err := blobs.OpenLocal(dir)
	if err != nil {
		return fmt.Errorf("files' directory: %w", err)
	}
	cfg.Files = l
	return nil
}
