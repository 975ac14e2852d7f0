package clickspool

import (
	"errors"
	"os"
	"syscall"
	"unsafe"

	"github.com/h0p/h0p/shared/clicks"
)

// Direct I/O: where the filesystem allows it (oDirect, Linux), a segment
// is written at its seal with O_DIRECT, in one write, from an image of it
// in memory (Spool.img: the place of the head, then the body the open
// segment's encoder writes into), padded to a whole block, then cut to the
// segment's size. The page cache never holds a segment: a buffered write
// allocated, filled and accounted a page at a time, and the seal's sync
// then wrote them back, ≈2.5 µs of the edge's CPU a 4 KiB page. And the
// segment is written once: a direct write costs the edge's CPU per write
// as well as per byte (a 1 MiB segment in 128 KiB writes took three times
// the CPU of one write: BenchmarkDirectWrite), so the open segment is not
// written as it fills: a crash loses it either way, since only a sealed
// segment is known whole. A filesystem that refuses O_DIRECT (tmpfs) gets
// buffered writes, as does a segment of one click larger than the image.

// blockSize aligns direct I/O: buffers, offsets and lengths (4 KiB covers
// devices of 512-byte and of 4 KiB logical blocks).
const blockSize = 4096

// roundUp is n rounded up to a whole number of blocks.
func roundUp(n int) int { return (n + blockSize - 1) &^ (blockSize - 1) }

// alignedBuffer is a buffer of n bytes whose array starts on a block
// boundary (Go's heap does not move objects).
func alignedBuffer(n int) []byte {
	b := make([]byte, n+blockSize)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (blockSize - 1))
	return b[off : off+n : off+n]
}

// writeSegment writes the sealed segment name, from the image with direct
// I/O where it can, else through the page cache.
func (s *Spool) writeSegment(name string, head, body, tail []byte) error {
	if !s.noDirect && s.inImage() {
		err := s.writeDirect(name, head, tail)
		if err == nil || !s.directRefused(err) {
			return err
		}
	}
	return writeFileSynced(s.dir, name, head, body, tail)
}

// writeDirect writes the image, the head in its place and the tail after
// the body, as the sealed segment name.
func (s *Spool) writeDirect(name string, head, tail []byte) error {
	end := copy(s.img, head) + len(s.open.Body())
	size := end + copy(s.img[end:], tail)
	return replaceSynced(s.dir, name, oDirect, func(f *os.File) error {
		if _, err := f.Write(s.img[:roundUp(size)]); err != nil {
			return err
		}
		return f.Truncate(int64(size))
	})
}

// directRefused reports whether err is the filesystem or the disk
// refusing direct I/O (EINVAL: at open, or for an alignment), and if so
// has the spool write through the page cache from then on. Any other
// error (a missing directory, a full disk) leaves direct I/O on.
func (s *Spool) directRefused(err error) bool {
	if !errors.Is(err, syscall.EINVAL) {
		return false
	}
	s.noDirect = true
	s.log.Info("the click spool's disk refuses direct I/O: writing through the page cache", "dir", s.dir, "err", err)
	return true
}

// inImage says whether the open segment's body is in s.img, after the
// place of the head (an oversized click moves it out).
func (s *Spool) inImage() bool {
	body := s.open.Body()
	return s.img != nil && cap(body) > 0 && unsafe.SliceData(body) == &s.img[clicks.HeadLen(s.edge)]
}
