package algos

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// The baselines of ALGORITHMS.md §1 beyond NO KL.
const (
	Truncation Method = "truncation" // NO KL with gradients through the last K steps (DRaFT-K)
	Random     Method = "random"     // Truncation with K drawn uniformly per batch (AlignProp)
	Guidance   Method = "guidance"   // classifier guidance, inference only
	PPOKL      Method = "ppokl"      // DDPO-style PPO with a per-step KL penalty
)

// regularized reports whether a pathwise method pays α·KL in its loss.
func (m Method) regularized() bool { return m != NoKL && m != Truncation && m != Random }

// truncation returns the DetachBefore of each iteration of step 3: 0 (full
// backpropagation), steps − K for Truncation, and steps − K with K uniform in
// 1…steps, drawn per batch, for Random.
func truncation(c ElegantConfig, steps int) func() int {
	switch c.Method {
	case Truncation:
		k := min(c.TruncK, steps)
		return func() int { return steps - k }
	case Random:
		rng := rand.New(rand.NewPCG(c.Seed, 0x7a11))
		return func() int { return steps - (1 + rng.IntN(steps)) }
	}
	return func() int { return 0 }
}

// Sampler draws samples (rows of Pre.Dim) with their per-sample path-KL
// estimates against the pre-trained process: of the initial law and of the
// drift.
type Sampler interface {
	Sample(b tensor.Backend, n int, rng *sde.Streams) (x, klInit, klDrift []float64)
}

// GuidanceConfig sets classifier guidance (ALGORITHMS.md §1, Baselines): a
// regressor c(x_t, t) of r̂ on inputs noised by the forward process, and the
// sampling knobs w (Scale) and y_target (Target).
type GuidanceConfig struct {
	Scale, Target       float64
	Width, Iters, Batch int
	LR                  float64
}

// Guided samples the pre-trained SDE with the drift of classifier guidance.
type Guided struct {
	Pre *Pretrained
	// Classifier is c(x, s) [n, 1], frozen.
	Classifier    Net
	Scale, Target float64
	Seconds       float64
}

// Drift is the guidance term at diffusion time s for every row of x:
// σ²(t)·∇_x log p(y_target | x_t) = −w·σ²(t)·∇_x ½(y_target − c(x_t, s))²,
// with σ²(t) = β(s), per sample (not averaged over the batch). It needs
// recording on (it runs a backward pass of c).
func (g *Guided) Drift(x *tensor.Tensor, s float64) *tensor.Tensor {
	in := autograd.Param(x)
	c := g.Classifier.Forward(in, []float64{s})
	half := autograd.Scale(autograd.SumAll(autograd.Square(autograd.Shift(c, -g.Target))), 0.5)
	half.Backward()
	return tensor.Scale(in.Grad, -g.Scale*g.Pre.VP.Beta(s))
}

// Sample implements Sampler. The KL of the guided process is that of its
// extra drift g: Σ_k ‖g‖²/(2σ²)·Δt; the initial law is N(0, I).
func (g *Guided) Sample(b tensor.Backend, n int, rng *sde.Streams) (x, klInit, klDrift []float64) {
	grid := g.Pre.Grid()
	x = sampleChunks(n, func(m int) []float64 {
		kl := make([]float64, m)
		roll := g.Pre.rollout()
		roll.Guidance = func(x *autograd.Var, k int) *autograd.Var {
			s := grid.S(k)
			d := g.Drift(x.Value, s)
			sq := tensor.Sum(tensor.Square(d), 1, false).Float64s()
			for i, v := range sq {
				kl[i] += v * grid.Dt / (2 * g.Pre.VP.Beta(s))
			}
			return autograd.Const(d)
		}
		// Nothing here requires a gradient, so the rollout records nothing;
		// recording stays on for the guidance's own backward pass.
		x0 := tensor.RandNormal(b, tensor.Float32, rng.Seed, rng.Next(), m, g.Pre.Dim)
		res := roll.Run(autograd.Const(x0), rng.Seed, rng.Next())
		klDrift = append(klDrift, kl...)
		return res.X.Value.Float64s()
	})
	return x, make([]float64, len(klDrift)), klDrift
}

// FitGuidance trains the regressor c(x_s, s) of r̂(x₀) on batches x₀ of data
// noised by the forward process (s ~ U(s_min, 1) per row), least squares.
func FitGuidance(b tensor.Backend, pre *Pretrained, reward tasks.Reward, data DataSampler, c GuidanceConfig, seed uint64, log func(Event)) (*Guided, error) {
	if !(c.Scale >= 0) || c.Iters < 1 || c.Batch < 1 || c.Width < 1 {
		return nil, fmt.Errorf("guidance: need scale ≥ 0, iters, batch and width ≥ 1, got %+v", c)
	}
	start := time.Now()
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: seed ^ 0x9d1de}
	rng := &sde.Streams{Seed: seed ^ 0x9d1de}
	net := nn.NewTimeMLP(init, pre.Dim, 32, 1, tensor.ActSiLU, c.Width, c.Width)
	opt := nn.NewAdam(nn.Vars(net), nn.CosineLR(c.LR, c.LR/10, c.Iters, 0))
	for it := range c.Iters {
		x0 := data(it, c.Batch)
		var target *autograd.Var
		autograd.NoGrad(func() { target = reward.Eval(autograd.Const(x0)) })
		xs, _, s := pre.VP.Perturb(x0, rng.Seed, rng.Next())
		pred := autograd.Reshape(net.Forward(autograd.Const(xs), s), c.Batch)
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(pred, target)))
		l := loss.Value.Item()
		if !Number(l).Finite() {
			return nil, fmt.Errorf("guidance: regression loss is %v at iteration %d", l, it)
		}
		loss.Backward()
		opt.Step()
		if it%50 == 0 || it == c.Iters-1 {
			log(Event{Method: Guidance, Phase: "classifier", Iter: it, Loss: Number(l), LR: opt.LR(it)})
		}
	}
	nn.SetTrainable(net, false)
	return &Guided{Pre: pre, Classifier: net, Scale: c.Scale, Target: c.Target, Seconds: time.Since(start).Seconds()}, nil
}

// PPOConfig sets PPO + KL (DDPO with a KL penalty, ALGORITHMS.md §1).
type PPOConfig struct {
	Beta    float64 // weight of the per-step KL penalty
	Clip    float64 // ε of the clipped ratio
	AdvClip float64 // advantages are clamped to ±AdvClip
	// Each iteration samples Batch trajectories, then makes Epochs passes over
	// their steps in minibatches of Minibatch (trajectory, step) pairs.
	Iters, Batch, Epochs, Minibatch int
	LR                              float64
	ClipNorm                        float64 // gradient-norm clipping (0: none)
}

// ppoStepLoss is the per-step PPO + KL loss of ALGORITHMS.md §1 for a
// minibatch of steps: the policy's mean moves by δ·Δt, δ = u − u_old,
// against the step's noise e (x_{k+1} = μ_old + e, e ~ N(0, β·Δt·I)), so
//
//	log ρ = e·δ/β − Δt·‖δ‖²/(2β),  kl = ‖u‖²·Δt/(2β),
//	loss = mean over steps of max((−A + β_KL·kl)·ρ, (−A + β_KL·kl)·clip(ρ, 1 − ε, 1 + ε)).
//
// u [m, d] is the current control, uOld and e [m, d] constants, beta, adv
// [m] the step's β(s) and the trajectory's advantage. It also returns the
// fraction of clipped ratios.
func ppoStepLoss(u *autograd.Var, uOld, e *tensor.Tensor, beta, adv []float64, dt, klWeight, clip float64) (*autograd.Var, float64) {
	m := len(beta)
	b, dtype := u.Value.Backend(), u.Value.DType()
	invBeta := make([]float64, m)
	negAdv := make([]float64, m)
	for i := range m {
		invBeta[i] = 1 / beta[i]
		negAdv[i] = -adv[i]
	}
	ib := autograd.Const(tensor.FromFloat64As(b, dtype, invBeta, m))
	delta := autograd.Sub(u, autograd.Const(uOld))
	ed := autograd.Sum(autograd.Mul(autograd.Const(e), delta), 1, false)
	logRatio := autograd.Mul(autograd.Sub(ed, autograd.Scale(autograd.Sum(autograd.Square(delta), 1, false), dt/2)), ib)
	// log ρ is clamped to ±20 so that ρ stays finite (its gradient would be
	// 0·∞ otherwise); far beyond 1 ± ε such ratios are clipped anyway.
	ratio := autograd.Exp(autograd.Clamp(logRatio, -20, 20))
	kl := autograd.Mul(autograd.Scale(autograd.Sum(autograd.Square(u), 1, false), dt/2), ib)
	cost := autograd.Add(autograd.Const(tensor.FromFloat64As(b, dtype, negAdv, m)), autograd.Scale(kl, klWeight))
	plain := autograd.Mul(cost, ratio)
	clipped := autograd.Mul(cost, autograd.Clamp(ratio, 1-clip, 1+clip))
	pv, cv, rv := plain.Value.Float64s(), clipped.Value.Float64s(), ratio.Value.Float64s()
	pick := make([]float64, m)
	nclip := 0
	for i := range m {
		if pv[i] >= cv[i] {
			pick[i] = 1
		}
		if math.Abs(rv[i]-1) > clip {
			nclip++
		}
	}
	worst := autograd.Where(tensor.FromFloat64As(b, dtype, pick, m), plain, clipped)
	return autograd.MeanAll(worst), float64(nclip) / float64(m)
}

// FitPPO fine-tunes a control by PPO + KL: no gradient through the rollout;
// each Euler–Maruyama step is a Gaussian policy around the pre-trained step
// moved by u_φ·Δt, x₀ ~ N(0, I). Advantages are r̂(x_T) standardized over
// the batch and clamped.
func FitPPO(b tensor.Backend, pre *Pretrained, reward tasks.Reward, c PPOConfig, ec ElegantConfig, log func(Event), monitor Monitor) (*FineTuned, error) {
	if c.Iters < 0 || c.Batch < 2 || c.Epochs < 1 || c.Minibatch < 1 || !(c.Clip > 0) || !(c.Beta >= 0) || !(c.AdvClip > 0) {
		return nil, fmt.Errorf("ppokl: need iters ≥ 0, batch ≥ 2, epochs and minibatch ≥ 1, clip and advantage clip > 0 and beta ≥ 0, got %+v", c)
	}
	if log == nil {
		log = func(Event) {}
	}
	start := time.Now()
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: ec.Seed ^ 0x5eed}
	rng := &sde.Streams{Seed: ec.Seed}
	shuffle := rand.New(rand.NewPCG(ec.Seed, 0x990))
	ec.Method = PPOKL
	ctrl, err := newControl(pre, ec, init)
	if err != nil {
		return nil, err
	}
	ft := &FineTuned{Pre: pre, Init: sde.InitialLaw{Steps: 1}, Control: ctrl, DivergedAt: -1}
	params := nn.Vars(ctrl)
	defer func() {
		nn.SetTrainable(ctrl, false)
		ft.Seconds = time.Since(start).Seconds()
	}()
	opt := nn.NewAdam(params, nn.ConstantLR(c.LR))
	grid := pre.Grid()
	n, steps := c.Batch, grid.Steps
	for it := range c.Iters {
		tr := sampleTrajectories(b, ft, n, rng)
		var rv []float64
		autograd.NoGrad(func() { rv = reward.Eval(autograd.Const(tr.xT)).Value.Float64s() })
		ev := Event{Method: PPOKL, Phase: "ppo", Iter: it, LR: c.LR, Reward: Number(Mean(rv)), KL: Number(Mean(tr.kl))}
		if monitor != nil {
			ev.Extra = monitor(tr.xT.Float64s())
		}
		if !ev.Reward.Finite() {
			ft.DivergedAt = it
			log(ev)
			break
		}
		adv := standardize(rv, c.AdvClip)
		advs := make([]float64, 0, n*steps)
		for range steps {
			advs = append(advs, adv...)
		}
		var lossSum, clipSum, gradSum float64
		var updates int
		for range c.Epochs {
			perm := shuffle.Perm(n * steps)
			for lo := 0; lo < len(perm); lo += c.Minibatch {
				idx := perm[lo:min(lo+c.Minibatch, len(perm))]
				sel := func(v []float64) []float64 {
					out := make([]float64, len(idx))
					for j, r := range idx {
						out[j] = v[r]
					}
					return out
				}
				x := tensor.IndexSelect(tr.x, 0, idx)
				u := ctrl.Forward(autograd.Const(x), sel(tr.times))
				loss, frac := ppoStepLoss(u, tensor.IndexSelect(tr.u, 0, idx), tensor.IndexSelect(tr.e, 0, idx),
					sel(tr.betas), sel(advs), grid.Dt, c.Beta, c.Clip)
				l := loss.Value.Item()
				if !Number(l).Finite() {
					ft.DivergedAt = it
					log(ev)
					return ft, nil
				}
				loss.Backward()
				g := nn.ClipGradNorm(params, c.ClipNorm)
				if !Number(g).Finite() {
					ft.DivergedAt = it
					nn.ZeroGrad(ctrl)
					log(ev)
					return ft, nil
				}
				opt.Step()
				lossSum, clipSum, gradSum = lossSum+l, clipSum+frac, gradSum+g
				updates++
			}
		}
		ev.Loss, ev.GradNorm = Number(lossSum/float64(updates)), Number(gradSum/float64(updates))
		if ev.Extra == nil {
			ev.Extra = map[string]Number{}
		}
		ev.Extra["clip_fraction"] = Number(clipSum / float64(updates))
		log(ev)
	}
	return ft, nil
}

// trajectories is a batch of n rollouts of a policy, step by step: rows
// k·n + i of x, u and e hold the state x_k of trajectory i, its control
// u_old(x_k) and the noise of its step, e_k = x_{k+1} − μ_old(x_k); times
// and betas the step's s and β(s).
type trajectories struct {
	x, u, e      *tensor.Tensor
	times, betas []float64
	xT           *tensor.Tensor // the ends [n, d]
	kl           []float64      // path KL of each trajectory
}

// sampleTrajectories rolls out the fine-tuned sampler's control from
// N(0, I) without recording, keeping every state. The noise of step k is
// √(βΔt)·ξ with ξ the step's Philox draw (sde.Streams: step k of a rollout
// draws from draw + k), so it is drawn again rather than stored.
func sampleTrajectories(b tensor.Backend, ft *FineTuned, n int, rng *sde.Streams) trajectories {
	pre := ft.Pre
	grid, d := pre.Grid(), pre.Dim
	states := make([]*tensor.Tensor, grid.Steps)
	roll := ft.rollout(0)
	roll.Trace = func(k int, x *autograd.Var) { states[k] = x.Value }
	var tr trajectories
	autograd.NoGrad(func() {
		x0 := tensor.RandNormal(b, tensor.Float32, rng.Seed, rng.Next(), n, d)
		draw := rng.Next()
		res := roll.Run(autograd.Const(x0), rng.Seed, draw)
		tr.xT, tr.kl = res.X.Value, res.KL.Value.Float64s()
		us, es := make([]*tensor.Tensor, grid.Steps), make([]*tensor.Tensor, grid.Steps)
		for k := range grid.Steps {
			s := grid.S(k)
			us[k] = ft.Control.Forward(autograd.Const(states[k]), []float64{s}).Value
			xi := tensor.RandNormal(b, tensor.Float32, rng.Seed, draw+uint64(k), n, d)
			es[k] = tensor.Scale(xi, math.Sqrt(pre.VP.Beta(s)*grid.Dt))
			for range n {
				tr.times, tr.betas = append(tr.times, s), append(tr.betas, pre.VP.Beta(s))
			}
		}
		tr.x, tr.u, tr.e = tensor.Concat(0, states...), tensor.Concat(0, us...), tensor.Concat(0, es...)
	})
	return tr
}

// standardize returns (v − mean)/std clamped to ±limit (zeros when v is
// constant).
func standardize(v []float64, limit float64) []float64 {
	mu, sd := Mean(v), stddev(v)
	out := make([]float64, len(v))
	if !(sd > 0) {
		return out
	}
	for i, x := range v {
		out[i] = math.Max(-limit, math.Min(limit, (x-mu)/sd))
	}
	return out
}
