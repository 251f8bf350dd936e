package algos

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// BilevelOptions set the bilevel tuner of the entropy strength
// (ALGORITHMS.md §3): projected gradient descent on λ with the first-order
// penalty estimate of the hypergradient from pre-trained samples.
type BilevelOptions struct {
	// Samples is n, the pre-trained samples that estimate each step's
	// gradient; Pool ≥ Samples pre-trained samples are drawn once, and every
	// step takes n of them without replacement (Pool = Samples: the same n
	// at every step, a deterministic descent).
	Samples, Pool int
	// LambdaInit starts the descent; LambdaMin > 0 and LambdaMax bound it.
	LambdaInit, LambdaMin, LambdaMax float64
	// Gamma is the penalty constant γ > 0; LR the step size η; Steps the
	// number of steps.
	Gamma, LR float64
	Steps     int
	// EvalSamples samples of each lower-level sampler (guided SDE, ELEGANT)
	// evaluate it at λ_final.
	EvalSamples int
	// Upper and Lower are the specs of r₁ and r₂ of the method bilevel
	// (RewardParser): "" is the task's genuine reward for r₁ (its oracle's
	// values, uncounted) and its nominal r̂ for r₂, so that λ is the α at
	// which fine-tuning toward r̂ does best on the genuine reward.
	Upper string `json:",omitempty"`
	Lower string `json:",omitempty"`
}

// DefaultBilevelOptions are the seed's settings (cmd/bilevel-tune's flag
// defaults): 500 steps of n = 256 samples from a pool of 20000, λ from
// 0.01 in [10⁻³, 100], γ = 10³, η = 0.01, 2000 evaluation samples.
func DefaultBilevelOptions() BilevelOptions {
	return BilevelOptions{Samples: 256, Pool: 20000, LambdaInit: 0.01, LambdaMin: 1e-3, LambdaMax: 100, Gamma: 1e3, LR: 0.01, Steps: 500, EvalSamples: 2000}
}

func init() {
	RegisterMethod(MethodSpec{Name: "bilevel",
		Doc: "bilevel tuning of the entropy strength: λ by projected descent on the penalty estimate of the upper reward's hypergradient, then ELEGANT at α = λ_final (ALGORITHMS.md §3)",
		New: func(r Recipe) Method { return &Bilevel{Options: r.Bilevel, Recipe: r} }})
}

// Bilevel is the bilevel tuner as a method: it chooses its own α = λ_final
// (the run's α only labels it) and returns ELEGANT's sampler at it.
type Bilevel struct {
	Options BilevelOptions
	Recipe  Recipe
}

// Fit implements Method.
func (m *Bilevel) Fit(ctx *Context) (*Fitted, error) {
	o := m.Options
	if o.Samples == 0 && o.Steps == 0 { // a task without bilevel settings
		d := DefaultBilevelOptions()
		d.Upper, d.Lower = o.Upper, o.Lower
		o = d
	}
	var r1, r2 Reward = oracleReward{ctx.Task.Oracle()}, ctx.Task.Nominal()
	if o.Upper != "" || o.Lower != "" {
		upper, lower := o.Upper, o.Lower
		if upper == "" || lower == "" {
			return nil, errors.New("bilevel: give both the upper and the lower reward, or neither")
		}
		var err error
		if r1, r2, err = ParseBilevelRewards(ctx.Task, upper, lower); err != nil {
			return nil, err
		}
	}
	res, err := TuneBilevel(ctx.Env, ctx.Task, ctx.Pre, o, r1, r2, &m.Recipe, ctx.Seed)
	if err != nil {
		return nil, err
	}
	fit := res.Fit
	fit.Setting = fmt.Sprintf("λ_final = %.4g after %d steps (r₁ %s, r₂ %s); guided SDE at λ_final: E[r₁] %.4g, E[r₂] %.4g, KL %.4g",
		res.LambdaFinal, o.Steps, r1, r2, float64(res.Guided.MeanUpper), float64(res.Guided.MeanLower), float64(res.Guided.KL))
	return fit, nil
}

// oracleReward is a task's genuine reward as a reward of values only
// (uncounted: the bilevel tuner's default r₁).
type oracleReward struct{ o *Oracle }

// ValuesOnly implements ValuesOnly.
func (oracleReward) ValuesOnly() {}

// Eval panics: the genuine reward is only evaluated.
func (oracleReward) Eval(*autograd.Var) *autograd.Var {
	panic("algos: the genuine reward is not differentiable")
}

// Values implements Reward.
func (r oracleReward) Values(x []float64) []float64 { return r.o.Score(x) }

func (r oracleReward) String() string { return r.o.String() }

// Validate reports options that cannot run.
func (o BilevelOptions) Validate() error {
	switch {
	case o.Samples < 2:
		return fmt.Errorf("bilevel: need ≥ 2 samples per step, got %d", o.Samples)
	case o.Pool < o.Samples:
		return fmt.Errorf("bilevel: the pool (%d) must hold at least the %d samples of a step", o.Pool, o.Samples)
	case !finitePositive(o.LambdaMin) || !finitePositive(o.LambdaMax) || o.LambdaMin > o.LambdaMax:
		return fmt.Errorf("bilevel: need finite 0 < λ_min ≤ λ_max, got %v and %v", o.LambdaMin, o.LambdaMax)
	case !(o.LambdaInit >= o.LambdaMin && o.LambdaInit <= o.LambdaMax):
		return fmt.Errorf("bilevel: λ_init = %v is outside [%v, %v]", o.LambdaInit, o.LambdaMin, o.LambdaMax)
	case !finitePositive(o.Gamma):
		return fmt.Errorf("bilevel: γ must be a finite number > 0, got %v", o.Gamma)
	case !finitePositive(o.LR):
		return fmt.Errorf("bilevel: the step size must be a finite number > 0, got %v", o.LR)
	case o.Steps < 0:
		return fmt.Errorf("bilevel: steps must be ≥ 0, got %d", o.Steps)
	case o.EvalSamples < 2:
		return fmt.Errorf("bilevel: need ≥ 2 evaluation samples, got %d", o.EvalSamples)
	}
	return nil
}

// RewardParser is a task that reads reward specs other than its own
// nominal reward: the upper reward r₁ and the lower reward r₂ of the
// bilevel tuner. ParseReward may be called before Setup (to check flags
// before any work); the reward it returns is evaluated only after.
type RewardParser interface {
	ParseReward(spec string) (Reward, error)
}

// ValuesOnly is a reward known only by its values (a table such as
// tfbind8's y): the tuner's upper reward r₁ may be one, since the estimator
// only evaluates it, but not the lower reward r₂, which the guided SDE and
// ELEGANT differentiate. Its Eval panics.
type ValuesOnly interface {
	Reward
	ValuesOnly()
}

// ExactTilter is a task that knows p*(λ) ∝ exp(r₂/λ)·p_data in closed form
// for some pairs of its rewards (gmm2d: those of its grammar).
type ExactTilter interface {
	// ExactTilt returns E_{p*}[r₁], E_{p*}[r₂] and KL(p* ‖ p_data); ok is
	// false where the pair is not covered.
	ExactTilt(upper, lower Reward, lambda float64) (meanUpper, meanLower, kl float64, ok bool)
}

// PenaltyEstimate is the penalty estimator of ALGORITHMS.md §3 at one λ,
// from rewards r₁, r₂ of n pre-trained samples.
type PenaltyEstimate struct {
	// Grad is γ·[KL(p_γ ‖ p_data) − KL(p* ‖ p_data)].
	Grad float64
	// Hypergrad is Cov_w(r₁, r₂)/λ² under the weights of p*: the limit of
	// Grad as γ → ∞ on the same samples.
	Hypergrad float64
	// F is f(λ) = −E_{p*}[r₁]; MeanLower is E_{p*}[r₂].
	F, MeanLower float64
	// KL is KL(p* ‖ p_data), KLGamma KL(p_γ ‖ p_data).
	KL, KLGamma float64
	// ESS is the effective sample size 1/Σw² of p*'s weights.
	ESS float64
}

// EstimatePenalty computes the first-order penalty estimate of
// ALGORITHMS.md §3 at λ from r₁ and r₂ on n samples of p_data:
//
//	∇̂ = γ·[KL(p_γ ‖ p_data) − KL(p* ‖ p_data)],  h_γ = r₂ + r₁/γ,
//	KL(p_h ‖ p_data) = Σ w_i h_i/λ − (logsumexp(h/λ) − log n),  w = softmax(h/λ),
//
// with p* the tilt by h = r₂. Everything is in log space: exp(h/λ) is
// never formed. It panics on slices of different lengths or fewer than one
// sample (a programmer's error); λ and γ must be > 0.
func EstimatePenalty(r1, r2 []float64, lambda, gamma float64) PenaltyEstimate {
	if len(r1) != len(r2) || len(r1) == 0 {
		panic(fmt.Sprintf("algos: penalty estimate of %d and %d rewards", len(r1), len(r2)))
	}
	if !(lambda > 0) || !(gamma > 0) {
		panic(fmt.Sprintf("algos: penalty estimate at λ = %v, γ = %v", lambda, gamma))
	}
	star := tiltKL(r2, nil, 0, lambda)
	pg := tiltKL(r2, r1, 1/gamma, lambda)
	e := PenaltyEstimate{Grad: gamma * (pg.kl - star.kl), KL: star.kl, KLGamma: pg.kl}
	var m1, m2, sq float64
	for i, w := range star.w {
		m1 += w * r1[i]
		m2 += w * r2[i]
		sq += w * w
	}
	var cov float64
	for i, w := range star.w {
		cov += w * (r1[i] - m1) * (r2[i] - m2)
	}
	e.Hypergrad = cov / (lambda * lambda)
	e.F, e.MeanLower, e.ESS = -m1, m2, 1/sq
	return e
}

type tilt struct {
	w  []float64
	kl float64
}

// tiltKL is the self-normalized tilt by h = a + c·b (b nil: h = a) at λ:
// its weights and KL(p_h ‖ p) = Σ w·h/λ − (logsumexp(h/λ) − log n).
func tiltKL(a, b []float64, c, lambda float64) tilt {
	n := len(a)
	logw := make([]float64, n)
	for i, v := range a {
		if b != nil {
			v += c * b[i]
		}
		logw[i] = v / lambda
	}
	var t tilt
	var lz, eh float64
	t.w, lz = softmaxLog(logw)
	for i, l := range logw {
		if t.w[i] > 0 {
			eh += t.w[i] * l
		}
	}
	t.kl = eh - (lz - math.Log(float64(n)))
	return t
}

// ProjectLambda is the projection of λ onto [lo, hi]; a λ that is not a
// number (a non-finite step) projects onto lo. It panics unless
// 0 < lo ≤ hi.
func ProjectLambda(lambda, lo, hi float64) float64 {
	if !(lo > 0 && lo <= hi) {
		panic(fmt.Sprintf("algos: projection onto [%v, %v]", lo, hi))
	}
	if math.IsNaN(lambda) {
		return lo
	}
	return math.Min(hi, math.Max(lo, lambda))
}

// BilevelStep is one step of the descent on λ, as logged.
type BilevelStep struct {
	Step int `json:"step"`
	// Lambda is λ at this step, Next after the projected update.
	Lambda Number `json:"lambda"`
	Next   Number `json:"lambda_next"`
	// Grad is the penalty estimate of the step, Hypergrad its γ → ∞ limit
	// on the same samples (Cov_w(r₁, r₂)/λ²).
	Grad      Number `json:"grad"`
	Hypergrad Number `json:"hypergrad"`
	// F is f(λ) = −E_{p*(λ)}[r₁] and KL the KL(p*(λ) ‖ p_data), both by the
	// weights of the step's samples; ESS their effective sample size.
	F   Number `json:"f"`
	KL  Number `json:"kl"`
	ESS Number `json:"ess"`
	// Note says why a step kept λ (a gradient that was not finite).
	Note string `json:"note,omitempty"`
}

// DescendLambda runs projected gradient descent on λ,
// λ ← clip(λ − η·∇̂, λ_min, λ_max), with ∇̂ the penalty estimate on n of the
// pool's samples per step (drawn without replacement by a stream of
// (seed, step); all of them when the pool holds n), from rewards r₁, r₂ of
// the pool of pre-trained samples. A step whose estimate is not finite keeps
// λ and says so. It returns every step and λ_final.
func DescendLambda(r1, r2 []float64, o BilevelOptions, seed uint64) ([]BilevelStep, float64) {
	if len(r1) != len(r2) || len(r1) < o.Samples {
		panic(fmt.Sprintf("algos: descent on pools of %d and %d rewards for %d samples per step", len(r1), len(r2), o.Samples))
	}
	lambda := ProjectLambda(o.LambdaInit, o.LambdaMin, o.LambdaMax)
	n := o.Samples
	s1, s2 := make([]float64, n), make([]float64, n)
	idx := make([]int, len(r1))
	steps := make([]BilevelStep, 0, o.Steps)
	for k := range o.Steps {
		if n == len(r1) {
			copy(s1, r1)
			copy(s2, r2)
		} else {
			// A partial Fisher–Yates shuffle of the pool: its first n.
			rng := rand.New(rand.NewPCG(seed, uint64(k)))
			for i := range idx {
				idx[i] = i
			}
			for i := range n {
				j := i + rng.IntN(len(idx)-i)
				idx[i], idx[j] = idx[j], idx[i]
				s1[i], s2[i] = r1[idx[i]], r2[idx[i]]
			}
		}
		e := EstimatePenalty(s1, s2, lambda, o.Gamma)
		st := BilevelStep{Step: k, Lambda: Number(lambda), Grad: Number(e.Grad), Hypergrad: Number(e.Hypergrad),
			F: Number(e.F), KL: Number(e.KL), ESS: Number(e.ESS)}
		next := lambda
		if Number(e.Grad).Finite() {
			next = ProjectLambda(lambda-o.LR*e.Grad, o.LambdaMin, o.LambdaMax)
		} else {
			st.Note = "the gradient estimate is not finite: λ kept"
		}
		st.Next = Number(next)
		steps = append(steps, st)
		lambda = next
	}
	return steps, lambda
}

// RewardGuided samples the pre-trained SDE with the reward-guidance drift
// of the bilevel tuner's lower level (ALGORITHMS.md §3):
// σ²(t)·∇_x r(x̂₀(x_t))/λ, with x̂₀ the denoised estimate of sde.VP.Denoise
// and the gradient by autograd. Inference only: nothing is trained.
type RewardGuided struct {
	Pre    *Pretrained
	Reward Reward
	Lambda float64
}

// Drift is the guidance term at diffusion time s for every row of x:
// β(s)/λ·∇_x r(x̂₀(x, s)), per sample (autograd.InputGrad records its own
// backward pass, even inside a NoGrad scope).
func (g *RewardGuided) Drift(x *tensor.Tensor, s float64) *tensor.Tensor {
	vp, eps := g.Pre.VP, g.Pre.Eps
	grad := autograd.InputGrad(func(in *autograd.Var) *autograd.Var {
		return g.Reward.Eval(vp.Denoise(eps, in, s))
	}, x)
	return tensor.Scale(grad, vp.Beta(s)/g.Lambda)
}

// Sample implements Sampler: the pre-trained SDE with the guided drift.
func (g *RewardGuided) Sample(b tensor.Backend, n int, rng *sde.Streams) (x, klInit, klDrift []float64) {
	return g.Pre.sampleGuided(b, n, rng, g.Drift)
}

// lowerTask is a task whose nominal reward is the bilevel tuner's r₂, for
// ELEGANT at α = λ_final. Its control is the task's own when r₂ is the
// task's nominal reward (a task's control may be built around it), and
// otherwise the default shaped like ε_θ, or, for an ε_θ that is not an MLP,
// a TimeMLP of two hidden layers of width 128 with a zero last layer.
type lowerTask struct {
	Task
	lower Reward
	pre   *Pretrained
}

func (t lowerTask) Nominal() Reward { return t.lower }

func (t lowerTask) NewControl(alpha float64) func(*nn.Init, int) Net {
	if nom := t.Task.Nominal(); nom != nil && nom.String() == t.lower.String() {
		return t.Task.NewControl(alpha)
	}
	if _, ok := t.pre.Eps.(*nn.TimeMLP); ok {
		return nil
	}
	return func(init *nn.Init, dim int) Net {
		ctrl := nn.NewTimeMLP(init, dim, 16, dim, tensor.ActSiLU, 128, 128)
		ctrl.Net.ZeroLastLayer()
		return ctrl
	}
}

// SamplerResult is how one sampler of the bilevel tuner's lower level did
// at λ_final.
type SamplerResult struct {
	// MeanUpper and MeanLower are E[r₁] and E[r₂] of its samples; KL its
	// mean path-KL estimate against the pre-trained process.
	MeanUpper Number `json:"mean_upper"`
	MeanLower Number `json:"mean_lower"`
	KL        Number `json:"kl"`
	// EnergyDistance is to exact samples of p*(λ_final), where the task
	// draws them (absent otherwise; null if not finite).
	EnergyDistance *Number `json:"energy_distance,omitempty"`
	Seconds        Number  `json:"seconds"`
	// Note says what went wrong (a diverged fit, non-finite values).
	Note string `json:"note,omitempty"`
}

// BilevelResult is the outcome of the bilevel tuner.
type BilevelResult struct {
	Trace       []BilevelStep
	LambdaFinal float64
	// Final is the estimate at λ_final on the whole pool (f, KL, ESS).
	Final PenaltyEstimate
	// Pretrained, Guided and Elegant are evaluated on their samples
	// (Elegant nil when it was not run).
	Pretrained, Guided SamplerResult
	Elegant            *SamplerResult
	// Fit is ELEGANT's fit at λ_final (nil when it was not run).
	Fit *Fitted
	// Samples holds the evaluation samples of "pretrained", "guided" and
	// "elegant" (rows of Dim).
	Samples map[string][]float64
	Dim     int
}

// TiltSampler is a task that draws exact samples of p*(λ) ∝
// exp(r₂/λ)·p_data for rewards of its own grammar (ok false for others).
type TiltSampler interface {
	ExactTiltSamples(lower Reward, lambda float64, n int, seed uint64) ([]float64, bool)
}

// errNoParser is returned for a task without reward specs.
var errNoParser = errors.New("the task reads no reward specs (algos.RewardParser)")

// ParseBilevelRewards reads the upper and lower reward specs of a task; the
// lower one must be differentiable (not ValuesOnly).
func ParseBilevelRewards(task Task, upper, lower string) (r1, r2 Reward, err error) {
	p, ok := task.(RewardParser)
	if !ok {
		return nil, nil, fmt.Errorf("%s: %w", task.Name(), errNoParser)
	}
	if r1, err = p.ParseReward(upper); err != nil {
		return nil, nil, fmt.Errorf("upper reward: %w", err)
	}
	if r2, err = p.ParseReward(lower); err != nil {
		return nil, nil, fmt.Errorf("lower reward: %w", err)
	}
	if _, ok := r2.(ValuesOnly); ok {
		return nil, nil, fmt.Errorf("lower reward %q is not differentiable: it can only be the upper reward", lower)
	}
	return r1, r2, nil
}

// TuneBilevel runs the bilevel tuner on a set-up task and its pre-trained
// model (ALGORITHMS.md §3): it draws the pool of pre-trained samples,
// descends on λ, and samples the lower level at λ_final by the guided
// backward SDE and, with a recipe, by ELEGANT at α = λ_final toward r₂
// (the registered elegant method, nil recipe: skipped). The noise of every
// part is seeded by seed.
func TuneBilevel(env Env, task Task, pre *Pretrained, o BilevelOptions, upper, lower Reward, recipe *Recipe, seed uint64) (*BilevelResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b, d := env.Backend, pre.Dim
	res := &BilevelResult{Samples: map[string][]float64{}, Dim: d}
	env.Hooks.Noticef("sampling the pre-trained model (%d samples)", o.Pool)
	start := time.Now()
	pool := pre.Sample(b, o.Pool, &sde.Streams{Seed: seed + 11})
	r1, r2 := upper.Values(pool), lower.Values(pool)
	for i := range r1 {
		if !Number(r1[i]).Finite() || !Number(r2[i]).Finite() {
			return nil, fmt.Errorf("bilevel: the rewards of pre-trained sample %d are %v and %v (not finite)", i, r1[i], r2[i])
		}
	}
	evalPre := pool[:min(o.EvalSamples, o.Pool)*d]
	res.Samples["pretrained"] = evalPre
	if env.Hooks.Pretrained != nil {
		env.Hooks.Pretrained(evalPre)
	}
	res.Pretrained = evaluateSampler(upper, lower, evalPre, nil, time.Since(start))
	env.Hooks.Noticef("descending on λ: %d steps of %d samples from λ = %g", o.Steps, o.Samples, o.LambdaInit)
	res.Trace, res.LambdaFinal = DescendLambda(r1, r2, o, seed)
	for _, st := range res.Trace {
		env.Hooks.Emit(Event{Method: "bilevel", Phase: "lambda", Iter: st.Step, Loss: st.F, KL: st.KL,
			Extra: map[string]Number{"lambda": st.Lambda, "grad": st.Grad, "hypergrad": st.Hypergrad, "ess": st.ESS}})
		env.Hooks.Tick("bilevel λ", st.Step+1, o.Steps)
	}
	lf := res.LambdaFinal
	res.Final = EstimatePenalty(r1, r2, lf, o.Gamma)
	exact := func(x []float64) *Number { return nil }
	if ts, ok := task.(TiltSampler); ok {
		if ex, ok := ts.ExactTiltSamples(lower, lf, o.EvalSamples, seed+7); ok {
			exact = func(x []float64) *Number { return new(Number(EnergyDistance(x, ex, d))) }
		}
	}

	env.Hooks.Noticef("sampling the guided SDE at λ = %.4g (%d samples)", lf, o.EvalSamples)
	start = time.Now()
	g := &RewardGuided{Pre: pre, Reward: lower, Lambda: lf}
	x, _, kl := g.Sample(b, o.EvalSamples, &sde.Streams{Seed: seed + 13})
	res.Guided = evaluateSampler(upper, lower, x, kl, time.Since(start))
	res.Guided.EnergyDistance = exact(x)
	res.Samples["guided"] = x

	if recipe == nil {
		return res, nil
	}
	spec, err := LookupMethod("elegant")
	if err != nil {
		return nil, err
	}
	env.Hooks.Noticef("fine-tuning ELEGANT at α = λ = %.4g toward r₂", lf)
	env.Hooks.Aim(lower, lf)
	start = time.Now()
	lt := lowerTask{Task: task, lower: lower, pre: pre}
	tr, tkl, _, _ := SelfNormalizedTilt(r2, lf)
	ctx := &Context{Env: env, Task: lt, Pre: pre, Run: "elegant", Method: "elegant", Alpha: lf,
		Target: Exact{Reward: Number(tr), KL: Number(tkl), PretrainedTarget: Number(tr), PretrainedTargetKL: Number(tkl)},
		Spread: Stddev(r2), Seed: seed, start: start}
	fit, err := spec.New(*recipe).Fit(ctx)
	if err != nil {
		return nil, fmt.Errorf("ELEGANT at λ_final = %g: %w", lf, err)
	}
	x, klInit, klDrift := fit.Sampler.Sample(b, o.EvalSamples, &sde.Streams{Seed: seed + 17})
	kl = make([]float64, len(klInit))
	for i := range kl {
		kl[i] = klInit[i] + klDrift[i]
	}
	el := evaluateSampler(upper, lower, x, kl, time.Since(start))
	el.EnergyDistance = exact(x)
	if fit.DivergedAt >= 0 {
		el.Note = fmt.Sprintf("the loss stopped being finite at iteration %d; sampled with the last finite parameters", fit.DivergedAt)
	}
	res.Elegant, res.Samples["elegant"], res.Fit = &el, x, fit
	return res, nil
}

// evaluateSampler is E[r₁], E[r₂] and the mean KL of samples x (kl nil:
// the pre-trained model, KL 0).
func evaluateSampler(upper, lower Reward, x, kl []float64, took time.Duration) SamplerResult {
	s := SamplerResult{MeanUpper: Number(Mean(upper.Values(x))), MeanLower: Number(Mean(lower.Values(x))), Seconds: Number(took.Seconds())}
	if kl != nil {
		s.KL = Number(Mean(kl))
	}
	if !s.MeanUpper.Finite() || !s.MeanLower.Finite() || !s.KL.Finite() {
		s.Note = "not finite: the samples overflowed float32 (the sampler diverged)"
	}
	return s
}

// ExactLambdaStar is λ* = argmin f(λ) = −E_{p*(λ)}[r₁] over [lo, hi] for a
// task that knows p*(λ) in closed form: a scan of 200 points in log λ, then
// golden-section search around the best. ok is false where the task does
// not cover the pair. Where f has several local minima it returns the scan's
// best basin's.
func ExactLambdaStar(et ExactTilter, upper, lower Reward, lo, hi float64) (lambda, f float64, ok bool) {
	fAt := func(ll float64) float64 {
		mu, _, _, ok1 := et.ExactTilt(upper, lower, math.Exp(ll))
		if !ok1 || math.IsNaN(mu) {
			ok = false
			return math.Inf(1)
		}
		return -mu
	}
	ok = true
	a, b := math.Log(lo), math.Log(hi)
	const scan = 200
	best, bf := a, math.Inf(1)
	for i := 0; i <= scan; i++ {
		x := a + (b-a)*float64(i)/scan
		if v := fAt(x); v < bf {
			best, bf = x, v
		}
	}
	if !ok {
		return 0, 0, false
	}
	d := (b - a) / scan
	l, r := math.Max(a, best-d), math.Min(b, best+d)
	g := (math.Sqrt(5) - 1) / 2
	for range 80 {
		c, e := r-g*(r-l), l+g*(r-l)
		if fAt(c) < fAt(e) {
			r = e
		} else {
			l = c
		}
	}
	x := (l + r) / 2
	return math.Exp(x), fAt(x), ok
}
