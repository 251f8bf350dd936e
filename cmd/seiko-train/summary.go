package main

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/difftune/difftune/algos"
)

// readSummary reads the summary.json of a finished run directory.
func readSummary(dir string) (algos.Summary, error) {
	var s algos.Summary
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(raw, &s)
}
