package tasks_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/tensor"
)

// TestSEIKOResumesFromQueryLog runs greedy SEIKO on a tiny gmm2d with a
// query log, cuts the log as a stop would (5 whole records and a partial
// one), runs the same plan again and checks that it replayed the 5
// records, spent only the rest, and wrote the same log and the same
// results as the uninterrupted run.
func TestSEIKOResumesFromQueryLog(t *testing.T) {
	cache, dir := t.TempDir(), t.TempDir()
	run := func() algos.MethodSummary {
		task := tinyTask(t, "gmm2d")
		p := tinyPlan(task, "seiko-greedy")
		p.Recipe.SEIKO.QueryLog = dir
		res, err := algos.Run(algos.Env{Backend: tensor.CPU(), Cache: cache}, task, p)
		if err != nil {
			t.Fatal(err)
		}
		return res.Summary.Methods["seiko-greedy"]
	}
	path := filepath.Join(dir, "queries_seiko-greedy.jsonl")
	first := run()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(full, []byte("\n"))
	if len(lines) < 8 {
		t.Fatalf("log of %d lines", len(lines))
	}
	cut := append(bytes.Join(lines[:5], nil), lines[5][:len(lines[5])/2]...)
	if err := os.WriteFile(path, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	again := run()
	resumed, _ := os.ReadFile(path)
	if !bytes.Equal(resumed, full) {
		t.Errorf("the resumed log differs from the uninterrupted one (%d and %d bytes)", len(resumed), len(full))
	}
	if !strings.Contains(again.Notes["setting"], "5 queries replayed") {
		t.Errorf("setting %q does not say 5 queries were replayed", again.Notes["setting"])
	}
	if again.Queries != first.Queries || again.RewardGenuine != first.RewardGenuine || again.KL != first.KL {
		t.Errorf("resumed run: %d queries, genuine %v, KL %v; uninterrupted: %d, %v, %v",
			again.Queries, again.RewardGenuine, again.KL, first.Queries, first.RewardGenuine, first.KL)
	}
	// A complete log is replayed whole: nothing asked again.
	third := run()
	if !strings.Contains(third.Notes["setting"], "16 queries replayed") || third.RewardGenuine != first.RewardGenuine {
		t.Errorf("a rerun over a complete log: %q, genuine %v", third.Notes["setting"], third.RewardGenuine)
	}
}
