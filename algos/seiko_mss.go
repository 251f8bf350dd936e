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
// impulses of 50 steps had not moved tfbind8's model after 80 iterations;
// that was at the noisiest steps, where an impulse is worth little).
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

// impulseTimes is the measurement selection strategy of continuous SEIKO
// (ALGORITHMS.md §2, seed 003): it scores every grid step of the current
// model ft toward the round's reward (the bootstrap ensemble; spread needs
// one), rolled out on n samples (its own noise stream), and returns the
// k steps of highest score (ties to the later step) with a note for the
// run's setting. The scores, by selection:
//   - "value" or "" (the default): the first-order worth of an impulse at
//     the step to the round's reward R (the max over heads, so that the
//     uncertainty enters as optimism), impulseValues;
//   - "spread" (seed 003 as written): the ensemble's mean spread over heads
//     on the denoised estimate x̂₀(x_t), largest at the noisiest steps,
//     where an impulse is worth least (impulseSpread);
//   - "last": the step's index (the k last steps, a baseline).
//
// Below the grid's steps, the note gives the share of Σ_k value_k that the
// chosen steps hold: to first order in the control, the share of the full
// drift's gain in R (and of its KL) that the impulses can reach at equal α.
func impulseTimes(b tensor.Backend, ft *FineTuned, reward Reward, k int, selection string, n int, rng *sde.Streams) (map[float64]bool, string) {
	grid := ft.Pre.Grid()
	at := map[float64]bool{}
	if k >= grid.Steps {
		for step := range grid.Steps {
			at[grid.S(step)] = true
		}
		return at, ""
	}
	var score []float64
	if selection == "spread" {
		e, ok := reward.(*Ensemble)
		if !ok {
			panic(fmt.Sprintf("algos: impulse times by spread need an ensemble, got a %T", reward))
		}
		score = impulseSpread(b, ft, e, n, rng)
	}
	value := impulseValues(b, ft, reward, n, rng)
	switch selection {
	case "", "value":
		score = value
	case "last":
		score = make([]float64, grid.Steps)
		for step := range score {
			score[step] = float64(step)
		}
	}
	var held, total float64
	for _, step := range topSteps(score, k) {
		at[grid.S(step)] = true
		held += value[step]
	}
	for _, v := range value {
		total += v
	}
	return at, fmt.Sprintf(" (first-order share of the impulse value %.0f %%)", 100*held/total)
}

// topSteps is the indices of the k largest scores, ties to the later step.
func topSteps(score []float64, k int) []int {
	order := make([]int, len(score))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(score[b], score[a]); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	return order[:min(k, len(order))]
}

// impulseSpread is the ensemble's mean spread over heads on the denoised
// estimate x̂₀(x_t) at every grid step of a rollout of ft. At the noisiest
// times x̂₀ = (x − σ_s ε)/√ᾱ divides by √ᾱ ≈ 0.007 (tfbind8) and leaves the
// data, so the heads disagree most where an impulse is worth least.
func impulseSpread(b tensor.Backend, ft *FineTuned, e *Ensemble, n int, rng *sde.Streams) []float64 {
	pre := ft.Pre
	grid := pre.Grid()
	spread := make([]float64, grid.Steps)
	autograd.NoGrad(func() {
		x0, _ := ft.Init.Sample(b, tensor.Float32, n, pre.Dim, rng.Seed, rng.Next())
		roll := ft.rollout(0)
		roll.Trace = func(step int, x *autograd.Var) {
			spread[step] = Mean(e.StdValues(pre.VP.Denoise(pre.Eps, x, grid.S(step)).Value.Float64s()))
		}
		roll.Run(x0, rng.Seed, rng.Next())
	})
	return spread
}

// impulseValues is, for every grid step k, the first-order worth of an
// impulse there to the reward R of the outcome:
//
//	value_k = σ²(t_k)Δt·E‖∂R(x_T)/∂x_{k+1}‖²,
//
// the pathwise gradient through a rollout of ft on n samples. An impulse U
// at step k raises E[R] by E[∇R·U] at the KL ‖U‖²/(2σ²Δt); the best one,
// U = σ²Δt·∇R/α, gains value_k/α in R at the KL value_k/(2α²), and to first
// order the impulses' gains add, so that K impulses reach the share
// Σ_{k∈S} value_k / Σ_k value_k of the full drift's (which acts at every
// step). The gradient is taken with respect to a zero drift added at each
// step (impulseProbe): ∂R/∂u_k = Δt·∂R/∂x_{k+1}. On tfbind8 (seed 1, the
// pre-trained model) value_k peaks at 0.016 at s ≈ 0.16–0.22 and falls to
// 1e-6 at s = 1; the 5 best of 50 steps hold 38 % of Σ value_k.
func impulseValues(b tensor.Backend, ft *FineTuned, reward Reward, n int, rng *sde.Streams) []float64 {
	pre := ft.Pre
	grid := pre.Grid()
	probe := &impulseProbe{base: ft.Control, step: map[float64]int{}}
	for k := range grid.Steps {
		probe.step[grid.S(k)] = k
		probe.leaves = append(probe.leaves, autograd.Param(tensor.Zeros(b, tensor.Float32, n, pre.Dim)))
	}
	var x0 *autograd.Var
	autograd.NoGrad(func() {
		x0, _ = ft.Init.Sample(b, tensor.Float32, n, pre.Dim, rng.Seed, rng.Next())
	})
	roll := ft.rollout(0)
	roll.Control = probe
	res := roll.Run(autograd.Const(x0.Value), rng.Seed, rng.Next())
	autograd.SumAll(reward.Eval(res.X)).Backward()
	value := make([]float64, grid.Steps)
	for k, leaf := range probe.leaves {
		if leaf.Grad == nil {
			continue // R does not depend on the step (no path to x_T)
		}
		var ss float64
		for _, g := range leaf.Grad.Float64s() {
			ss += g * g
		}
		value[k] = pre.VP.Beta(grid.S(k)) * ss / grid.Dt / float64(n) // β·Δt·‖g/Δt‖²
	}
	return value
}

// impulseProbe is a model's control (base, nil: none) plus a zero drift
// leaf of its own at every grid step, for the gradient of the outcome with
// respect to an impulse at each step.
type impulseProbe struct {
	base   Net
	step   map[float64]int
	leaves []*autograd.Var
}

// Forward implements sde.TimeNet.
func (p *impulseProbe) Forward(x *autograd.Var, s []float64) *autograd.Var {
	u := p.leaves[p.step[s[0]]]
	if p.base == nil {
		return u
	}
	return autograd.Add(p.base.Forward(x, s), u)
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
