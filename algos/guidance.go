package algos

import (
	"fmt"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

func init() {
	RegisterMethod(MethodSpec{Name: "guidance",
		Doc: "classifier guidance toward y_target, inference only (ALGORITHMS.md §1, Baselines)",
		New: func(r Recipe) Method { return &Guidance{r.Guidance} }})
}

// GuidanceOptions set classifier guidance (ALGORITHMS.md §1, Baselines): a
// regressor c(x_t, t) of r̂ on inputs noised by the forward process, and the
// sampling knobs w (Scale) and y_target (Target; nil: the target's E_α[r̂]
// at the run's α, exact where the task knows it, else the pre-trained
// model's estimate).
type GuidanceOptions struct {
	Scale               float64
	Target              *float64 `json:",omitempty"`
	Width, Iters, Batch int
	LR                  float64
}

// Guidance is classifier guidance, inference only: the pre-trained SDE plus
// w·σ²(t)·∇_x log p(y_target | x_t) with a Gaussian likelihood around the
// regressor c(x_t, t).
type Guidance struct{ GuidanceOptions }

// Fit implements Method: it trains the regressor on the task's data.
func (m *Guidance) Fit(ctx *Context) (*Fitted, error) {
	c := m.GuidanceOptions
	target := float64(ctx.Target.Reward)
	if !ctx.Target.Reward.Finite() { // a task without an exact target
		target = float64(ctx.Target.PretrainedTarget)
	}
	if c.Target != nil {
		target = *c.Target
	}
	g, err := fitGuidance(ctx, c, target)
	if err != nil {
		return nil, err
	}
	fit := &Fitted{Sampler: g, Modules: map[string]nn.Module{"classifier": g.Classifier}, DivergedAt: -1,
		Setting: fmt.Sprintf("w = %g, y_target = %.4g", c.Scale, target)}
	return fit, nil
}

// Guided samples the pre-trained SDE with the drift of classifier guidance.
type Guided struct {
	Pre *Pretrained
	// Classifier is c(x, s) [n, 1], frozen.
	Classifier    Net
	Scale, Target float64
}

// Drift is the guidance term at diffusion time s for every row of x:
// σ²(t)·∇_x log p(y_target | x_t) = −w·σ²(t)·∇_x ½(y_target − c(x_t, s))²,
// with σ²(t) = β(s), per sample (not averaged over the batch), by
// autograd.InputGrad (it records its own backward pass of c, even inside a
// NoGrad scope).
func (g *Guided) Drift(x *tensor.Tensor, s float64) *tensor.Tensor {
	grad := autograd.InputGrad(func(in *autograd.Var) *autograd.Var {
		return autograd.Scale(autograd.Square(autograd.Shift(g.Classifier.Forward(in, []float64{s}), -g.Target)), 0.5)
	}, x)
	return tensor.Scale(grad, -g.Scale*g.Pre.VP.Beta(s))
}

// Sample implements Sampler: the pre-trained SDE with the guidance drift.
func (g *Guided) Sample(b tensor.Backend, n int, rng *sde.Streams) (x, klInit, klDrift []float64) {
	return g.Pre.sampleGuided(b, n, rng, g.Drift)
}

// sampleGuided draws n samples of the pre-trained SDE from N(0, I) with the
// extra drift g(x_t, s) of a guided sampler, inference only, and their KL:
// that of the extra drift, Σ_k ‖g‖²/(2σ²)·Δt (the initial law's is 0).
func (p *Pretrained) sampleGuided(b tensor.Backend, n int, rng *sde.Streams, drift func(x *tensor.Tensor, s float64) *tensor.Tensor) (x, klInit, klDrift []float64) {
	grid := p.Grid()
	x = sampleChunks(n, func(m int) []float64 {
		kl := make([]float64, m)
		roll := p.rollout()
		roll.Guidance = func(x *autograd.Var, k int) *autograd.Var {
			s := grid.S(k)
			d := drift(x.Value, s)
			sq := tensor.Sum(tensor.Square(d), 1, false).Float64s()
			for i, v := range sq {
				kl[i] += v * grid.Dt / (2 * p.VP.Beta(s))
			}
			return autograd.Const(d)
		}
		// Nothing here requires a gradient, so the rollout records nothing.
		x0 := tensor.RandNormal(b, tensor.Float32, rng.Seed, rng.Next(), m, p.Dim)
		res := roll.Run(autograd.Const(x0), rng.Seed, rng.Next())
		klDrift = append(klDrift, kl...)
		return res.X.Value.Float64s()
	})
	return x, make([]float64, len(klDrift)), klDrift
}

// fitGuidance trains the regressor c(x_s, s) of r̂(x₀) on batches x₀ of the
// task's data noised by the forward process (s ~ U(s_min, 1) per row), least
// squares.
func fitGuidance(ctx *Context, c GuidanceOptions, target float64) (*Guided, error) {
	if !(c.Scale >= 0) || c.Iters < 1 || c.Batch < 1 || c.Width < 1 || !(c.LR > 0) {
		return nil, fmt.Errorf("guidance: need scale ≥ 0, iters, batch and width ≥ 1 and lr > 0, got %+v", c)
	}
	reward := ctx.Task.Nominal()
	label := func(_ int, x0 *tensor.Tensor) (*autograd.Var, error) {
		var y *autograd.Var
		autograd.NoGrad(func() { y = reward.Eval(autograd.Const(x0)) })
		return y, nil
	}
	net, err := fitNoisedRegressor(ctx, "guidance", "classifier", c, label)
	if err != nil {
		return nil, err
	}
	return &Guided{Pre: ctx.Pre, Classifier: net, Scale: c.Scale, Target: target}, nil
}

// fitNoisedRegressor trains a regressor c(x_s, s) [n, 1] of label(it, x₀)
// [n] on batches x₀ of the task's data noised by the forward process (s ~
// U(s_min, 1) per row), least squares, and returns it frozen. Its errors
// start with name; its log steps are of phase. The settings read are
// Width, Iters, Batch and LR of c.
func fitNoisedRegressor(ctx *Context, name, phase string, c GuidanceOptions, label func(it int, x0 *tensor.Tensor) (*autograd.Var, error)) (Net, error) {
	b, pre, seed := ctx.Backend, ctx.Pre, ctx.Seed
	data := ctx.Task.Data(b, seed^0x6c)
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: seed ^ 0x9d1de}
	rng := &sde.Streams{Seed: seed ^ 0x9d1de}
	net := nn.NewTimeMLP(init, pre.Dim, 32, 1, tensor.ActSiLU, c.Width, c.Width)
	opt := nn.NewAdam(nn.Vars(net), nn.CosineLR(c.LR, c.LR/10, c.Iters, 0))
	for it := range c.Iters {
		x0 := data(it, c.Batch)
		target, err := label(it, x0)
		if err != nil {
			return nil, fmt.Errorf("%s: labels of batch %d: %w", name, it, err)
		}
		xs, _, s := pre.VP.Perturb(x0, rng.Seed, rng.Next())
		pred := autograd.Reshape(net.Forward(autograd.Const(xs), s), c.Batch)
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(pred, target)))
		l := loss.Value.Item()
		if !Number(l).Finite() {
			return nil, fmt.Errorf("%s: regression loss is %v at iteration %d", name, l, it)
		}
		loss.Backward()
		opt.Step()
		if it%50 == 0 || it == c.Iters-1 {
			ctx.Log(Event{Phase: phase, Iter: it, Loss: Number(l), LR: opt.LR(it)}, 0)
		}
		ctx.Tick(phase, it+1, c.Iters)
	}
	nn.SetTrainable(net, false)
	return net, nil
}
