package clickspool

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSegmentWrite writes a 1 MiB segment with direct I/O, durably,
// each way a spool could: a file made for it (created, written, synced,
// renamed, the directory synced, and removed once shipped), or a slot
// reused (overwritten with O_DSYNC, its head zeroed once shipped), in one
// write or in writes of a take's size. It reports the process's CPU time
// (user and system) a segment, and the machine's (every CPU's busy time,
// from /proc/stat: the kernel's journal thread and the disk's interrupts
// too; on an otherwise idle machine).
func BenchmarkSegmentWrite(b *testing.B) {
	img := alignedBuffer(1 << 20)
	for i := range img {
		img[i] = byte(i)
	}
	zero := alignedBuffer(blockSize)
	b.Run("file", func(b *testing.B) {
		dir := b.TempDir()
		cpu0, busy0 := cpuTime(b), busyTime()
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
		report(b, cpu0, busy0)
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
			cpu0, busy0 := cpuTime(b), busyTime()
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
			report(b, cpu0, busy0)
		})
	}
}

func report(b *testing.B, cpu0, busy0 time.Duration) {
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/segment")
	if busy0 >= 0 {
		b.ReportMetric(float64((busyTime()-busy0).Microseconds())/float64(b.N), "busy-µs/segment")
	}
}

// busyTime is the time every CPU spent busy (user, nice, system, irq,
// softirq) since boot, from /proc/stat; -1 where there is none.
func busyTime() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return -1
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ, 100 on Linux
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
