package tasks

import (
	"flag"
	"fmt"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

func init() {
	algos.RegisterTask(algos.TaskSpec{Name: "gmm2d",
		Doc: "a 2-D mixture of 8 Gaussians; its tilted targets are exact (ALGORITHMS.md §5)",
		New: func(quick bool) algos.Task { return NewGMM2D(quick) }})
}

// GMM2DConfig holds the settings of the gmm2d task.
type GMM2DConfig struct {
	// Reward is r(x) = r̂(x): linear:w1,w2 or quadratic:c1,c2.
	Reward string
	// Genuine is the genuine reward (the oracle, flag -oracle): "" for r
	// itself, or a narrow bump bump:c1,c2,width,height (Bump; SEIKO's
	// setting).
	Genuine string `json:",omitempty"`
	algos.Diffusion
}

// GMM2D is the gmm2d task: the mixture of GMM2D(), a quadratic reward that
// is both nominal and genuine, and its tilted target in closed form.
type GMM2D struct {
	GMM2DConfig
	quick  bool
	env    algos.Env
	data   Mixture
	reward QuadraticReward
	bump   *Bump // the genuine reward, if Genuine is set
	oracle *algos.Oracle
	exact  map[float64][]float64 // exact samples of the target by α
}

// NewGMM2D returns the task with its defaults (the default main job: r(x) =
// x₁), or its quick preset.
func NewGMM2D(quick bool) *GMM2D {
	c := GMM2DConfig{Reward: "linear:1,0", Diffusion: algos.Diffusion{VP: sde.DefaultVP, Steps: 100,
		Pretrain: algos.PretrainConfig{Width: 256, Depth: 3, EmbDim: 32, Iters: 4000, Batch: 1024, LR: 1e-3, Seed: 1}}}
	if quick {
		c.Pretrain.Iters, c.Pretrain.Batch, c.Steps = 600, 512, 25
	}
	return &GMM2D{GMM2DConfig: c, quick: quick, data: EightGaussians()}
}

// Name implements algos.Task.
func (t *GMM2D) Name() string { return "gmm2d" }

// SampleDim is the dimension of a sample (algos.RolloutSizer).
func (t *GMM2D) SampleDim() int { return t.data.Dim() }

// Config implements algos.Task.
func (t *GMM2D) Config() any { return t.GMM2DConfig }

// SetFlags implements algos.FlagSetter.
func (t *GMM2D) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&t.Reward, "reward", t.Reward, "reward: linear:w1,w2 (r = w·x) or quadratic:c1,c2 (r = −c1·x1² − c2·x2²)")
	fs.StringVar(&t.Genuine, "oracle", t.Genuine, "genuine reward: empty for the reward itself, or bump:c1,c2,width,height = height·exp(−‖x−c‖²/(2·width²))")
	t.Diffusion.SetFlags(fs)
}

// Validate implements algos.Task.
func (t *GMM2D) Validate() error {
	r, err := ParseReward(t.Reward, t.data.Dim())
	if err != nil {
		return err
	}
	t.reward, t.bump = r, nil
	if t.Genuine != "" {
		b, err := ParseBump(t.Genuine, t.data.Dim())
		if err != nil {
			return err
		}
		t.bump = &b
	}
	return t.Diffusion.Validate()
}

// UseOnline implements algos.OnlineTask: unless -oracle was given, the
// genuine reward is DefaultBump, a narrow bump on the outer flank of one
// component that the pre-trained model rarely visits.
func (t *GMM2D) UseOnline(set map[string]bool) {
	if !set["oracle"] {
		t.Genuine = DefaultBump
	}
}

// Details implements algos.Describer: with a bump oracle, the probability
// of its region (within two widths of its centre) under the data law (10⁶
// exact draws) and under the pre-trained model (its samples), and the
// largest mean genuine reward a sampler of the data's support can reach,
// the bump's height.
func (t *GMM2D) Details(pre []float64) map[string]any {
	if t.bump == nil {
		return nil
	}
	return map[string]any{"oracle": map[string]any{
		"spec": t.bump.Spec, "region": "‖x − c‖ ≤ 2·width",
		"data_probability":       algos.Number(t.bump.Mass(t.data.Sample(1_000_000, 0xb0b))),
		"pretrained_probability": algos.Number(t.bump.Mass(pre)),
		"pretrained_samples":     len(pre) / t.data.Dim(),
	}}
}

// Defaults implements algos.Task: the settings of ALGORITHMS.md §1
// measured to work on gmm2d.
func (t *GMM2D) Defaults() algos.Plan {
	p := algos.Plan{Methods: []string{"elegant", "nostep2", "nokl"}, Alphas: []float64{1}, Seed: 1,
		EvalSamples: 2000, TargetSamples: 20000,
		Recipe: algos.Recipe{
			Value:         algos.ValueOptions{Points: 1024, Rollouts: 32, Iters: 500, Width: 64, LR: 1e-3},
			Initial:       algos.InitialOptions{Steps: 20, Iters: 200, Width: 64, Batch: 512, LR: 1e-2},
			Drift:         algos.DriftOptions{Iters: 200, Batch: 512, LR: 3e-3, LRMin: 3e-4},
			BaselineIters: 60, TruncK: 10,
			Guidance: algos.GuidanceOptions{Scale: 1, Width: 128, Iters: 1500, Batch: 512, LR: 1e-3},
			PPO:      algos.PPOOptions{Beta: -1, Clip: 0.2, AdvClip: 5, Iters: 100, Batch: 256, Epochs: 2, Minibatch: 1024, LR: 3e-4, ClipNorm: 1},
		}}
	p.Recipe.SEIKO = algos.DefaultSEIKOOptions()
	if t.quick {
		r := &p.Recipe
		r.SEIKO.Schedule, r.SEIKO.Iters, r.SEIKO.Model.Iters, r.SEIKO.CurveSamples = []int{64, 128, 256}, 15, 150, 256
		r.Drift.Iters, r.Drift.Batch = 40, 128
		r.Value.Points, r.Value.Rollouts, r.Value.Iters = 256, 8, 150
		r.Initial.Iters = 60
		r.BaselineIters = 20
		r.Guidance.Iters, r.Guidance.Batch = 200, 256
		r.PPO.Iters, r.PPO.Batch = 10, 128
		p.EvalSamples, p.TargetSamples = 500, 2000
	}
	if t.Genuine != "" {
		// A bump's rare region needs many samples to measure: at 1.5 % of
		// the pre-trained model's mass, 500 samples hold ≈ 8 of it.
		p.EvalSamples, p.TargetSamples, p.Recipe.SEIKO.CurveSamples = 10000, 20000, 4000
		if t.quick {
			p.EvalSamples, p.TargetSamples, p.Recipe.SEIKO.CurveSamples = 4000, 4000, 2000
		}
	}
	return p
}

// Setup implements algos.Task.
func (t *GMM2D) Setup(env algos.Env) error {
	if err := t.Validate(); err != nil {
		return err
	}
	t.env, t.exact = env, map[float64][]float64{}
	t.oracle = algos.NewOracle(t.reward.String(), t.reward.Values)
	if t.bump != nil {
		t.oracle = algos.NewOracle(t.bump.String(), t.bump.Values)
	}
	return nil
}

// Pretrain implements algos.Task.
func (t *GMM2D) Pretrain(env algos.Env) (*algos.Pretrained, error) {
	eps, err := algos.PretrainCached(env, "gmm2d", t.VP, t.data.Dim(), t.Diffusion.Pretrain, t.Data(env.Backend, t.Diffusion.Pretrain.Seed))
	if err != nil {
		return nil, err
	}
	return &algos.Pretrained{VP: t.VP, Steps: t.Steps, Dim: t.data.Dim(), Eps: eps}, nil
}

// Data implements algos.Task: batch i holds fresh draws of the mixture.
func (t *GMM2D) Data(b tensor.Backend, seed uint64) algos.DataSampler {
	return func(i, n int) *tensor.Tensor {
		return tensor.FromFloat64As(b, tensor.Float32, t.data.Sample(n, seed<<32+uint64(i)), n, t.data.Dim())
	}
}

// Nominal implements algos.Task.
func (t *GMM2D) Nominal() algos.Reward { return t.reward }

// Oracle implements algos.Task: the genuine reward is r itself.
func (t *GMM2D) Oracle() *algos.Oracle { return t.oracle }

// NewControl implements algos.Task: the default, shaped like ε_θ.
func (t *GMM2D) NewControl(float64) func(*nn.Init, int) algos.Net { return nil }

// Alphas implements algos.Task: α = 1.
func (t *GMM2D) Alphas(float64) []float64 { return []float64{1} }

// ExactTarget implements algos.ExactTargeter: p* ∝ exp(r/α)·p_data in
// closed form.
func (t *GMM2D) ExactTarget(alpha float64) (algos.Exact, error) {
	tilt, err := t.data.Tilt(t.reward, alpha)
	if err != nil {
		return algos.Exact{}, err
	}
	return algos.Exact{Reward: algos.Number(tilt.MeanReward(t.reward)), KL: algos.Number(tilt.KL(t.reward, alpha))}, nil
}

// ExactSamples implements algos.ExactSampler, seeded by the run.
func (t *GMM2D) ExactSamples(alpha float64, n int) []float64 {
	if x, ok := t.exact[alpha]; ok && len(x) == n*t.data.Dim() {
		return x
	}
	tilt, err := t.data.Tilt(t.reward, alpha)
	if err != nil {
		panic(fmt.Sprintf("tasks: gmm2d target at α = %v: %v", alpha, err)) // the runner validated α
	}
	x := tilt.Sample(n, t.env.Seed+7)
	t.exact[alpha] = x
	return x
}

// Evaluate implements algos.Task: the core metrics, the energy distance to
// exact samples of the target at alpha and the fraction off the support.
func (t *GMM2D) Evaluate(x, kl []float64, alpha float64) algos.MethodSummary {
	d := t.data.Dim()
	var s algos.MethodSummary
	s.RewardNominal = algos.Number(algos.Mean(t.reward.Values(x)))
	s.RewardGenuine = algos.Number(algos.Mean(t.oracle.Score(x)))
	if kl != nil {
		s.KL = algos.Number(algos.Mean(kl))
	}
	s.Diversity = algos.Number(algos.Diversity(x, d))
	s.SetExtra("energy_distance", algos.EnergyDistance(x, t.ExactSamples(alpha, len(x)/d), d))
	s.SetExtra("off_support", offSupportFraction(t.data, x))
	for name, v := range map[string]algos.Number{"reward_nominal": s.RewardNominal, "kl": s.KL, "diversity": s.Diversity, "energy_distance": s.Extras["energy_distance"]} {
		if !v.Finite() {
			s.Note(name, "not finite: the samples overflowed float32 (the method diverged)")
		}
	}
	return s
}

// Monitor implements algos.Task: the fraction of the batch off the support.
func (t *GMM2D) Monitor(x []float64) map[string]algos.Number {
	return map[string]algos.Number{"off_support": algos.Number(offSupportFraction(t.data, x))}
}

// Columns implements algos.Task.
func (t *GMM2D) Columns() []algos.Column {
	return []algos.Column{{Key: "reward_nominal", Title: "reward"}, {Key: "kl", Title: "KL"}, {Key: "diversity", Title: "diversity"},
		{Key: "energy_distance", Title: "energy-d"}, {Key: "off_support", Title: "off-supp"}}
}

// offSupportFraction is the fraction of the rows of x farther than 4
// standard deviations from every component.
func offSupportFraction(m Mixture, x []float64) float64 {
	d := m.Dim()
	n := len(x) / d
	off := 0
	for i := range n {
		if m.OffSupport(x[i*d:(i+1)*d], 4) {
			off++
		}
	}
	return float64(off) / float64(n)
}
