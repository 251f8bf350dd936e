package algos

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// constDrift is the control u = c at every state and time.
type constDrift struct{ c float64 }

func (d constDrift) Forward(x *autograd.Var, _ []float64) *autograd.Var {
	return autograd.Const(tensor.Full(x.Value.Backend(), x.Value.DType(), d.c, x.Shape()...))
}
func (constDrift) Params() []nn.Param { return nil }

// TestImpulseValues checks the worth of an impulse at each step on a case
// with a closed form: data N(0, I) (exact ε = σ_s·x), so the Euler step is
// x ← (1 − ½β_kΔt)x + uΔt + noise, and R = x₁ + x₂; then
// ∂R/∂x_{k+1} = Π_{j>k}(1 − ½β_jΔt)·(1, 1) whatever the noise and the
// control, and value_k = β_kΔt·2·Π². The selection "value" (the default)
// picks the k steps of largest closed-form value (a block inside the grid,
// neither the first nor the last steps), "last" the last k, and K ≥ steps
// every step; the note states the share of the value they hold.
func TestImpulseValues(t *testing.T) {
	b := tensor.CPU()
	vp := sde.DefaultVP
	pre := &Pretrained{VP: vp, Steps: 20, Dim: 2, Eps: gaussEps{vp}}
	grid := pre.Grid()
	want := make([]float64, grid.Steps)
	for k := range want {
		prod := 1.0
		for j := k + 1; j < grid.Steps; j++ {
			prod *= 1 - 0.5*vp.Beta(grid.S(j))*grid.Dt
		}
		want[k] = vp.Beta(grid.S(k)) * grid.Dt * 2 * prod * prod
	}
	for _, base := range []Net{nil, constDrift{0.7}} {
		ft := &FineTuned{Pre: pre, Init: sde.InitialLaw{Steps: 1}, Control: base}
		got := impulseValues(b, ft, sumReward{}, 8, &sde.Streams{Seed: 3})
		for k := range want {
			if math.Abs(got[k]-want[k]) > 1e-4*want[k] {
				t.Errorf("control %v, step %d (s = %.3f): value %v, want %v", base, k, grid.S(k), got[k], want[k])
			}
		}
	}
	best := topSteps(want, 3)
	if slices.Contains(best, 0) || slices.Contains(best, grid.Steps-1) {
		t.Fatalf("the case is degenerate: the best steps %v include an end of the grid", best)
	}
	ft := &FineTuned{Pre: pre, Init: sde.InitialLaw{Steps: 1}}
	for _, c := range []struct {
		selection string
		k         int
		want      []int
	}{
		{"value", 3, best},
		{"", 3, best}, // the default
		{"last", 3, []int{grid.Steps - 1, grid.Steps - 2, grid.Steps - 3}},
		{"value", grid.Steps, nil},
	} {
		at, note := impulseTimes(b, ft, sumReward{}, c.k, c.selection, 8, &sde.Streams{Seed: 5})
		if c.want == nil { // every step, nothing to choose
			if len(at) != grid.Steps || note != "" {
				t.Errorf("K = steps: %d times, note %q", len(at), note)
			}
			continue
		}
		var share float64
		for _, k := range c.want {
			if !at[grid.S(k)] {
				t.Errorf("%s, K = %d: step %d (s = %.3f) not selected, got %s", c.selection, c.k, k, grid.S(k), describeTimes(at))
			}
			share += want[k]
		}
		share /= sumOf(want)
		if len(at) != c.k || !strings.Contains(note, "share of the impulse value") {
			t.Errorf("%s: %d times, note %q", c.selection, len(at), note)
		}
		if pct := fmt.Sprintf("%.0f %%", 100*share); !strings.Contains(note, pct) {
			t.Errorf("%s: note %q, want the share %s", c.selection, note, pct)
		}
	}
}

func sumOf(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}
