// Package blobs stores the bytes under the files resource (uploaded images,
// saved QR codes) by their content: the key of an object is the lowercase
// hex SHA-256 of its bytes, 64 characters, checked on every call (ErrBadKey
// otherwise), so a key is never a path taken from user input. File rows in
// the control store name objects by key; an object no row references is
// swept by the files service through List and Delete.
//
// Contract of every Store:
//
//   - Put reads exactly size bytes, hashing them as they stream, and stores
//     them only if they hash to the key: after Put the object is whole under
//     its key or absent, never partial and never holding other bytes. A
//     reader that fails or ends early, a cancelled context or a hash
//     mismatch (ErrHashMismatch) leaves nothing readable. Putting a key that
//     exists stores nothing, but still reads and checks the size bytes, so an
//     HTTP upload is drained and a wrong body still fails.
//   - Objects never change once stored; Delete of an absent key succeeds.
//     List's modified time is the object's first write: a Put that finds
//     the key stored does not refresh it.
//   - Open returns an io.ReadSeekCloser (for Range requests) and the size.
//     Open and Stat of an absent key return an error wrapping ErrNotFound.
//
// Local keeps objects in a directory, at dir/ab/cdef… (fan-out by the
// first two hex characters), files 0o600 in directories 0o700. Put writes
// dir/tmp/put-*, hashes as it writes, fsyncs, checks the hash, renames into
// place and fsyncs the fan-out directory: a crash leaves at most a file in
// tmp/, which OpenLocal removes, never a partial object under a key. One
// process uses a directory: OpenLocal would remove another's uploads.
//
// S3 keeps objects in a bucket of an S3-compatible server at prefix+key
// (minio-go). Put streams the body to the server once, with its size; the
// bytes pass through a hashing reader that withholds the last of them when
// the hash does not match and fails instead, so the server never receives a
// complete body and stores nothing: a single PUT (objects up to the part
// size, 16 MiB by default) is cut off mid-body, a multipart upload fails on
// its last part and is aborted, never completed. S3 makes an object visible
// only when its PUT or CompleteMultipartUpload succeeds, so no temporary
// object and no server-side copy is needed (minio-go sends the abort even
// when the context was cancelled). What a crash, or a server unreachable
// for the abort, may leave is an incomplete multipart upload: invisible to
// Open and List, it holds storage until the bucket's lifecycle rule
// (AbortIncompleteMultipartUpload, a day is plenty) removes it.
//
// Tested (blobstest, the same suite for both) against a directory under
// t.TempDir() and against gofakes3's in-memory server over HTTP on
// loopback; minio-go speaks to AWS S3, MinIO, Ceph RGW, R2 and GCS's XML
// API alike, but those have not been run here.
package blobs
