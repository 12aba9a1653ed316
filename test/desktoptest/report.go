package desktoptest

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// WriteReport writes a proof's report v as indented JSON to the path in
// the environment variable env, or to $TMPDIR/file when it is unset, and
// returns the path.
func WriteReport(env, file string, v any) (string, error) {
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join(os.TempDir(), file)
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return path, err
	}
	return path, os.WriteFile(path, append(data, '\n'), 0o644)
}
