package algos

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

func init() {
	RegisterMethod(MethodSpec{Name: "elegant", Sweep: true, Tilted: true,
		Doc: "ELEGANT: the soft value at t = 0, the learned initial law, the control drift (ALGORITHMS.md §1)",
		New: func(r Recipe) Method {
			return &Elegant{Value: r.Value, Initial: r.Initial, Drift: r.Drift, LearnInitial: true}
		}})
}

// ValueOptions set ELEGANT's step 1: the value at t = 0 regressed on
// Monte-Carlo soft values of Points × Rollouts pre-trained rollouts.
type ValueOptions struct {
	Points, Rollouts, Iters, Width int
	LR                             float64
	// Holdout > 0 holds that fraction of the points out of the fit and
	// shrinks the fit by the share of their variance it explains.
	Holdout float64 `json:",omitempty"`
}

// InitialOptions set ELEGANT's step 2: the initial law, a control of
// dz = ū dτ + dW over Steps steps, trained on Iters batches of Batch.
type InitialOptions struct {
	Steps, Iters, Width, Batch int
	LR                         float64
}

// Elegant is ELEGANT (ALGORITHMS.md §1): step 1 fits the soft value v̂₀,
// step 2 the initial law ν* ∝ exp(v̂₀/α)·N(0, I), step 3 the drift u_φ
// minimizing E[−r̂(x_T)] + α·KL. Without LearnInitial it is the nostep2
// ablation: x₀ ~ N(0, I).
type Elegant struct {
	Value        ValueOptions
	Initial      InitialOptions
	Drift        DriftOptions
	LearnInitial bool
}

// Fit implements Method.
func (m *Elegant) Fit(ctx *Context) (*Fitted, error) {
	switch err := m.Drift.validate(); {
	case !(ctx.Alpha > 0):
		return nil, fmt.Errorf("alpha must be > 0 for %s, got %v", ctx.Method, ctx.Alpha)
	case err != nil:
		return nil, err
	case m.LearnInitial && (m.Value.Points < 2 || m.Value.Rollouts < 1 || m.Initial.Steps < 1):
		return nil, fmt.Errorf("ELEGANT needs value points ≥ 2, rollouts ≥ 1 and initial-law steps ≥ 1")
	}
	return withCheckpoints(ctx, func(resume bool) (*Fitted, error) { return m.fit(ctx, resume) })
}

// fit runs the three steps, checkpointed (Env.Checkpoints) at the end of
// steps 1 and 2 and through step 3; with resume, from the checkpoint a
// stopped invocation left. A finished step is not run again: its network is
// built as the step builds it (the initializer's draws stay in order) and
// takes its saved parameters.
func (m *Elegant) fit(ctx *Context, resume bool) (*Fitted, error) {
	ft, init, rng := newFineTuned(ctx, m.Initial.Steps)
	ck := newFitCheckpoint(ctx, fmt.Sprintf("%s α=%v seed=%d %+v", ctx.Method, ctx.Alpha, ctx.Seed, *m), rng, resume)
	ft.ckpt = ck
	if m.LearnInitial {
		value := newValueNet(ctx, m.Value, init)
		done, err := ck.restoreFinished("value", value)
		if err != nil {
			return nil, err
		}
		if !done {
			if _, err := ck.enter("value", nil, nil, nil); err != nil {
				return nil, err
			}
			if err := fitValue(ctx, m.Value, value, rng); err != nil {
				return nil, err
			}
			if err := ck.finish("value", value); err != nil {
				return nil, err
			}
		}
		nn.SetTrainable(value, false)
		ft.Value = value
		ctrl := newInitialLaw(ctx, m.Initial, init)
		if done, err = ck.restoreFinished("initial", ctrl); err != nil {
			return nil, err
		}
		if !done {
			if _, err := ck.enter("initial", nil, nil, nil); err != nil {
				return nil, err
			}
			if err := fitInitialLaw(ctx, value, m.Initial, ctrl, rng); err != nil {
				return nil, err
			}
			if err := ck.finish("initial", ctrl); err != nil {
				return nil, err
			}
		}
		nn.SetTrainable(ctrl, false)
		ft.Init.Control = ctrl
	}
	if err := ft.fitDrift(ctx, ctx.Alpha, m.Drift, fullBackprop, init, rng); err != nil {
		return nil, err
	}
	return ft.fitted(), nil
}

// newValueNet builds step 1's network v̂₀.
func newValueNet(ctx *Context, c ValueOptions, init *nn.Init) *nn.MLP {
	return nn.NewMLP(init, tensor.ActSiLU, ctx.Pre.Dim, c.Width, c.Width, 1)
}

// newInitialLaw builds step 2's control ū, its last layer zero.
func newInitialLaw(ctx *Context, c InitialOptions, init *nn.Init) *nn.TimeMLP {
	ctrl := nn.NewTimeMLP(init, ctx.Pre.Dim, 16, ctx.Pre.Dim, tensor.ActSiLU, c.Width, c.Width)
	ctrl.Net.ZeroLastLayer()
	return ctrl
}

// fitValue is step 1: regress v̂₀(x₀) on the Monte-Carlo soft value
// α·log((1/M)Σ_m exp(r̂(x_T^m)/α)) of M pre-trained rollouts from each x₀,
// computed in log space (ALGORITHMS.md §1, step 1), into net (newValueNet).
// Targets are standardized for the fit; the network then includes the
// scale.
func fitValue(ctx *Context, c ValueOptions, net *nn.MLP, rng *sde.Streams) error {
	b, pre, reward, alpha := ctx.Backend, ctx.Pre, ctx.Task.Nominal(), ctx.Alpha
	p, m, d := c.Points, c.Rollouts, pre.Dim
	x0 := tensor.RandNormal(b, tensor.Float32, rng.Seed, rng.Next(), p, d)
	// Repeat every x₀ M times (rows p·M + j) and roll out in chunks.
	rows := make([]int, 0, p*m)
	for i := range p {
		for range m {
			rows = append(rows, i)
		}
	}
	rewards := make([]float64, 0, p*m)
	for lo := 0; lo < len(rows); lo += sampleChunk {
		chunk := rows[lo:min(lo+sampleChunk, len(rows))]
		start := tensor.IndexSelect(x0, 0, chunk)
		autograd.NoGrad(func() {
			xT := pre.rollout().Run(autograd.Const(start), rng.Seed, rng.Next()).X
			rewards = append(rewards, reward.Eval(xT).Value.Float64s()...)
		})
		ctx.Tick("rollouts", lo+len(chunk), len(rows))
	}
	target := make([]float64, p)
	for i := range p {
		target[i] = alpha * (logSumExpScaled(rewards[i*m:(i+1)*m], 1/alpha) - math.Log(float64(m)))
		if math.IsNaN(target[i]) || math.IsInf(target[i], 0) {
			return fmt.Errorf("step 1: the soft value at point %d is %v (reward not finite?)", i, target[i])
		}
	}
	mu, sd := Mean(target), Stddev(target)
	if sd == 0 {
		sd = 1
	}
	norm := make([]float64, p)
	for i, v := range target {
		norm[i] = (v - mu) / sd
	}
	y := tensor.FromFloat64As(b, tensor.Float32, norm, p, 1)
	// With a holdout, fit on the first points and keep the others apart.
	hold := int(c.Holdout * float64(p))
	xFit, yFit := x0, y
	if hold > 0 {
		xFit, yFit = x0.Slice(0, 0, p-hold).Contiguous(), y.Slice(0, 0, p-hold).Contiguous()
	}
	opt := nn.NewAdam(nn.Vars(net), nn.ConstantLR(c.LR))
	for it := range c.Iters {
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(net.Forward(autograd.Const(xFit)), autograd.Const(yFit))))
		l := loss.Value.Item()
		if !Number(l).Finite() {
			return fmt.Errorf("step 1: regression loss is %v at iteration %d", l, it)
		}
		loss.Backward()
		opt.Step()
		if it%25 == 0 || it == c.Iters-1 {
			ctx.Log(Event{Phase: "value", Iter: it, Loss: Number(l), LR: c.LR}, 0)
		}
		ctx.Tick("value", it+1, c.Iters)
	}
	if hold > 0 {
		shrinkValue(net, xFit, x0.Slice(0, p-hold, p).Contiguous(), norm[p-hold:], func(e Event) {
			e.Iter = c.Iters
			ctx.Log(e, 0)
		})
	}
	// Fold the standardization into the last layer: v̂₀ = μ + sd·net.
	last := net.Layers[len(net.Layers)-1]
	last.W.Value = tensor.Scale(last.W.Value, sd)
	last.B.Value = tensor.Shift(tensor.Scale(last.B.Value, sd), mu)
	return nil
}

// shrinkValue shrinks a value fit toward its mean m̄ over the points it was
// fit on, net ← m̄ + ρ·(net − m̄), by the share ρ = clamp(R², 0, 1) of the
// held-out targets' variance that it explains, and logs both. Where v*₀ is
// nearly flat (√ᾱ(1) ≈ 0.0066: x₀ says almost nothing of x_T) the
// Monte-Carlo soft values are noise, a fit of them has R² ≤ 0, and step 2
// would otherwise pay KL ≈ Var(v̂₀)/(2α²) to follow it.
func shrinkValue(net *nn.MLP, xFit, xHold *tensor.Tensor, yHold []float64, log func(Event)) {
	var fit, pred []float64
	autograd.NoGrad(func() {
		fit = net.Forward(autograd.Const(xFit)).Value.Float64s()
		pred = net.Forward(autograd.Const(xHold)).Value.Float64s()
	})
	my := Mean(yHold)
	var sse, sst float64
	for i, v := range pred {
		sse += (v - yHold[i]) * (v - yHold[i])
		sst += (yHold[i] - my) * (yHold[i] - my)
	}
	r2 := 1 - sse/sst
	rho := math.Max(0, math.Min(1, r2))
	m := Mean(fit)
	last := net.Layers[len(net.Layers)-1]
	last.W.Value = tensor.Scale(last.W.Value, rho)
	last.B.Value = tensor.Shift(tensor.Scale(last.B.Value, rho), (1-rho)*m)
	log(Event{Phase: "value", Loss: Number(sse / float64(len(yHold))),
		Extra: map[string]Number{"holdout_r2": Number(r2), "shrink": Number(rho)}})
}

// logSumExpScaled is log Σ exp(scale·v), stable for any scale.
func logSumExpScaled(v []float64, scale float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, scale*x)
	}
	var s float64
	for _, x := range v {
		s += math.Exp(scale*x - m)
	}
	return m + math.Log(s)
}

// fitInitialLaw is step 2: learn ū minimizing E[−v̂₀(z₁) + α·Σ‖ū‖²/2·Δτ], so
// that z₁ ~ ν* ∝ exp(v̂₀/α)·N(0, I), training ctrl (newInitialLaw).
func fitInitialLaw(ctx *Context, value *nn.MLP, c InitialOptions, ctrl *nn.TimeMLP, rng *sde.Streams) error {
	b, dim := ctx.Backend, ctx.Pre.Dim
	law := sde.InitialLaw{Steps: c.Steps, Control: ctrl}
	opt := nn.NewAdam(nn.Vars(ctrl), nn.ConstantLR(c.LR))
	for it := range c.Iters {
		z, cost := law.Sample(b, tensor.Float32, c.Batch, dim, rng.Seed, rng.Next())
		v := autograd.Reshape(value.Forward(z), c.Batch)
		loss := autograd.MeanAll(autograd.Sub(autograd.Scale(cost, ctx.Alpha), v))
		l := loss.Value.Item()
		if !Number(l).Finite() {
			return fmt.Errorf("step 2: loss is %v at iteration %d", l, it)
		}
		loss.Backward()
		opt.Step()
		if it%10 == 0 || it == c.Iters-1 {
			ctx.Log(Event{Phase: "initial", Iter: it, Loss: Number(l), KL: Number(Mean(cost.Value.Float64s())), LR: c.LR}, 0)
		}
		ctx.Tick("initial", it+1, c.Iters)
	}
	return nil
}
