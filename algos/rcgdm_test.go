package algos

import (
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// rcgdmW is the direction of the toy's genuine reward r(x) = w·x, ‖w‖ = 1.
var rcgdmW = []float64{0.6, 0.8}

// gaussTask is a 2-D toy for RCGDM: data N(0, I) (for which gaussEps is the
// exact pre-trained model) and the genuine reward r(x) = w·x, so that the
// exact predictor is E[r(x₀) | x_s] = √ᾱ(s)·w·x_s.
type gaussTask struct {
	Task
	oracle *Oracle
}

func newGaussTask() gaussTask {
	return gaussTask{oracle: NewOracle("w·x", func(x []float64) []float64 {
		y := make([]float64, len(x)/2)
		for i := range y {
			y[i] = rcgdmW[0]*x[2*i] + rcgdmW[1]*x[2*i+1]
		}
		return y
	})}
}

func (g gaussTask) Oracle() *Oracle { return g.oracle }
func (g gaussTask) Data(b tensor.Backend, seed uint64) DataSampler {
	return func(i, n int) *tensor.Tensor { return tensor.RandNormal(b, tensor.Float32, seed, uint64(i), n, 2) }
}

// fitGaussRCGDM trains the toy's predictor with quickRCGDM (small, quick),
// once for the tests that use it.
var fitGaussRCGDM = sync.OnceValues(func() (*Guided, error) {
	vp := sde.DefaultVP
	pre := &Pretrained{VP: vp, Steps: 40, Dim: 2, Eps: gaussEps{vp}}
	ctx := &Context{Env: Env{Backend: tensor.CPU()}, Task: newGaussTask(), Pre: pre, Run: "rcgdm", Method: "rcgdm", Seed: 3}
	return FitRCGDM(ctx, quickRCGDM)
})

var quickRCGDM = RCGDMOptions{Target: 1, Guidance: 4, LabelNoise: 0.1, Width: 64, Iters: 800, Batch: 256, LR: 3e-3}

// TestRCGDMPredictorFit checks that the predictor trained on noised, noisily
// labelled data is close to the exact E[r(x₀) | x_s] = √ᾱ(s)·w·x_s across
// diffusion times, and that Predict is it at s_min.
func TestRCGDMPredictorFit(t *testing.T) {
	g, err := fitGaussRCGDM()
	require.NoError(t, err)
	pre, b := g.Pre, tensor.CPU()
	x := tensor.RandNormal(b, tensor.Float32, 9, 1, 500, 2)
	xv := x.Float64s()
	for _, s := range []float64{pre.VP.SMin, 0.2, 0.5, 0.9} {
		var pred []float64
		autograd.NoGrad(func() { pred = g.Classifier.Forward(autograd.Const(x), []float64{s}).Value.Float64s() })
		a := pre.VP.SqrtAlphaBar(s)
		var se, ss float64
		for i, p := range pred {
			want := a * (rcgdmW[0]*xv[2*i] + rcgdmW[1]*xv[2*i+1])
			se += (p - want) * (p - want)
			ss += want * want
		}
		rmse := math.Sqrt(se / float64(len(pred)))
		t.Logf("s = %.3f: rmse %.3f against an exact predictor of rms %.3f", s, rmse, math.Sqrt(ss/float64(len(pred))))
		assert.Less(t, rmse, 0.1, "s = %v", s)
		if s == pre.VP.SMin {
			assert.InDeltaSlice(t, pred, g.Predict(b, xv), 1e-6, "Predict is the predictor at s_min")
		}
	}
}

// TestRCGDMGuidanceIsTheGradient checks the guidance term of every sample
// against a central finite difference of −w·β(s)·½(target − μ(x, s))², and
// that it is per sample: a row's guidance does not depend on the batch.
func TestRCGDMGuidanceIsTheGradient(t *testing.T) {
	b := tensor.CPUReference()
	init := &nn.Init{Backend: b, DType: tensor.Float64, Seed: 5}
	net := nn.NewTimeMLP(init, 3, 8, 1, tensor.ActSiLU, 16, 16)
	vp := sde.DefaultVP
	g := &Guided{Pre: &Pretrained{VP: vp, Steps: 10, Dim: 3}, Classifier: net, Scale: 7, Target: 0.5}
	const n, s, h = 4, 0.37, 1e-5
	xv := make([]float64, n*3)
	for i := range xv {
		xv[i] = math.Sin(float64(3*i+1)) * 1.5
	}
	drift := g.Drift(tensor.FromFloat64(b, xv, n, 3), s).Float64s()
	loss := func(row []float64) float64 {
		var c float64
		autograd.NoGrad(func() {
			c = net.Forward(autograd.Const(tensor.FromFloat64(b, row, 1, 3)), []float64{s}).Value.Float64s()[0]
		})
		return 0.5 * (g.Target - c) * (g.Target - c)
	}
	for i := range n {
		row := append([]float64(nil), xv[3*i:3*i+3]...)
		alone := g.Drift(tensor.FromFloat64(b, row, 1, 3), s).Float64s()
		for j := range 3 {
			up, down := append([]float64(nil), row...), append([]float64(nil), row...)
			up[j] += h
			down[j] -= h
			want := -g.Scale * vp.Beta(s) * (loss(up) - loss(down)) / (2 * h)
			assert.InDelta(t, want, drift[3*i+j], 1e-6*(1+math.Abs(want)), "sample %d, coordinate %d", i, j)
			assert.InDelta(t, alone[j], drift[3*i+j], 1e-12, "sample %d alone and in the batch", i)
		}
	}
}

// TestRCGDMTargetRaisesReward samples the toy guided toward targets −2 … 3:
// the achieved mean reward rises with the target, the predicted reward
// follows the achieved one, and no guidance leaves the data's law (mean
// reward 0). Under N(0, I) data and a Gaussian likelihood of strength w
// around r, the exactly conditioned law has E[r] = target·w/(1 + w). The
// guided sampler approximates it by a likelihood around the point estimate
// E[r | x_t], sharper than the exact p(y | x_t) (which adds Var(r | x_t) to
// 1/w): it lands between the exact conditional mean and the target.
func TestRCGDMTargetRaisesReward(t *testing.T) {
	g, err := fitGaussRCGDM()
	require.NoError(t, err)
	b := tensor.CPU()
	oracle := newGaussTask().Oracle()
	prev := math.Inf(-1)
	for _, target := range []float64{-2, 0, 1, 2, 3} {
		x, _, kl := g.With(target, quickRCGDM.Guidance).Sample(b, 1000, &sde.Streams{Seed: 8})
		got, pred := Mean(oracle.Score(x)), Mean(g.Predict(b, x))
		exact := target * quickRCGDM.Guidance / (1 + quickRCGDM.Guidance)
		t.Logf("target %g: E[r] = %.3f (exactly conditioned %.3f), predicted %.3f, KL %.3f", target, got, exact, pred, Mean(kl))
		assert.Greater(t, got, prev, "target %g", target)
		lo, hi := min(exact, target)-0.1, max(exact, target)+0.1
		assert.True(t, lo < got && got < hi, "target %g: E[r] = %v outside [%v, %v]", target, got, lo, hi)
		assert.InDelta(t, got, pred, 0.1+0.05*math.Abs(target), "target %g: predicted against genuine", target)
		prev = got
	}
	x, _, kl := g.With(3, 0).Sample(b, 1000, &sde.Streams{Seed: 8})
	assert.InDelta(t, 0, Mean(oracle.Score(x)), 0.15, "no guidance")
	assert.Zero(t, Mean(kl), "no guidance, no KL")
}

// TestRCGDMOptions checks the settings: bad ones refused before any work,
// and a recipe without RCGDM settings taking its classifier guidance's
// predictor and strength.
func TestRCGDMOptions(t *testing.T) {
	require.NoError(t, DefaultRCGDMOptions().Validate())
	for _, bad := range []func(*RCGDMOptions){
		func(o *RCGDMOptions) { o.Target = math.NaN() }, func(o *RCGDMOptions) { o.Guidance = -1 },
		func(o *RCGDMOptions) { o.Guidance = math.Inf(1) }, func(o *RCGDMOptions) { o.LabelNoise = -0.1 },
		func(o *RCGDMOptions) { o.Width = 0 }, func(o *RCGDMOptions) { o.Iters = 0 }, func(o *RCGDMOptions) { o.Batch = 0 },
		func(o *RCGDMOptions) { o.LR = 0 },
	} {
		o := DefaultRCGDMOptions()
		bad(&o)
		assert.Error(t, o.Validate(), "%+v", o)
		// The context has no task: any work would panic.
		_, err := (&RCGDM{o}).Fit(&Context{Env: Env{Backend: tensor.CPU()}})
		assert.Error(t, err, "%+v", o)
	}
	g := GuidanceOptions{Scale: 100, Width: 64, Iters: 200, Batch: 128, LR: 2e-3}
	o := RCGDMFor(Recipe{Guidance: g})
	assert.Equal(t, RCGDMOptions{Target: 1, Guidance: 100, LabelNoise: 0.1, Width: 64, Iters: 200, Batch: 128, LR: 2e-3}, o)
	assert.Equal(t, DefaultRCGDMOptions(), RCGDMFor(Recipe{}))
	assert.Equal(t, quickRCGDM, RCGDMFor(Recipe{Guidance: g, RCGDM: quickRCGDM}))
	spec, err := LookupMethod("rcgdm")
	require.NoError(t, err)
	assert.Equal(t, &RCGDM{quickRCGDM}, spec.New(Recipe{RCGDM: quickRCGDM}))
}
