package service

import (
	"encoding/json"

	"github.com/agentspool/agentspool/internal/safeio"
)

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return safeio.WriteFile(path, append(b, '\n'), 0o600)
}
