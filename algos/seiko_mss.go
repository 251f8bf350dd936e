package algos

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// Impulses restricts a control to the grid times At and is zero at every
// other step: continuous SEIKO's control as impulses (ALGORITHMS.md §2,
// seed 003). An impulse u_k within one Euler step is the drift u_k/Δt over
// that step, so the control here is that drift, Gain times the network's
// output, and the rollout's KL Σ‖u‖²Δt/(2σ²) is Σ_k ‖u_k‖²/(2σ²(t_k)Δt)
// of the impulses. Gain = steps/K makes K impulses carry, per unit of the
// network's output, the displacement of a drift over every step, so that
// the optimizer moves them at the full drift's pace (with Gain 1, 5
// impulses of 50 steps had not moved tfbind8's model after 80 iterations).
// Forward reads the time of the first row: the rollout gives every row the
// same.
type Impulses struct {
	Net
	At   map[float64]bool
	Gain float64
}

// Forward implements sde.TimeNet.
func (c *Impulses) Forward(x *autograd.Var, s []float64) *autograd.Var {
	if !c.At[s[0]] {
		return autograd.Const(tensor.ZerosLike(x.Value))
	}
	if c.Gain == 1 {
		return c.Net.Forward(x, s)
	}
	return autograd.Scale(c.Net.Forward(x, s), c.Gain)
}

// impulseTask gives a fit the task's control restricted to the times at.
type impulseTask struct {
	Task
	ctx *Context // the fit's own context, whose task builds the control
	at  map[float64]bool
}

// NewControl implements Task.
func (t impulseTask) NewControl(alpha float64) func(*nn.Init, int) Net {
	return func(init *nn.Init, _ int) Net {
		ctrl, err := newControl(t.ctx, alpha, init)
		if err != nil {
			panic(err) // checked by impulseContext before the fit
		}
		return &Impulses{Net: ctrl, At: t.at, Gain: float64(t.ctx.Pre.Steps) / float64(len(t.at))}
	}
}

// impulseContext is ctx with its task's control restricted to the times
// at.
func impulseContext(ctx *Context, at map[float64]bool) (*Context, error) {
	if _, err := newControl(ctx, 0, &nn.Init{Backend: ctx.Backend, DType: tensor.Float32}); err != nil {
		return nil, err
	}
	c := *ctx
	c.Task = impulseTask{Task: ctx.Task, ctx: ctx, at: at}
	return &c, nil
}

// impulseTimes is the measurement selection strategy of continuous SEIKO:
// it rolls out the current model ft on n samples (its own noise stream),
// evaluates the ensemble's spread over heads on the denoised estimate
// x̂₀(x_t) at every grid time, and returns the k grid times of largest mean
// spread (ties to the later time), with the spread of every step; with
// selection "last", the k last steps instead (a baseline).
func impulseTimes(b tensor.Backend, ft *FineTuned, e *Ensemble, k int, selection string, n int, rng *sde.Streams) (map[float64]bool, []float64) {
	pre := ft.Pre
	grid := pre.Grid()
	spread := make([]float64, grid.Steps)
	autograd.NoGrad(func() {
		x0, _ := ft.Init.Sample(b, tensor.Float32, n, pre.Dim, rng.Seed, rng.Next())
		roll := ft.rollout(0)
		roll.Trace = func(step int, x *autograd.Var) {
			s := grid.S(step)
			spread[step] = Mean(e.StdValues(pre.VP.Denoise(pre.Eps, x, s).Value.Float64s()))
		}
		roll.Run(x0, rng.Seed, rng.Next())
	})
	order := make([]int, grid.Steps)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(spread[b], spread[a]); c != 0 && selection != "last" {
			return c
		}
		return cmp.Compare(b, a)
	})
	at := map[float64]bool{}
	for _, step := range order[:min(k, len(order))] {
		at[grid.S(step)] = true
	}
	return at, spread
}

// describeTimes lists the selected times in decreasing order (from noise to
// data).
func describeTimes(at map[float64]bool) string {
	var ts []float64
	for s := range at {
		ts = append(ts, s)
	}
	slices.SortFunc(ts, func(a, b float64) int { return cmp.Compare(b, a) })
	out := ""
	for i, s := range ts {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%.3g", s)
	}
	return out
}
