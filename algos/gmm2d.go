package algos

import (
	"fmt"
	"time"

	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// GMM2DConfig is a whole gmm2d experiment: pre-training (or its cache), the
// methods to run, and the evaluation.
type GMM2DConfig struct {
	Reward      string
	Alpha       float64
	Methods     []Method
	Seed        uint64
	VP          sde.VP
	Steps       int
	Pretrain    PretrainConfig
	FineTune    ElegantConfig // Alpha, Method and Seed are set per method
	NoKLIters   int           // iterations of NO KL (it diverges early); 0: FineTune.Iters
	EvalSamples int
	// TargetSamples pre-trained samples estimate the tilted target of the
	// pre-trained model by self-normalized weights.
	TargetSamples int
	CacheDir      string
}

// DefaultGMM2DConfig is the default main job: α = 1, r(x) = x₁, the settings
// of ALGORITHMS.md §1.
func DefaultGMM2DConfig() GMM2DConfig {
	return GMM2DConfig{
		Reward: "linear:1,0", Alpha: 1, Methods: Methods, Seed: 1,
		VP: sde.DefaultVP, Steps: 100,
		Pretrain:    PretrainConfig{Width: 256, Depth: 3, EmbDim: 32, Iters: 4000, Batch: 1024, LR: 1e-3, Seed: 1},
		FineTune:    DefaultElegantConfig(),
		NoKLIters:   60,
		EvalSamples: 2000, TargetSamples: 20000,
	}
}

// MethodSummary holds the evaluation of one method (and of the pre-trained
// model). Values that are not finite are written as null, with the reason in
// Notes. Pointer fields belong to some tasks only and are absent elsewhere.
type MethodSummary struct {
	RewardNominal Number `json:"reward_nominal"`
	RewardGenuine Number `json:"reward_genuine"`
	KL            Number `json:"kl"`
	Diversity     Number `json:"diversity"`
	// gmm2d: energy distance to exact samples of the target, fraction off the
	// mixture's support.
	EnergyDistance *Number `json:"energy_distance,omitempty"`
	OffSupport     *Number `json:"off_support,omitempty"`
	// Sequence tasks: r̂ of the decoded one-hot sequence, y's top-10% mean and
	// maximum, distance of x_T from its decoded vertex, fractions of decoded
	// sequences inside r̂'s training half and distinct.
	RewardNominalDecoded *Number `json:"reward_nominal_decoded,omitempty"`
	RewardGenuineTop10   *Number `json:"reward_genuine_top10,omitempty"`
	RewardGenuineMax     *Number `json:"reward_genuine_max,omitempty"`
	VertexDistance       *Number `json:"vertex_distance,omitempty"`
	InTrainHalf          *Number `json:"in_train_half,omitempty"`
	Unique               *Number `json:"unique,omitempty"`
	// Where a target is known: the method's gain in r̂ over the pre-trained
	// model as a fraction of the target's, and its KL over the target's.
	TargetGainRatio *Number `json:"target_gain_ratio,omitempty"`
	TargetKLRatio   *Number `json:"target_kl_ratio,omitempty"`
	Seconds         Number  `json:"seconds"`
	DivergedAt      *int    `json:"diverged_at,omitempty"`
	// PassedTargetAt is the first training iteration whose batch reward
	// exceeded the exact E*[r]; LeftSupportAt the first whose batch had more
	// than half of its samples off the data's support.
	PassedTargetAt *int              `json:"passed_target_at,omitempty"`
	LeftSupportAt  *int              `json:"left_support_at,omitempty"`
	Notes          map[string]string `json:"notes,omitempty"`
}

// Exact holds the closed-form target p* ∝ exp(r/α)·p_data and the target of
// the pre-trained model estimated by self-normalized weights.
type Exact struct {
	Reward Number `json:"reward"`
	KL     Number `json:"kl"`
	// PretrainedTarget is E[r] under exp(r/α)·p_pre, PretrainedTargetKL its KL
	// to p_pre, ESS the effective sample size of the weights.
	PretrainedTarget   Number `json:"pretrained_target_reward"`
	PretrainedTargetKL Number `json:"pretrained_target_kl"`
	ESS                Number `json:"pretrained_target_ess"`
	// Where the nominal reward is not the genuine one: E[y] under p* and
	// under the pre-trained model's target.
	Genuine                 *Number `json:"genuine,omitempty"`
	PretrainedTargetGenuine *Number `json:"pretrained_target_genuine,omitempty"`
}

// Summary is summary.json.
type Summary struct {
	Task    string                   `json:"task"`
	Alpha   float64                  `json:"alpha"`
	Reward  string                   `json:"reward"`
	BetaMax float64                  `json:"beta_max"`
	Methods map[string]MethodSummary `json:"methods"`
	Exact   Exact                    `json:"exact"`
}

// Hooks receive what a run reports while it works.
type Hooks struct {
	Log      func(Event)
	Progress func(phase string, done, total int)
	Notice   func(msg string)
}

func (h Hooks) notice(format string, args ...any) {
	if h.Notice != nil {
		h.Notice(fmt.Sprintf(format, args...))
	}
}

func (h Hooks) progress(phase string, done, total int) {
	if h.Progress != nil {
		h.Progress(phase, done, total)
	}
}

// GMM2DResult is the outcome of RunGMM2D: the summary and the samples of each
// method (rows of 2), including "pretrained" and "exact".
type GMM2DResult struct {
	Summary Summary
	Samples map[string][]float64
	Models  map[string]*FineTuned
}

// RunGMM2D pre-trains (or loads from the cache) a diffusion model of the gmm2d
// mixture, fine-tunes it with each method and evaluates them all on the same
// number of samples against the exact tilted target.
func RunGMM2D(b tensor.Backend, c GMM2DConfig, h Hooks) (*GMM2DResult, error) {
	data := tasks.GMM2D()
	reward, err := tasks.ParseReward(c.Reward, data.Dim())
	if err != nil {
		return nil, err
	}
	if err := c.VP.Validate(); err != nil {
		return nil, err
	}
	if !(c.Alpha > 0) {
		return nil, fmt.Errorf("alpha must be > 0, got %v", c.Alpha)
	}
	exact, err := data.Tilt(reward, c.Alpha)
	if err != nil {
		return nil, err
	}
	pre, err := loadOrPretrain(b, c, data, h)
	if err != nil {
		return nil, err
	}
	res := &GMM2DResult{Samples: map[string][]float64{}, Models: map[string]*FineTuned{}}
	sum := Summary{Task: "gmm2d", Alpha: c.Alpha, Reward: c.Reward, BetaMax: c.VP.BetaMax, Methods: map[string]MethodSummary{}}
	sum.Exact.Reward = Number(exact.MeanReward(reward))
	sum.Exact.KL = Number(exact.KL(reward, c.Alpha))
	exactSamples := exact.Sample(c.EvalSamples, c.Seed+7)
	res.Samples["exact"] = exactSamples

	// The pre-trained model, and its own tilted target by self-normalized weights.
	start := time.Now()
	h.notice("sampling the pre-trained model (%d samples)", max(c.TargetSamples, c.EvalSamples))
	preSamples := SamplePretrained(pre, b, max(c.TargetSamples, c.EvalSamples), &sde.Streams{Seed: c.Seed + 11})
	rs := rewardsOf(reward, preSamples, data.Dim())
	tr, tkl, ess, _ := SelfNormalizedTilt(rs, c.Alpha)
	sum.Exact.PretrainedTarget, sum.Exact.PretrainedTargetKL, sum.Exact.ESS = Number(tr), Number(tkl), Number(ess)
	evalPre := preSamples[:c.EvalSamples*data.Dim()]
	res.Samples["pretrained"] = evalPre
	ms := evaluateGMM2D(data, reward, evalPre, nil, exactSamples)
	ms.Seconds = Number(time.Since(start).Seconds())
	sum.Methods["pretrained"] = ms

	monitor := func(x []float64) map[string]Number {
		return map[string]Number{"off_support": Number(offSupportFraction(data, x))}
	}
	for _, m := range c.Methods {
		fc := c.FineTune
		fc.Alpha, fc.Method, fc.Seed = c.Alpha, m, c.Seed
		if m == NoKL && c.NoKLIters > 0 {
			fc.Iters = c.NoKLIters
		}
		h.notice("fine-tuning: %s", m)
		var passedAt, leftAt *int
		log := func(e Event) {
			if h.Log != nil {
				h.Log(e)
			}
			if e.Phase != "drift" {
				return
			}
			h.progress(string(m), e.Iter+1, fc.Iters)
			it := e.Iter
			if passedAt == nil && e.Reward.Finite() && e.Reward > sum.Exact.Reward {
				passedAt = &it
			}
			if leftAt == nil && e.Extra["off_support"] > 0.5 {
				leftAt = &it
			}
		}
		ft, err := FineTune(b, pre, reward, fc, log, monitor)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		x, klInit, klDrift := ft.Sample(b, c.EvalSamples, &sde.Streams{Seed: c.Seed + 13})
		kl := make([]float64, len(klInit))
		for i := range kl {
			kl[i] = klInit[i] + klDrift[i]
		}
		ms := evaluateGMM2D(data, reward, x, kl, exactSamples)
		ms.Seconds = Number(ft.Seconds)
		ms.PassedTargetAt, ms.LeftSupportAt = passedAt, leftAt
		if ft.DivergedAt >= 0 {
			at := ft.DivergedAt
			ms.DivergedAt = &at
			ms.note("diverged", fmt.Sprintf("the loss stopped being finite at iteration %d; evaluated with the last finite parameters", at))
		}
		sum.Methods[string(m)] = ms
		res.Samples[string(m)] = x
		res.Models[string(m)] = ft
	}
	res.Summary = sum
	return res, nil
}

func (m *MethodSummary) note(key, msg string) {
	if m.Notes == nil {
		m.Notes = map[string]string{}
	}
	m.Notes[key] = msg
}

func rewardsOf(r tasks.Reward, x []float64, d int) []float64 {
	out := make([]float64, len(x)/d)
	for i := range out {
		out[i] = r.At(x[i*d : (i+1)*d])
	}
	return out
}

func offSupportFraction(m tasks.Mixture, x []float64) float64 {
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

// evaluateGMM2D computes every metric of a method's samples x (rows of 2) with
// per-sample KL estimates kl (nil: zero, the pre-trained model).
func evaluateGMM2D(m tasks.Mixture, r tasks.Reward, x, kl, exact []float64) MethodSummary {
	d := m.Dim()
	var s MethodSummary
	rs := rewardsOf(r, x, d)
	s.RewardNominal = Number(Mean(rs))
	s.RewardGenuine = s.RewardNominal // gmm2d: the nominal reward is the genuine one
	if kl == nil {
		s.KL = 0
	} else {
		s.KL = Number(Mean(kl))
	}
	s.Diversity = Number(Diversity(x, d))
	s.EnergyDistance = new(Number(EnergyDistance(x, exact, d)))
	s.OffSupport = new(Number(offSupportFraction(m, x)))
	for name, v := range map[string]Number{"reward_nominal": s.RewardNominal, "kl": s.KL, "diversity": s.Diversity, "energy_distance": *s.EnergyDistance} {
		if !v.Finite() {
			s.note(name, "not finite: the samples overflowed float32 (the method diverged)")
		}
	}
	return s
}

// loadOrPretrain returns the pre-trained model from the cache when a
// checkpoint of the same configuration is there, and trains (and caches) it
// otherwise.
func loadOrPretrain(b tensor.Backend, c GMM2DConfig, data tasks.Mixture, h Hooks) (*Pretrained, error) {
	sampler := func(i, n int) *tensor.Tensor {
		return tensor.FromFloat64As(b, tensor.Float32, data.Sample(n, c.Pretrain.Seed<<32+uint64(i)), n, data.Dim())
	}
	eps, err := pretrainCached(b, "gmm2d", c.VP, data.Dim(), c.Pretrain, c.CacheDir, sampler, h)
	if err != nil {
		return nil, err
	}
	return &Pretrained{VP: c.VP, Steps: c.Steps, Dim: data.Dim(), Eps: eps}, nil
}
