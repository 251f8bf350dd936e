package algos

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// DriftOptions set the training of a control drift u_φ by the pathwise
// gradient (ELEGANT's step 3 and the baselines without KL): Iters batches
// of Batch rollouts, Adam cosine-decayed from LR to LRMin.
type DriftOptions struct {
	Iters, Batch int
	LR, LRMin    float64
	ClipNorm     float64 // 0: no clipping
	Segment      int     // gradient-checkpointing segment in steps (0: keep all)
}

func (o DriftOptions) validate() error {
	if o.Iters < 0 || o.Batch < 1 || !finitePositive(o.LR) || !(o.LRMin >= 0 && o.LRMin <= o.LR) || !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0) || o.Segment < 0 {
		return fmt.Errorf("need iters ≥ 0, batch ≥ 1, a finite lr > 0, 0 ≤ lr-min ≤ lr, finite clip ≥ 0 and segment ≥ 0, got %+v", o)
	}
	return nil
}

// newFineTuned starts a pathwise fit: the sampler (initial law N(0, I) over
// initSteps steps, no control yet), its networks' initializer and its noise
// streams, all seeded by the run.
func newFineTuned(ctx *Context, initSteps int) (*FineTuned, *nn.Init, *sde.Streams) {
	ft := &FineTuned{Pre: ctx.Pre, Init: sde.InitialLaw{Steps: max(initSteps, 1)}, DivergedAt: -1}
	init := &nn.Init{Backend: ctx.Backend, DType: tensor.Float32, Seed: ctx.Seed ^ 0x5eed}
	return ft, init, &sde.Streams{Seed: ctx.Seed}
}

// newControl builds the drift network of a run whose KL weight is alpha:
// the task's, or an MLP shaped like a TimeMLP ε_θ (its hidden widths and
// time embedding) with a zero last layer.
func newControl(ctx *Context, alpha float64, init *nn.Init) (Net, error) {
	pre := ctx.Pre
	if f := ctx.Task.NewControl(alpha); f != nil {
		return f(init, pre.Dim), nil
	}
	eps, ok := pre.Eps.(*nn.TimeMLP)
	if !ok {
		return nil, fmt.Errorf("%s: the pre-trained network is a %T: the task must give a control (Task.NewControl)", ctx.Method, pre.Eps)
	}
	hidden := make([]int, len(eps.Net.Layers)-1)
	for i := range hidden {
		hidden[i] = eps.Net.Layers[i].Out()
	}
	ctrl := nn.NewTimeMLP(init, pre.Dim, eps.EmbDim, pre.Dim, tensor.ActSiLU, hidden...)
	ctrl.Net.ZeroLastLayer()
	return ctrl, nil
}

// fullBackprop is the DetachBefore of a rollout whose gradient flows through
// every step.
func fullBackprop() int { return 0 }

// fitDrift is step 3: minimize E[−r̂(x_T) + α·Σ_k ‖u_φ‖²/(2σ²)·Δt] over the
// control network by the pathwise gradient through the rollout (its steps
// from detach() on, drawn per batch), from x₀ drawn from the initial law
// (ALGORITHMS.md §1). A non-finite loss (NO KL diverges) stops the training
// with the last finite parameters kept.
func (ft *FineTuned) fitDrift(ctx *Context, alpha float64, o DriftOptions, detach func() int, init *nn.Init, rng *sde.Streams) error {
	return ft.fitDriftGoal(ctx, driftGoal{Alpha: alpha}, o, detach, init, rng)
}

// driftGoal is what a pathwise fit maximizes:
// E[R(x_T)] − α·KL(P^u ‖ P^pre) − β·KL(P^u ‖ P^ref) (ALGORITHMS.md §1, §2),
// both path KLs, the second against the process with drift f_pre + u_ref.
type driftGoal struct {
	// Reward is R (nil: the task's nominal r̂).
	Reward Reward
	Alpha  float64
	// Beta weighs the KL to Ref; without Ref it is not used.
	Beta float64
	Ref  Net
	// Warm, if set, is a control of the same architecture whose parameters
	// start the new control (the previous round's, in SEIKO).
	Warm Net
	// ColdControl builds the control as for a run without KL (the task's
	// control started at zero, not at its warm start toward r̂).
	ColdControl bool
}

// fitDriftGoal is fitDrift toward a driftGoal; with the zero goal but α it
// is exactly fitDrift.
func (ft *FineTuned) fitDriftGoal(ctx *Context, g driftGoal, o DriftOptions, detach func() int, init *nn.Init, rng *sde.Streams) error {
	pre := ft.Pre
	alpha := g.Alpha
	ctrlAlpha := alpha
	if g.ColdControl {
		ctrlAlpha = 0
	}
	ctrl, err := newControl(ctx, ctrlAlpha, init)
	if err != nil {
		return err
	}
	params := nn.Vars(ctrl)
	if g.Warm != nil {
		warm := nn.CloneValues(nn.Vars(g.Warm))
		if len(warm) != len(params) {
			return fmt.Errorf("%s: warm start from a control with %d parameters, want %d", ctx.Method, len(warm), len(params))
		}
		for i, p := range params {
			p.Value = warm[i]
		}
	}
	ft.Control = ctrl
	reward := g.Reward
	if reward == nil {
		reward = ctx.Task.Nominal()
	}
	defer nn.SetTrainable(ctrl, false)
	opt := nn.NewAdam(params, nn.CosineLR(o.LR, o.LRMin, o.Iters, 0))
	var lastGood []*tensor.Tensor // the parameters that gave the last finite loss
	for it := range o.Iters {
		var x0 *autograd.Var
		autograd.NoGrad(func() {
			x0, _ = ft.Init.Sample(ctx.Backend, tensor.Float32, o.Batch, pre.Dim, rng.Seed, rng.Next())
		})
		roll := ft.rollout(o.Segment)
		roll.DetachBefore = detach()
		if g.Ref != nil {
			roll.Ref = g.Ref
		}
		res := roll.Run(autograd.Const(x0.Value), rng.Seed, rng.Next())
		r := reward.Eval(res.X)
		var loss *autograd.Var
		if res.KLRef != nil {
			loss = autograd.MeanAll(autograd.Sub(autograd.Add(autograd.Scale(res.KL, alpha), autograd.Scale(res.KLRef, g.Beta)), r))
		} else {
			loss = autograd.MeanAll(autograd.Sub(autograd.Scale(res.KL, alpha), r))
		}
		l := loss.Value.Item()
		ev := Event{Phase: "drift", Iter: it, Loss: Number(l), LR: opt.LR(it),
			Reward: Number(Mean(r.Value.Float64s())), KL: Number(Mean(res.KL.Value.Float64s()))}
		monitorBatch(ctx, &ev, res.X.Value)
		if res.KLRef != nil {
			if ev.Extra == nil {
				ev.Extra = map[string]Number{}
			}
			ev.Extra["kl_prev"] = Number(Mean(res.KLRef.Value.Float64s()))
		}
		if !Number(l).Finite() {
			ft.DivergedAt = it
			ctx.Log(ev, o.Iters)
			if lastGood != nil {
				for i, p := range params {
					p.Value = lastGood[i]
				}
			}
			return nil
		}
		loss.Backward()
		ev.GradNorm = Number(nn.ClipGradNorm(params, o.ClipNorm))
		ctx.Log(ev, o.Iters)
		if !ev.GradNorm.Finite() {
			ft.DivergedAt = it
			nn.ZeroGrad(ctrl)
			return nil
		}
		lastGood = nn.CloneValues(params)
		opt.Step()
	}
	return nil
}

// monitorBatch adds the task's monitors of a training batch to an event,
// and the batch itself when the hooks ask for a snapshot.
func monitorBatch(ctx *Context, ev *Event, x *tensor.Tensor) {
	xs := x.Float64s()
	ev.Extra = ctx.Task.Monitor(xs)
	if ctx.Hooks.wantSnapshot() {
		ev.Snapshot = xs
	}
}
