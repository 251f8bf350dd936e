package tasks_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/autograd"
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

// TestMSSImpulses runs continuous SEIKO (mss) on a tiny gmm2d: with K at
// least the grid's steps its control is the full drift and the run is
// bootstrap's, bit for bit; with K = 2 the control acts at 2 of the 6 grid
// times only, and still moves the model (a KL > 0).
func TestMSSImpulses(t *testing.T) {
	cache := t.TempDir()
	run := func(k int, methods ...string) *algos.Result {
		task := tinyTask(t, "gmm2d")
		p := tinyPlan(task, methods[0])
		p.Methods = methods
		p.Recipe.SEIKO.K = k
		res, err := algos.Run(algos.Env{Backend: tensor.CPU(), Cache: cache}, task, p)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	full := run(tinySteps, "seiko-bootstrap", "seiko-mss")
	b, m := full.Summary.Methods["seiko-bootstrap"], full.Summary.Methods["seiko-mss"]
	if b.RewardGenuine != m.RewardGenuine || b.KL != m.KL || b.Diversity != m.Diversity {
		t.Errorf("mss with K = %d steps: genuine %v, KL %v; bootstrap: %v, %v", tinySteps, m.RewardGenuine, m.KL, b.RewardGenuine, b.KL)
	}
	two := run(2, "seiko-mss")
	ctrl, ok := two.Fits["seiko-mss"].Modules["control"].(*algos.Impulses)
	if !ok {
		t.Fatalf("mss's control is a %T, want *algos.Impulses", two.Fits["seiko-mss"].Modules["control"])
	}
	if len(ctrl.At) != 2 {
		t.Errorf("impulses at %v, want 2 times", ctrl.At)
	}
	grid := two.Pre.Grid()
	x := autograd.Const(tensor.FromFloat64As(tensor.CPU(), tensor.Float32, []float64{1, 2, 3, 4}, 2, 2))
	acting := 0
	for k := range grid.Steps {
		u := ctrl.Forward(x, []float64{grid.S(k)}).Value.Float64s()
		zero := !slices.ContainsFunc(u, func(v float64) bool { return v != 0 })
		if ctrl.At[grid.S(k)] == zero {
			t.Errorf("step %d (s = %v): control %v, selected %v", k, grid.S(k), u, ctrl.At[grid.S(k)])
		}
		if !zero {
			acting++
		}
	}
	if kl := two.Summary.Methods["seiko-mss"].KL; acting != 2 || !(kl > 0) {
		t.Errorf("%d acting steps, KL %v", acting, kl)
	}
	if s := two.Summary.Methods["seiko-mss"].Notes["setting"]; !strings.Contains(s, "impulses at s = ") {
		t.Errorf("setting %q does not name the impulse times", s)
	}
}
