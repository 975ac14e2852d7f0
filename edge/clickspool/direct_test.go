package clickspool

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDirectWrite writes a 1 MiB segment with direct I/O in writes of
// each size, with the seal's sync, and reports the process's CPU time (user
// and system) a segment: what the edge's CPU pays for a segment written in
// pieces as it fills against written once at its seal.
func BenchmarkDirectWrite(b *testing.B) {
	img := alignedBuffer(1 << 20)
	for i := range img {
		img[i] = byte(i)
	}
	for _, chunk := range []int{1 << 20, 256 << 10, 128 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("write=%dKiB", chunk>>10), func(b *testing.B) {
			name := filepath.Join(b.TempDir(), "segment")
			cpu0 := cpuTime(b)
			for b.Loop() {
				f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oDirect, 0o600)
				if err != nil {
					b.Skip("no direct I/O here: ", err)
				}
				for off := 0; off < len(img); off += chunk {
					if _, err := f.WriteAt(img[off:off+chunk], int64(off)); err != nil {
						b.Skip("no direct I/O here: ", err)
					}
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				f.Close()
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
