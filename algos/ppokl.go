package algos

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

func init() {
	RegisterMethod(MethodSpec{Name: "ppokl",
		Doc: "PPO + KL (DDPO with a per-step KL penalty), no gradient through the rollout (ALGORITHMS.md §1)",
		New: func(r Recipe) Method { return &PPO{r.PPO} }})
}

// PPOOptions set PPO + KL (DDPO with a KL penalty, ALGORITHMS.md §1).
type PPOOptions struct {
	// Beta is the weight of the per-step KL penalty against the
	// standardized advantage; negative: the run's α over r̂'s spread, the
	// same trade-off as ELEGANT's at that α.
	Beta    float64
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

// PPO is PPO + KL: no gradient through the rollout; each Euler–Maruyama
// step is a Gaussian policy around the pre-trained step moved by u_φ·Δt,
// x₀ ~ N(0, I). Advantages are r̂(x_T) standardized over the batch and
// clamped.
type PPO struct{ PPOOptions }

// Fit implements Method. The advantage is r̂ standardized, so β·KL weighs
// against r̂/sd: the objective is E[r̂] − β·sd·KL, whose α is β·sd (sd:
// r̂'s spread on pre-trained samples); the control starts as the task's
// control at that α.
func (m *PPO) Fit(ctx *Context) (*Fitted, error) {
	c := m.PPOOptions
	sd := ctx.Spread
	if c.Beta < 0 {
		c.Beta = ctx.Alpha / sd
	}
	ft, err := fitPPO(ctx, c, c.Beta*sd)
	if err != nil {
		return nil, err
	}
	fit := ft.fitted()
	fit.Setting = fmt.Sprintf("β = %.4g against the standardized advantage (α = β·sd(r̂) = %.4g), ε = %g", c.Beta, c.Beta*sd, c.Clip)
	return fit, nil
}

// fitPPO trains the control by PPO + KL; controlAlpha is the α of the
// objective, which the task's control may start from.
func fitPPO(ctx *Context, c PPOOptions, controlAlpha float64) (*FineTuned, error) {
	if c.Iters < 0 || c.Batch < 2 || c.Epochs < 1 || c.Minibatch < 1 || !(c.Clip > 0) || !(c.Beta >= 0) || !(c.AdvClip > 0) || !(c.LR > 0) {
		return nil, fmt.Errorf("ppokl: need iters ≥ 0, batch ≥ 2, epochs and minibatch ≥ 1, clip, advantage clip and lr > 0 and beta ≥ 0, got %+v", c)
	}
	b, pre, reward := ctx.Backend, ctx.Pre, ctx.Task.Nominal()
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: ctx.Seed ^ 0x5eed}
	rng := &sde.Streams{Seed: ctx.Seed}
	shuffle := rand.New(rand.NewPCG(ctx.Seed, 0x990))
	ctrl, err := newControl(ctx, controlAlpha, init)
	if err != nil {
		return nil, err
	}
	ft := &FineTuned{Pre: pre, Init: sde.InitialLaw{Steps: 1}, Control: ctrl, DivergedAt: -1}
	params := nn.Vars(ctrl)
	defer nn.SetTrainable(ctrl, false)
	opt := nn.NewAdam(params, nn.ConstantLR(c.LR))
	grid := pre.Grid()
	n, steps := c.Batch, grid.Steps
	for it := range c.Iters {
		watch := ctx.Hooks.watch(ctx.Run, it)
		tr := sampleTrajectories(b, ft, n, rng, watch.tracer())
		var rv []float64
		autograd.NoGrad(func() { rv = reward.Eval(autograd.Const(tr.xT)).Value.Float64s() })
		ev := Event{Phase: "ppo", Iter: it, LR: c.LR, Reward: Number(Mean(rv)), KL: Number(Mean(tr.kl))}
		monitorBatch(ctx, &ev, tr.xT, watch)
		if !ev.Reward.Finite() {
			ft.DivergedAt = it
			ctx.Log(ev, c.Iters)
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
					ctx.Log(ev, c.Iters)
					return ft, nil
				}
				loss.Backward()
				g := nn.ClipGradNorm(params, c.ClipNorm)
				if !Number(g).Finite() {
					ft.DivergedAt = it
					nn.ZeroGrad(ctrl)
					ctx.Log(ev, c.Iters)
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
		ctx.Log(ev, c.Iters)
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
// draws from draw + k), so it is drawn again rather than stored. trace, if
// set, sees the states too.
func sampleTrajectories(b tensor.Backend, ft *FineTuned, n int, rng *sde.Streams, trace func(int, *autograd.Var)) trajectories {
	pre := ft.Pre
	grid, d := pre.Grid(), pre.Dim
	states := make([]*tensor.Tensor, grid.Steps)
	roll := ft.rollout(0)
	roll.Trace = func(k int, x *autograd.Var) {
		states[k] = x.Value
		if trace != nil {
			trace(k, x)
		}
	}
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
	mu, sd := Mean(v), Stddev(v)
	out := make([]float64, len(v))
	if !(sd > 0) {
		return out
	}
	for i, x := range v {
		out[i] = math.Max(-limit, math.Min(limit, (x-mu)/sd))
	}
	return out
}
