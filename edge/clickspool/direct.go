package clickspool

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// Direct I/O: where the filesystem allows it (oDirect, Linux), the open
// segment's file is written with O_DIRECT from an image of it in memory
// (Spool.img: the place of the head, then the body the open segment's
// encoder writes into), a whole block at a time as the clicks come, and
// the last block, padded, at the seal, which then truncates the file to
// the segment's size. The page cache never holds a segment: a buffered
// write of the clicks of a few milliseconds allocated, filled and
// accounted a page at a time, and the seal's sync then wrote them back,
// ≈2.5 µs of the edge's CPU a 4 KiB page. A filesystem that refuses
// O_DIRECT (tmpfs) gets buffered writes, as does a segment of one click
// larger than the image.

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

// createOpen creates the open segment's file, for direct I/O when the
// spool has an image and the filesystem takes it; direct says which.
func (s *Spool) createOpen(name string) (f *os.File, direct bool, err error) {
	if s.img != nil && !s.noDirect {
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oDirect, 0o600)
		if err == nil {
			return f, true, nil
		}
		if !s.directRefused(err) {
			return nil, false, err
		}
	}
	f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	return f, false, err
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
	return s.img != nil && cap(body) > 0 && unsafe.SliceData(body) == &s.img[s.headLen]
}

// writeDirect writes the open segment's whole blocks not on disk yet.
func (s *Spool) writeDirect() error {
	full := (s.headLen + len(s.open.Body())) &^ (blockSize - 1)
	if full <= s.directDone {
		return nil
	}
	if _, err := s.openFile.WriteAt(s.img[s.directDone:full], int64(s.directDone)); err != nil {
		s.directRefused(err) // buffered from the next segment on
		return err
	}
	s.directDone = full
	return nil
}

// sealDirect writes the rest of the open segment from the image: the
// head in its place (the first block again), the blocks not on disk yet
// with the tail, padded to a block; then the file is cut to the segment's
// size.
func (s *Spool) sealDirect(head, tail []byte) error {
	f := s.openFile
	end := copy(s.img, head) + len(s.open.Body())
	size := end + copy(s.img[end:], tail)
	from := s.directDone
	if from > 0 { // the first block again, with the head
		if _, err := f.WriteAt(s.img[:blockSize], 0); err != nil {
			return err
		}
		from = max(from, blockSize)
	}
	if to := roundUp(size); to > from {
		if _, err := f.WriteAt(s.img[from:to], int64(from)); err != nil {
			return err
		}
	}
	return f.Truncate(int64(size))
}
