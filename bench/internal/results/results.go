// Package results writes a benchmark's figures where bench/README.md says
// they live: <dir>/<name>.json (indented) and <dir>/<name>.md.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Write stores v as <dir>/<name>.json and md as <dir>/<name>.md.
func Write(dir, name string, v any, md string) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("results %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("results %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("results %s: %w", name, err)
	}
	return nil
}
