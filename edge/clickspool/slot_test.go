package clickspool

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSegmentWrite writes a 1 MiB segment with direct I/O, durably,
// each way a spool could, and reports the process's CPU time (user and
// system) a segment, what the edge's CPU pays: a file made for it
// (created, written, synced, renamed, the directory synced, and removed
// once shipped), or a slot reused (overwritten with O_DSYNC, its head
// zeroed once shipped), in one write or in writes of a take's size.
func BenchmarkSegmentWrite(b *testing.B) {
	img := alignedBuffer(1 << 20)
	for i := range img {
		img[i] = byte(i)
	}
	zero := alignedBuffer(blockSize)
	b.Run("file", func(b *testing.B) {
		dir := b.TempDir()
		cpu0 := cpuTime(b)
		i := 0
		for b.Loop() {
			name := fmt.Sprintf("%020d", i)
			err := replaceSynced(dir, name, oDirect, func(f *os.File) error {
				_, err := f.Write(img)
				return err
			})
			if err != nil {
				b.Skip("no direct I/O here: ", err)
			}
			if i > 0 {
				os.Remove(filepath.Join(dir, fmt.Sprintf("%020d", i-1)))
			}
			i++
		}
		b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/segment")
	})
	for _, chunk := range []int{1 << 20, 128 << 10} {
		b.Run(fmt.Sprintf("slot/write=%dKiB", chunk>>10), func(b *testing.B) {
			name := filepath.Join(b.TempDir(), "slot")
			if err := os.WriteFile(name, img, 0o600); err != nil {
				b.Fatal(err)
			}
			f, err := os.OpenFile(name, os.O_WRONLY|oDirect|oDSync, 0)
			if err != nil {
				b.Skip("no direct I/O here: ", err)
			}
			defer f.Close()
			empty, err := os.OpenFile(name, os.O_WRONLY|oDirect, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer empty.Close()
			cpu0 := cpuTime(b)
			for b.Loop() {
				for off := 0; off < len(img); off += chunk {
					if _, err := f.WriteAt(img[off:off+chunk], int64(off)); err != nil {
						b.Skip("no direct I/O here: ", err)
					}
				}
				if _, err := empty.WriteAt(zero, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/segment")
		})
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
