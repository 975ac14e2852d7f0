package disk

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"x": 10, "a/y": 200, "a/b/z": 3000} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := Size(dir); got != 3210 {
		t.Errorf("Size = %d, want 3210", got)
	}
	if got := Size(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("Size of a missing directory = %d, want 0", got)
	}
}
