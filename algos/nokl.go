package algos

import (
	"fmt"
	"math/rand/v2"
)

func init() {
	RegisterMethod(MethodSpec{Name: "nokl", Unregularized: true,
		Doc: "NO KL (AlignProp/DRaFT): the pathwise gradient of E[r̂(x_T)] alone, α = 0 (ALGORITHMS.md §1)",
		New: func(r Recipe) Method { return &Unregularized{Drift: baselineDrift(r), InitSteps: r.Initial.Steps} }})
}

// Unregularized is a baseline that maximizes E[r̂(x_T)] with no KL, by the
// pathwise gradient through the steps of the rollout from Detach() on: NO
// KL (all steps), Truncation (the last K), Random (the last K, K uniform
// per batch). Nothing holds it near the pre-trained model: it leaves the
// data, and its loss may stop being finite (recorded as a divergence).
type Unregularized struct {
	Drift DriftOptions
	// InitSteps is the number of steps of the N(0, I) initial law's
	// reference SDE (its draws, shared with ELEGANT's).
	InitSteps int
	// Truncated lets gradients through the last LastK steps only; RandomK
	// draws K uniformly from 1…steps per batch.
	Truncated bool
	LastK     int
	RandomK   bool
}

// baselineDrift is the recipe's drift with the baselines' iterations.
func baselineDrift(r Recipe) DriftOptions {
	d := r.Drift
	if r.BaselineIters > 0 {
		d.Iters = r.BaselineIters
	}
	return d
}

// Fit implements Method.
func (m *Unregularized) Fit(ctx *Context) (*Fitted, error) {
	if err := m.Drift.validate(); err != nil {
		return nil, err
	}
	if m.Truncated && (m.LastK < 1 || m.LastK > ctx.Pre.Steps) {
		return nil, fmt.Errorf("%s needs K between 1 and the %d steps, got %d", ctx.Method, ctx.Pre.Steps, m.LastK)
	}
	return withCheckpoints(ctx, func(resume bool) (*Fitted, error) {
		ft, init, rng := newFineTuned(ctx, m.InitSteps)
		ft.ckpt = newFitCheckpoint(ctx, fmt.Sprintf("%s seed=%d %+v", ctx.Method, ctx.Seed, *m), rng, resume)
		if err := ft.fitDrift(ctx, 0, m.Drift, m.schedule(ctx.Seed, ctx.Pre.Steps), init, rng); err != nil {
			return nil, err
		}
		return ft.fitted(), nil
	})
}

// schedule returns the DetachBefore of each iteration: 0 (full
// backpropagation), steps − K for the last K, and steps − K with K uniform
// in 1…steps, drawn per batch, for RandomK.
func (m *Unregularized) schedule(seed uint64, steps int) func() int {
	switch {
	case m.RandomK:
		rng := rand.New(rand.NewPCG(seed, 0x7a11))
		return func() int { return steps - (1 + rng.IntN(steps)) }
	case m.Truncated:
		return func() int { return steps - m.LastK }
	}
	return fullBackprop
}
