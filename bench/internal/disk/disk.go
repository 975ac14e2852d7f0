// Package disk measures what the benchmarks leave on disk.
package disk

import (
	"io/fs"
	"path/filepath"
)

// Size is the bytes of the files under dir (a symbolic link's own); what
// it cannot read counts nothing.
func Size(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	return n
}
