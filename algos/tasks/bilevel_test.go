package tasks_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/tensor"
)

// TestBilevelMethod runs the bilevel tuner through the runner on a tiny
// gmm2d with an interior pair (r₁ centred at x₁ = 3, r₂ = x₁): the run
// reports λ_final inside the projection's bounds and ELEGANT's samples at
// it; an upper reward without a lower one is refused.
func TestBilevelMethod(t *testing.T) {
	cache := t.TempDir()
	run := func(upper, lower string) (*algos.Result, error) {
		task := tinyTask(t, "gmm2d")
		p := tinyPlan(task, "bilevel")
		p.Recipe.Bilevel.Upper, p.Recipe.Bilevel.Lower = upper, lower
		p.Recipe.Bilevel.Steps, p.Recipe.Bilevel.LR = 50, 0.05
		return algos.Run(algos.Env{Backend: tensor.CPU(), Cache: cache}, task, p)
	}
	res, err := run("quadratic:1,0,3,0", "linear:1,0")
	if err != nil {
		t.Fatal(err)
	}
	ms := res.Summary.Methods["bilevel"]
	var lambda float64
	if _, err := fmt.Sscanf(ms.Notes["setting"], "λ_final = %g", &lambda); err != nil || !(lambda > 1e-3 && lambda < 100) {
		t.Errorf("setting %q: λ_final %v (%v)", ms.Notes["setting"], lambda, err)
	}
	if !ms.RewardNominal.Finite() || !ms.KL.Finite() || len(res.Samples["bilevel"]) == 0 {
		t.Errorf("bilevel's run: %+v", ms)
	}
	if _, err := run("quadratic:1,0,3,0", ""); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("an upper reward alone: %v", err)
	}
}
