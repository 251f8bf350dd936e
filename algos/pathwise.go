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
	pre := ft.Pre
	ctrl, err := newControl(ctx, alpha, init)
	if err != nil {
		return err
	}
	ft.Control = ctrl
	reward := ctx.Task.Nominal()
	params := nn.Vars(ctrl)
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
		res := roll.Run(autograd.Const(x0.Value), rng.Seed, rng.Next())
		r := reward.Eval(res.X)
		loss := autograd.MeanAll(autograd.Sub(autograd.Scale(res.KL, alpha), r))
		l := loss.Value.Item()
		ev := Event{Phase: "drift", Iter: it, Loss: Number(l), LR: opt.LR(it),
			Reward: Number(Mean(r.Value.Float64s())), KL: Number(Mean(res.KL.Value.Float64s()))}
		monitorBatch(ctx, &ev, res.X.Value)
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
