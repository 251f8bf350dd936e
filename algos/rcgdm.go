package algos

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

func init() {
	RegisterMethod(MethodSpec{Name: "rcgdm",
		Doc: "reward-directed guided sampling toward a target reward value, inference only (ALGORITHMS.md §4)",
		New: func(r Recipe) Method { return &RCGDM{RCGDMFor(r)} }})
}

// RCGDMOptions set reward-directed guided sampling (ALGORITHMS.md §4): labels
// y = r(x) + ε, ε ~ N(0, LabelNoise²), of the genuine reward r on the task's
// data; a predictor μ(x_t, t) of them (an MLP of Width, trained Iters
// batches of Batch by Adam at LR, cosine-decayed to a tenth) on inputs
// noised by the forward process; and sampling guided toward Target with
// strength Guidance.
type RCGDMOptions struct {
	Target, Guidance    float64
	LabelNoise          float64
	Width, Iters, Batch int
	LR                  float64
}

// DefaultRCGDMOptions are the settings of a task that gives none: target 1,
// guidance 1, label noise 0.1, and the predictor of classifier guidance
// (width 128, 1500 batches of 512, lr 10⁻³).
func DefaultRCGDMOptions() RCGDMOptions {
	return RCGDMOptions{Target: 1, Guidance: 1, LabelNoise: 0.1, Width: 128, Iters: 1500, Batch: 512, LR: 1e-3}
}

// RCGDMFor is the RCGDM setting of a recipe: its own, or for a recipe
// without one (zero), DefaultRCGDMOptions with the predictor and the
// strength of the recipe's classifier guidance where it has one (a
// regressor on noised data measured to work on the task).
func RCGDMFor(r Recipe) RCGDMOptions {
	if r.RCGDM != (RCGDMOptions{}) {
		return r.RCGDM
	}
	o := DefaultRCGDMOptions()
	if g := r.Guidance; g.Iters > 0 {
		o.Guidance, o.Width, o.Iters, o.Batch, o.LR = g.Scale, g.Width, g.Iters, g.Batch, g.LR
	}
	return o
}

// Validate reports settings that cannot run.
func (o RCGDMOptions) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(o.Target):
		return fmt.Errorf("rcgdm: the target must be finite, got %v", o.Target)
	case !(o.Guidance >= 0) || !finite(o.Guidance):
		return fmt.Errorf("rcgdm: the guidance must be a finite number ≥ 0, got %v", o.Guidance)
	case !(o.LabelNoise >= 0) || !finite(o.LabelNoise):
		return fmt.Errorf("rcgdm: the label noise must be a finite number ≥ 0, got %v", o.LabelNoise)
	case o.Width < 1 || o.Iters < 1 || o.Batch < 1 || !(o.LR > 0) || !finite(o.LR):
		return fmt.Errorf("rcgdm: the predictor needs width, iters and batch ≥ 1 and a finite lr > 0, got %+v", o)
	}
	return nil
}

// RCGDM is reward-directed conditional diffusion (Yuan et al. 2023), inference
// only: the pre-trained SDE plus guidance·σ²(t)·∇_x log p(target | x_t) with
// a Gaussian likelihood around the reward predictor μ(x_t, t), per sample.
// Its sampler is a Guided whose Classifier is μ.
type RCGDM struct{ RCGDMOptions }

// Fit implements Method: it labels the task's data with the genuine reward
// (Oracle.Score, uncounted: the labelled data set of the seed) plus noise
// and trains the predictor on it.
func (m *RCGDM) Fit(ctx *Context) (*Fitted, error) {
	o := m.RCGDMOptions
	g, err := FitRCGDM(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Fitted{Sampler: g, Modules: map[string]nn.Module{"predictor": g.Classifier}, DivergedAt: -1,
		Setting: fmt.Sprintf("target = %g, guidance = %g, label noise = %g", o.Target, o.Guidance, o.LabelNoise)}, nil
}

// FitRCGDM trains the reward predictor μ(x_s, s) by least squares on labels
// y = r(x₀) + ε of batches x₀ of the task's data, noised by the forward
// process at s ~ U(s_min, 1) per row, and returns the guided sampler toward
// o.Target at strength o.Guidance. A sweep over targets and strengths
// reuses the predictor: copy the Guided and change Target and Scale.
func FitRCGDM(ctx *Context, o RCGDMOptions) (*Guided, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b, oracle := ctx.Backend, ctx.Task.Oracle()
	label := func(it int, x0 *tensor.Tensor) (*autograd.Var, error) {
		y := oracle.Score(x0.Float64s())
		noise := rand.New(rand.NewPCG(ctx.Seed^0x1abe1, uint64(it)))
		for i, v := range y {
			if !Number(v).Finite() {
				return nil, fmt.Errorf("the genuine reward of row %d is %v", i, v)
			}
			if o.LabelNoise > 0 {
				y[i] += o.LabelNoise * noise.NormFloat64()
			}
		}
		return autograd.Const(tensor.FromFloat64As(b, tensor.Float32, y, len(y))), nil
	}
	c := GuidanceOptions{Scale: o.Guidance, Width: o.Width, Iters: o.Iters, Batch: o.Batch, LR: o.LR}
	net, err := fitNoisedRegressor(ctx, "rcgdm", "predictor", c, label)
	if err != nil {
		return nil, err
	}
	return &Guided{Pre: ctx.Pre, Classifier: net, Scale: o.Guidance, Target: o.Target}, nil
}

// Predict is the regressor's value c(x, s_min) on every row of x (samples
// of the guided sampler, at the last time of the grid): for RCGDM, the
// predicted reward of its samples.
func (g *Guided) Predict(b tensor.Backend, x []float64) []float64 {
	var out []float64
	n := len(x) / g.Pre.Dim
	for lo := 0; lo < n; lo += sampleChunk {
		hi := min(n, lo+sampleChunk)
		in := tensor.FromFloat64As(b, tensor.Float32, x[lo*g.Pre.Dim:hi*g.Pre.Dim], hi-lo, g.Pre.Dim)
		autograd.NoGrad(func() {
			out = append(out, g.Classifier.Forward(autograd.Const(in), []float64{g.Pre.VP.SMin}).Value.Float64s()...)
		})
	}
	return out
}

// With returns a copy of the sampler guided toward target at strength
// scale, sharing the regressor.
func (g *Guided) With(target, scale float64) *Guided {
	c := *g
	c.Target, c.Scale = target, scale
	return &c
}
