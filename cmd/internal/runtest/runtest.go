// Package runtest holds what the binaries' tests share to compare the run
// directories of a stopped and resumed run with an uninterrupted one's.
package runtest

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// Steps are the lines of a metrics.jsonl but for their wall time
// (elapsed_s), without the resume marks (method "runner") and the fits of
// the cached models, pre-training and r̂ (methods "pretrain" and "reward":
// a run that found them cached logs neither).
func Steps(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var steps []string
	for l := range strings.Lines(string(raw)) {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			return nil, fmt.Errorf("%s: %v in %q", path, err, l)
		}
		switch e["method"] {
		case "runner", "pretrain", "reward":
			continue
		}
		delete(e, "elapsed_s")
		line, _ := json.Marshal(e)
		steps = append(steps, string(line))
	}
	return steps, nil
}

// SameSteps fails t unless the metrics.jsonl at got holds the steps of the
// one at want, in the same order, each once.
func SameSteps(t testing.TB, got, want string) {
	t.Helper()
	g, err := Steps(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Steps(want)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g, w) {
		t.Errorf("%s: its %d steps differ from the uninterrupted run's %d:\n%s\n---\n%s",
			got, len(g), len(w), strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}
