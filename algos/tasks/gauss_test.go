package tasks_test

// This file is the whole of a task: a 3-D Gaussian N(μ, I) tilted by a
// linear reward w·x, whose target N(μ + w/α, I) is exact. It is registered
// only in this package's tests, where the matrix test runs every method on
// it like on the real tasks: adding a task is this file and its
// registration line.

import (
	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

func init() {
	algos.RegisterTask(algos.TaskSpec{Name: "gauss3d", Doc: "N(μ, I) in 3-D tilted by w·x (a test task)",
		New: func(bool) algos.Task { return &gauss3d{} }})
}

var gaussMu, gaussW = []float64{1, -1, 0.5}, []float64{0.5, 0, -1}

type gauss3d struct {
	oracle *algos.Oracle
}

// gaussReward is r(x) = w·x.
type gaussReward struct{}

func (gaussReward) Eval(x *autograd.Var) *autograd.Var {
	w := tensor.FromFloat64As(x.Value.Backend(), x.Value.DType(), gaussW, 3, 1)
	return autograd.Reshape(autograd.MatMul(x, autograd.Const(w)), x.Value.Dim(0))
}

func (gaussReward) Values(x []float64) []float64 {
	out := make([]float64, len(x)/3)
	for i := range out {
		for j, w := range gaussW {
			out[i] += w * x[3*i+j]
		}
	}
	return out
}

func (gaussReward) String() string { return "linear:0.5,0,-1" }

func (t *gauss3d) Name() string    { return "gauss3d" }
func (t *gauss3d) Validate() error { return nil }
func (t *gauss3d) Config() any     { return struct{ Mu, W []float64 }{gaussMu, gaussW} }

func (t *gauss3d) Setup(algos.Env) error {
	t.oracle = algos.NewOracle("w·x", gaussReward{}.Values)
	return nil
}

func (t *gauss3d) Pretrain(env algos.Env) (*algos.Pretrained, error) {
	c := algos.PretrainConfig{Width: 32, Depth: 2, EmbDim: 8, Iters: 40, Batch: 128, LR: 3e-3, Seed: 1}
	vp := sde.DefaultVP
	eps, err := algos.PretrainCached(env, "gauss3d", vp, 3, c, t.Data(env.Backend, 1))
	if err != nil {
		return nil, err
	}
	return &algos.Pretrained{VP: vp, Steps: 6, Dim: 3, Eps: eps}, nil
}

func (t *gauss3d) Data(b tensor.Backend, seed uint64) algos.DataSampler {
	return func(i, n int) *tensor.Tensor {
		x := tensor.RandNormal(b, tensor.Float32, seed, uint64(i), n, 3)
		return tensor.Add(x, tensor.FromFloat64As(b, tensor.Float32, gaussMu, 1, 3))
	}
}

func (t *gauss3d) Nominal() algos.Reward    { return gaussReward{} }
func (t *gauss3d) Oracle() *algos.Oracle    { return t.oracle }
func (t *gauss3d) Alphas(float64) []float64 { return []float64{1} }

func (t *gauss3d) NewControl(float64) func(*nn.Init, int) algos.Net { return nil }

func (t *gauss3d) Defaults() algos.Plan {
	return algos.Plan{Methods: []string{"elegant"}, Seed: 1, EvalSamples: 64, TargetSamples: 128,
		Recipe: algos.Recipe{
			Value:    algos.ValueOptions{Points: 16, Rollouts: 2, Iters: 5, Width: 16, LR: 1e-3},
			Initial:  algos.InitialOptions{Steps: 4, Iters: 3, Width: 16, Batch: 16, LR: 1e-2},
			Drift:    algos.DriftOptions{Iters: 3, Batch: 16, LR: 3e-3, LRMin: 3e-4},
			TruncK:   2,
			Guidance: algos.GuidanceOptions{Scale: 1, Width: 16, Iters: 5, Batch: 32, LR: 1e-3},
			PPO:      algos.PPOOptions{Beta: -1, Clip: 0.2, AdvClip: 5, Iters: 2, Batch: 16, Epochs: 1, Minibatch: 64, LR: 3e-4, ClipNorm: 1},
		}}
}

// ExactTarget: N(μ + w/α, I), E*[w·x] = w·μ + ‖w‖²/α, KL = ‖w‖²/(2α²).
func (t *gauss3d) ExactTarget(alpha float64) (algos.Exact, error) {
	var wm, ww float64
	for j, w := range gaussW {
		wm, ww = wm+w*gaussMu[j], ww+w*w
	}
	return algos.Exact{Reward: algos.Number(wm + ww/alpha), KL: algos.Number(ww / (2 * alpha * alpha))}, nil
}

func (t *gauss3d) Evaluate(x, kl []float64, _ float64) algos.MethodSummary {
	var s algos.MethodSummary
	s.RewardNominal = algos.Number(algos.Mean(gaussReward{}.Values(x)))
	s.RewardGenuine = algos.Number(algos.Mean(t.oracle.Score(x)))
	if kl != nil {
		s.KL = algos.Number(algos.Mean(kl))
	}
	s.Diversity = algos.Number(algos.Diversity(x, 3))
	return s
}

func (t *gauss3d) Monitor([]float64) map[string]algos.Number { return nil }

func (t *gauss3d) Columns() []algos.Column {
	return []algos.Column{{Key: "reward_nominal", Title: "reward"}, {Key: "kl", Title: "KL"}, {Key: "diversity", Title: "diversity"}}
}
