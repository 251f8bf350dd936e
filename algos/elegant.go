package algos

import (
	"fmt"
	"math"
	"time"

	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// Method names a fine-tuning method of the gmm2d comparison.
type Method string

// The methods of ALGORITHMS.md §1.
const (
	Elegant Method = "elegant" // all three steps
	NoStep2 Method = "nostep2" // ELEGANT with x₀ ~ N(0, I): no learned initial law
	NoKL    Method = "nokl"    // step 3 with α = 0 (AlignProp/DRaFT)
)

// Methods lists the methods in the order they are reported.
var Methods = []Method{Elegant, NoStep2, NoKL}

// ParseMethod reads a method name.
func ParseMethod(s string) (Method, error) {
	for _, m := range Methods {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown method %q (want one of %v or all)", s, Methods)
}

// ElegantConfig holds the settings of the three steps (ALGORITHMS.md §1,
// "Settings measured to work on gmm2d").
type ElegantConfig struct {
	Alpha  float64
	Method Method
	Seed   uint64

	// Step 1: value at t = 0 from ValuePoints × ValueRollouts pre-trained rollouts.
	ValuePoints, ValueRollouts, ValueIters, ValueWidth int
	ValueLR                                            float64
	// ValueHoldout > 0 holds that fraction of the points out of the fit and
	// shrinks the fit by the share of their variance it explains.
	ValueHoldout float64 `json:",omitempty"`
	// Step 2: initial law, a control of dz = ū dτ + dW over InitSteps steps.
	InitSteps, InitIters, InitWidth, InitBatch int
	InitLR                                     float64
	// Step 3: drift u_φ, trained on batches of Batch rollouts.
	Iters, Batch int
	LR, LRMin    float64
	ClipNorm     float64 // 0: no clipping
	Segment      int     // gradient-checkpointing segment in steps (0: keep all)
	// TruncK is Truncation's number of last steps that gradients flow
	// through (DRaFT-K); Random draws it uniformly from 1…steps per batch.
	TruncK int `json:",omitempty"`
	// NewControl builds the drift network u_φ (and PPO's policy); nil gives
	// an MLP shaped like a TimeMLP ε_θ that starts at zero.
	NewControl func(init *nn.Init, dim int) Net `json:"-"`
}

// DefaultElegantConfig is the setting measured to work on gmm2d.
func DefaultElegantConfig() ElegantConfig {
	return ElegantConfig{Alpha: 1, Method: Elegant, Seed: 1,
		ValuePoints: 1024, ValueRollouts: 32, ValueIters: 500, ValueWidth: 64, ValueLR: 1e-3,
		InitSteps: 20, InitIters: 200, InitWidth: 64, InitBatch: 512, InitLR: 1e-2,
		Iters: 200, Batch: 512, LR: 3e-3, LRMin: 3e-4}
}

// Validate reports settings that cannot run.
func (c ElegantConfig) Validate() error {
	switch {
	case c.Method.regularized() && !(c.Alpha > 0):
		return fmt.Errorf("alpha must be > 0 for %s, got %v", c.Method, c.Alpha)
	case c.Iters < 0 || c.Batch < 1:
		return fmt.Errorf("need iters ≥ 0 and batch ≥ 1, got %d and %d", c.Iters, c.Batch)
	case c.Method == Truncation && c.TruncK < 1:
		return fmt.Errorf("truncation needs K ≥ 1 last steps, got %d", c.TruncK)
	case c.Method == Elegant && (c.ValuePoints < 2 || c.ValueRollouts < 1 || c.InitSteps < 1):
		return fmt.Errorf("ELEGANT needs value points ≥ 2, rollouts ≥ 1 and initial-law steps ≥ 1")
	}
	return nil
}

// Event is one line of a training log.
type Event struct {
	Method Method `json:"method"`
	// Run names the run when an experiment runs a method more than once
	// (ELEGANT at each α of a sweep).
	Run      string  `json:"run,omitempty"`
	Phase    string  `json:"phase"` // value, initial, drift
	Iter     int     `json:"iter"`
	Loss     Number  `json:"loss"`
	Reward   Number  `json:"reward,omitempty"`
	KL       Number  `json:"kl,omitempty"`
	GradNorm Number  `json:"grad_norm,omitempty"`
	LR       float64 `json:"lr,omitempty"`
	// Elapsed is the wall time since the method started, in seconds.
	Elapsed float64 `json:"elapsed_s"`
	// Extra holds task-specific monitors (e.g. the fraction off the support).
	Extra map[string]Number `json:"extra,omitempty"`
}

// FineTuned is a fine-tuned sampler: an initial law (nil control: N(0, I))
// followed by the pre-trained SDE with the control drift.
type FineTuned struct {
	Pre     *Pretrained
	Init    sde.InitialLaw
	Control Net
	// Value is step 1's fit of v*₀ (nil unless ELEGANT).
	Value *nn.MLP
	// DivergedAt is the drift iteration at which the loss stopped being finite
	// (−1 if it never did); the control holds the last finite parameters.
	DivergedAt int
	Seconds    float64
}

// Sample draws n points with their path-KL estimates: of the initial law
// (Σ‖ū‖²/2·Δτ) and of the drift (Σ‖u‖²/(2σ²)·Δt).
func (f *FineTuned) Sample(b tensor.Backend, n int, rng *sde.Streams) (x, klInit, klDrift []float64) {
	x = sampleChunks(n, func(m int) []float64 {
		var out []float64
		autograd.NoGrad(func() {
			x0, ci := f.Init.Sample(b, tensor.Float32, m, f.Pre.Dim, rng.Seed, rng.Next())
			res := f.rollout(0).Run(x0, rng.Seed, rng.Next())
			out = res.X.Value.Float64s()
			klInit = append(klInit, ci.Value.Float64s()...)
			klDrift = append(klDrift, res.KL.Value.Float64s()...)
		})
		return out
	})
	return x, klInit, klDrift
}

func (f *FineTuned) rollout(segment int) sde.Rollout {
	r := sde.Rollout{VP: f.Pre.VP, Grid: f.Pre.Grid(), Eps: f.Pre.Eps, Segment: segment}
	if f.Control != nil {
		r.Control = f.Control
	}
	return r
}

// Monitor computes task-specific numbers from a batch of samples x (rows) for
// the training log; nil for none.
type Monitor func(x []float64) map[string]Number

// FineTune runs one method on a pre-trained model toward reward r̂.
func FineTune(b tensor.Backend, pre *Pretrained, reward tasks.Reward, c ElegantConfig, log func(Event), monitor Monitor) (*FineTuned, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	if sink := log; sink != nil {
		log = func(e Event) {
			e.Elapsed = time.Since(start).Seconds()
			sink(e)
		}
	} else {
		log = func(Event) {}
	}
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: c.Seed ^ 0x5eed}
	rng := &sde.Streams{Seed: c.Seed}
	ft := &FineTuned{Pre: pre, Init: sde.InitialLaw{Steps: max(c.InitSteps, 1)}, DivergedAt: -1}
	if c.Method == Elegant {
		value, err := fitValue(b, pre, reward, c, init, rng, log)
		if err != nil {
			return nil, err
		}
		ft.Value = value
		ctrl, err := fitInitialLaw(b, pre, value, c, init, rng, log)
		if err != nil {
			return nil, err
		}
		ft.Init.Control = ctrl
	}
	alpha := c.Alpha
	if !c.Method.regularized() {
		alpha = 0
	}
	if err := fitDrift(b, ft, reward, alpha, c, init, rng, log, monitor); err != nil {
		return nil, err
	}
	ft.Seconds = time.Since(start).Seconds()
	return ft, nil
}

// fitValue is step 1: regress v̂₀(x₀) on the Monte-Carlo soft value
// α·log((1/M)Σ_m exp(r̂(x_T^m)/α)) of M pre-trained rollouts from each x₀,
// computed in log space (ALGORITHMS.md §1, step 1). Targets are standardized
// for the fit; the returned network includes the scale.
func fitValue(b tensor.Backend, pre *Pretrained, reward tasks.Reward, c ElegantConfig, init *nn.Init, rng *sde.Streams, log func(Event)) (*nn.MLP, error) {
	p, m, d := c.ValuePoints, c.ValueRollouts, pre.Dim
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
	}
	target := make([]float64, p)
	for i := range p {
		target[i] = c.Alpha * (logSumExpScaled(rewards[i*m:(i+1)*m], 1/c.Alpha) - math.Log(float64(m)))
		if math.IsNaN(target[i]) || math.IsInf(target[i], 0) {
			return nil, fmt.Errorf("step 1: the soft value at point %d is %v (reward not finite?)", i, target[i])
		}
	}
	mu, sd := Mean(target), stddev(target)
	if sd == 0 {
		sd = 1
	}
	norm := make([]float64, p)
	for i, v := range target {
		norm[i] = (v - mu) / sd
	}
	y := tensor.FromFloat64As(b, tensor.Float32, norm, p, 1)
	// With a holdout, fit on the first points and keep the others apart.
	hold := int(c.ValueHoldout * float64(p))
	xFit, yFit := x0, y
	if hold > 0 {
		xFit, yFit = x0.Slice(0, 0, p-hold).Contiguous(), y.Slice(0, 0, p-hold).Contiguous()
	}
	net := nn.NewMLP(init, tensor.ActSiLU, d, c.ValueWidth, c.ValueWidth, 1)
	opt := nn.NewAdam(nn.Vars(net), nn.ConstantLR(c.ValueLR))
	for it := range c.ValueIters {
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(net.Forward(autograd.Const(xFit)), autograd.Const(yFit))))
		l := loss.Value.Item()
		if !Number(l).Finite() {
			return nil, fmt.Errorf("step 1: regression loss is %v at iteration %d", l, it)
		}
		loss.Backward()
		opt.Step()
		if it%25 == 0 || it == c.ValueIters-1 {
			log(Event{Method: c.Method, Phase: "value", Iter: it, Loss: Number(l), LR: c.ValueLR})
		}
	}
	if hold > 0 {
		shrinkValue(net, xFit, x0.Slice(0, p-hold, p).Contiguous(), norm[p-hold:], c, log)
	}
	// Fold the standardization into the last layer: v̂₀ = μ + sd·net.
	last := net.Layers[len(net.Layers)-1]
	last.W.Value = tensor.Scale(last.W.Value, sd)
	last.B.Value = tensor.Shift(tensor.Scale(last.B.Value, sd), mu)
	nn.SetTrainable(net, false)
	return net, nil
}

// shrinkValue shrinks a value fit toward its mean m̄ over the points it was
// fit on, net ← m̄ + ρ·(net − m̄), by the share ρ = clamp(R², 0, 1) of the
// held-out targets' variance that it explains. Where v*₀ is nearly flat
// (√ᾱ(1) ≈ 0.0066: x₀ says almost nothing of x_T) the Monte-Carlo soft
// values are noise, a fit of them has R² ≤ 0, and step 2 would otherwise
// pay KL ≈ Var(v̂₀)/(2α²) to follow it.
func shrinkValue(net *nn.MLP, xFit, xHold *tensor.Tensor, yHold []float64, c ElegantConfig, log func(Event)) {
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
	log(Event{Method: c.Method, Phase: "value", Iter: c.ValueIters, Loss: Number(sse / float64(len(yHold))),
		Extra: map[string]Number{"holdout_r2": Number(r2), "shrink": Number(rho)}})
}

func stddev(v []float64) float64 {
	m := Mean(v)
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)))
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
// that z₁ ~ ν* ∝ exp(v̂₀/α)·N(0, I).
func fitInitialLaw(b tensor.Backend, pre *Pretrained, value *nn.MLP, c ElegantConfig, init *nn.Init, rng *sde.Streams, log func(Event)) (*nn.TimeMLP, error) {
	ctrl := nn.NewTimeMLP(init, pre.Dim, 16, pre.Dim, tensor.ActSiLU, c.InitWidth, c.InitWidth)
	ctrl.Net.ZeroLastLayer()
	law := sde.InitialLaw{Steps: c.InitSteps, Control: ctrl}
	opt := nn.NewAdam(nn.Vars(ctrl), nn.ConstantLR(c.InitLR))
	for it := range c.InitIters {
		z, cost := law.Sample(b, tensor.Float32, c.InitBatch, pre.Dim, rng.Seed, rng.Next())
		v := autograd.Reshape(value.Forward(z), c.InitBatch)
		loss := autograd.MeanAll(autograd.Sub(autograd.Scale(cost, c.Alpha), v))
		l := loss.Value.Item()
		if !Number(l).Finite() {
			return nil, fmt.Errorf("step 2: loss is %v at iteration %d", l, it)
		}
		loss.Backward()
		opt.Step()
		if it%10 == 0 || it == c.InitIters-1 {
			log(Event{Method: c.Method, Phase: "initial", Iter: it, Loss: Number(l), KL: Number(Mean(cost.Value.Float64s())), LR: c.InitLR})
		}
	}
	nn.SetTrainable(ctrl, false)
	return ctrl, nil
}

// newControl builds the drift network: c.NewControl's, or an MLP shaped like
// a TimeMLP ε_θ (its hidden widths and time embedding) with a zero last layer.
func newControl(pre *Pretrained, c ElegantConfig, init *nn.Init) (Net, error) {
	if c.NewControl != nil {
		return c.NewControl(init, pre.Dim), nil
	}
	eps, ok := pre.Eps.(*nn.TimeMLP)
	if !ok {
		return nil, fmt.Errorf("%s: the pre-trained network is a %T: set ElegantConfig.NewControl", c.Method, pre.Eps)
	}
	hidden := make([]int, len(eps.Net.Layers)-1)
	for i := range hidden {
		hidden[i] = eps.Net.Layers[i].Out()
	}
	ctrl := nn.NewTimeMLP(init, pre.Dim, eps.EmbDim, pre.Dim, tensor.ActSiLU, hidden...)
	ctrl.Net.ZeroLastLayer()
	return ctrl, nil
}

// fitDrift is step 3: minimize E[−r̂(x_T) + α·Σ_k ‖u_φ‖²/(2σ²)·Δt] over the
// control network by the pathwise gradient through the whole rollout (through
// its last K steps for Truncation and Random), from x₀ drawn from the initial
// law. A non-finite loss (NO KL diverges) stops the training with the last
// finite parameters kept.
func fitDrift(b tensor.Backend, ft *FineTuned, reward tasks.Reward, alpha float64, c ElegantConfig, init *nn.Init, rng *sde.Streams, log func(Event), monitor Monitor) error {
	pre := ft.Pre
	ctrl, err := newControl(pre, c, init)
	if err != nil {
		return err
	}
	ft.Control = ctrl
	truncate := truncation(c, pre.Steps)
	params := nn.Vars(ctrl)
	defer nn.SetTrainable(ctrl, false)
	opt := nn.NewAdam(params, nn.CosineLR(c.LR, c.LRMin, c.Iters, 0))
	var lastGood []*tensor.Tensor // the parameters that gave the last finite loss
	for it := range c.Iters {
		var x0 *autograd.Var
		autograd.NoGrad(func() {
			x0, _ = ft.Init.Sample(b, tensor.Float32, c.Batch, pre.Dim, rng.Seed, rng.Next())
		})
		roll := ft.rollout(c.Segment)
		roll.DetachBefore = truncate()
		res := roll.Run(autograd.Const(x0.Value), rng.Seed, rng.Next())
		r := reward.Eval(res.X)
		loss := autograd.MeanAll(autograd.Sub(autograd.Scale(res.KL, alpha), r))
		l := loss.Value.Item()
		ev := Event{Method: c.Method, Phase: "drift", Iter: it, Loss: Number(l), LR: opt.LR(it),
			Reward: Number(Mean(r.Value.Float64s())), KL: Number(Mean(res.KL.Value.Float64s()))}
		if monitor != nil {
			ev.Extra = monitor(res.X.Value.Float64s())
		}
		if !Number(l).Finite() {
			ft.DivergedAt = it
			log(ev)
			if lastGood != nil {
				for i, p := range params {
					p.Value = lastGood[i]
				}
			}
			return nil
		}
		loss.Backward()
		ev.GradNorm = Number(nn.ClipGradNorm(params, c.ClipNorm))
		log(ev)
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

// rollout is the pre-trained model's sampler.
func (p *Pretrained) rollout() sde.Rollout {
	return sde.Rollout{VP: p.VP, Grid: p.Grid(), Eps: p.Eps}
}
