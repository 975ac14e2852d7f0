package clickspool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/h0p/h0p/shared/clicks"
)

// Slots: a segment is written into a slot, a file the spool keeps and
// reuses. A slot holds, from its start, an 8-byte slot head ("H0PS" and
// the batch's length, little endian), the batch, and whatever follows; an
// empty slot's head is zero. A slot file is made once, written whole,
// synced, renamed into place and the directory synced; a seal then
// overwrites an empty slot's first blocks with O_DSYNC, which changes no
// metadata: one write and a flush of the disk's cache, no journal commit
// (edge/DESIGN.md says why it matters). A crash during a seal tears at
// most the slot being written, found by its checksum at Open. Emptying a
// slot zeroes its head, not synced: after a crash its segment may be
// back, and ships again. Empty slots are kept for reuse while they total
// at most a quarter of MaxBytes, and removed beyond; an empty slot's old
// clicks stay on the disk until overwritten, as a removed file's do.
//
// Direct I/O: where the filesystem allows it (oDirect, Linux), slots are
// written and read with O_DIRECT, the page cache never holding a segment.
// The open segment is kept in memory as its slot will hold it (Spool.img)
// and written once, at its seal, padded to a whole block. A filesystem
// that refuses O_DIRECT (tmpfs) gets buffered I/O; a segment of one click
// larger than the image gets a slot of its own.

// blockSize aligns direct I/O: buffers, offsets and lengths (4 KiB covers
// devices of 512-byte and of 4 KiB logical blocks).
const blockSize = 4096

const slotHeadLen = 8

var slotMagic = []byte("H0PS")

// slot is one slot file of size bytes.
type slot struct {
	id       uint64
	size     int64
	modified time.Time // at Open: a sealed segment's time
}

func (sl slot) name() string { return fmt.Sprintf("%020d%s", sl.id, slotSuffix) }

// parseSlotName reads "<id>.slot".
func parseSlotName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, slotSuffix)
	id, err := strconv.ParseUint(base, 10, 64)
	return id, ok && err == nil && len(base) == 20
}

// roundUp is n rounded up to a whole number of blocks.
func roundUp(n int) int { return (n + blockSize - 1) &^ (blockSize - 1) }

// alignedBuffer is a buffer of n bytes whose array starts on a block
// boundary (Go's heap does not move objects).
func alignedBuffer(n int) []byte {
	b := make([]byte, n+blockSize)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (blockSize - 1))
	return b[off : off+n : off+n]
}

// slotSize is the size of the slot made for a segment of used bytes (its
// slot head included): a power of two from one block to 64 KiB, then a
// multiple of 64 KiB, at most the image's size, so that a slot made in a
// backlog wastes little disk and can be reused by segments a little
// larger; beyond the image (one oversized click), its blocks.
func (s *Spool) slotSize(used int) int {
	const step = 64 << 10
	n := roundUp(used)
	switch {
	case n > len(s.img):
		return n
	case n <= step:
		return min(max(blockSize, 1<<bits.Len(uint(n-1))), len(s.img))
	default:
		return min((n+step-1)&^(step-1), len(s.img))
	}
}

// slotImage is the first size bytes of a slot holding the open segment,
// framed by head and tail: of the image when the body is in it, else of a
// buffer of its own; the segment fills used bytes of them.
func (s *Spool) slotImage(head, tail []byte, used, size int) []byte {
	var data []byte
	if s.inImage() {
		data = s.img[:size]
		copy(data[slotHeadLen:], head)
	} else {
		data = alignedBuffer(size)
		copy(data[slotHeadLen+copy(data[slotHeadLen:], head):], s.open.Body())
	}
	copy(data, slotMagic)
	binary.LittleEndian.PutUint32(data[len(slotMagic):], uint32(used-slotHeadLen))
	copy(data[used-len(tail):], tail)
	return data
}

// inImage says whether the open segment's body is in s.img, after the
// place of the heads (an oversized click moves it out).
func (s *Spool) inImage() bool {
	body := s.open.Body()
	return s.img != nil && cap(body) > 0 && unsafe.SliceData(body) == &s.img[slotHeadLen+clicks.HeadLen(s.edge)]
}

// writeSlot writes data at the start of sl: a new slot (made) is written
// whole, synced and renamed into place; an empty one is overwritten with
// O_DSYNC, and removed if that fails.
func (s *Spool) writeSlot(sl slot, made bool, data []byte) error {
	for {
		var err error
		if made {
			err = replaceSynced(s.dir, sl.name(), s.direct(), func(f *os.File) error {
				_, err := f.Write(data)
				return err
			})
		} else {
			err = s.overwrite(sl, data, oDSync)
		}
		if err != nil && s.directRefused(err) {
			continue
		}
		if err != nil && !made {
			os.Remove(filepath.Join(s.dir, sl.name())) // what it holds now is unknown
		}
		return err
	}
}

// overwrite writes data at the start of sl, the file opened with flag
// added.
func (s *Spool) overwrite(sl slot, data []byte, flag int) error {
	f, err := os.OpenFile(filepath.Join(s.dir, sl.name()), os.O_WRONLY|s.direct()|flag, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// errTornSlot: a slot's head that is neither empty nor a batch's that fits.
var errTornSlot = errors.New("torn slot head")

// readSlot reads the batch sl holds into readBuf, nil if sl is empty; size
// is its length when known, else -1. The bytes are valid until the next
// call.
func (s *Spool) readSlot(sl slot, size int64) ([]byte, error) {
	n := blockSize
	if size >= 0 {
		n = roundUp(slotHeadLen + int(size))
	}
	for {
		buf, err := s.readAt(sl, n)
		if err != nil && s.directRefused(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if bytes.Equal(buf[:slotHeadLen], s.zeroBlock[:slotHeadLen]) {
			return nil, nil
		}
		length := int64(binary.LittleEndian.Uint32(buf[len(slotMagic):slotHeadLen]))
		if !bytes.Equal(buf[:len(slotMagic)], slotMagic) || slotHeadLen+length > sl.size || size >= 0 && length != size {
			return nil, errTornSlot
		}
		if need := roundUp(slotHeadLen + int(length)); need > n {
			n = need
			continue
		}
		return buf[slotHeadLen : slotHeadLen+length], nil
	}
}

// readAt reads sl's first n bytes (a whole number of blocks) into readBuf.
func (s *Spool) readAt(sl slot, n int) ([]byte, error) {
	if cap(s.readBuf) < n {
		s.readBuf = alignedBuffer(max(n, len(s.img)))
	}
	buf := s.readBuf[:n]
	f, err := os.OpenFile(filepath.Join(s.dir, sl.name()), os.O_RDONLY|s.direct(), 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.ReadAt(buf, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errTornSlot // shorter than it was
		}
		return nil, err
	}
	return buf, nil
}

// dropSlot empties sl: kept for reuse, its head zeroed, when reuse and
// keepable, else removed. s.mu is held.
func (s *Spool) dropSlot(sl slot, reuse bool) error {
	if reuse && s.keepable(sl) && s.overwrite(sl, s.zeroBlock, 0) == nil {
		s.keep(sl)
		return nil
	}
	return s.removeSlot(sl)
}

// removeSlot removes sl's file, if it is there.
func (s *Spool) removeSlot(sl slot) error {
	if err := os.Remove(filepath.Join(s.dir, sl.name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// keepable says whether sl, empty, is kept for reuse: while the empty
// slots total at most a quarter of the budget.
func (s *Spool) keepable(sl slot) bool {
	return s.freeBytes+sl.size <= s.opts.MaxBytes/4
}

func (s *Spool) keep(sl slot) {
	s.free = append(s.free, sl)
	s.freeBytes += sl.size
}

// direct is the flag that opens a slot for direct I/O, 0 once refused.
func (s *Spool) direct() int {
	if s.noDirect.Load() {
		return 0
	}
	return oDirect
}

// directRefused reports whether err is the filesystem or the disk
// refusing direct I/O (EINVAL: at open, or for an alignment), and if so
// has the spool use the page cache from then on. Any other error (a
// missing directory, a full disk) leaves direct I/O on.
func (s *Spool) directRefused(err error) bool {
	if oDirect == 0 || !errors.Is(err, syscall.EINVAL) || s.noDirect.Swap(true) {
		return false
	}
	s.log.Info("the click spool's disk refuses direct I/O: using the page cache", "dir", s.dir, "err", err)
	return true
}
