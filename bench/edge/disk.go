package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// diskCPUs are the CPUs that took interrupts of the block device holding
// dir, read from the device's MSI vectors in sysfs and their counts in
// /proc/interrupts; nil when that cannot be told (no sysfs, a device
// without MSI, a tmpfs).
//
// The pinned layout gives the server these CPUs: an edge's spool is
// written to this disk, and the completions of its writes are interrupts
// on these CPUs. On an edge host they are the host's own, paid for by the
// edge; handled on wrk's CPU they would hold up the load generator and
// show in the latency wrk measures.
func diskCPUs(dir string) []int {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return nil
	}
	dev, err := filepath.EvalSymlinks(filepath.Join("/sys/dev/block",
		strconv.Itoa(int(unix.Major(st.Dev)))+":"+strconv.Itoa(int(unix.Minor(st.Dev)))))
	if err != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dev, "partition")); err == nil {
		dev = filepath.Dir(dev)
	}
	if dev, err = filepath.EvalSymlinks(filepath.Join(dev, "device")); err != nil {
		return nil
	}
	// The MSI vectors are the PCI function's: the device or a parent.
	var irqs map[string]bool
	for d := dev; d != "/" && d != "." && irqs == nil; d = filepath.Dir(d) {
		if ents, err := os.ReadDir(filepath.Join(d, "msi_irqs")); err == nil {
			irqs = map[string]bool{}
			for _, e := range ents {
				irqs[e.Name()] = true
			}
		}
	}
	if len(irqs) == 0 {
		return nil
	}
	f, err := os.Open("/proc/interrupts")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil
	}
	ncpu := len(strings.Fields(sc.Text())) // "CPU0 CPU1 ..."
	took := make([]bool, ncpu)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 1+ncpu || !irqs[strings.TrimSuffix(fields[0], ":")] {
			continue
		}
		for i, c := range fields[1 : 1+ncpu] {
			if n, err := strconv.ParseUint(c, 10, 64); err == nil && n > 0 {
				took[i] = true
			}
		}
	}
	var cpus []int
	for i, t := range took {
		if t {
			cpus = append(cpus, i)
		}
	}
	return cpus
}
