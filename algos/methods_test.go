package algos

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// stubTask is the part of a Task that a pathwise fit of the default control
// uses: no control of its own, a reward and no monitors. Any other method
// panics (the embedded interface is nil).
type stubTask struct {
	Task
	reward Reward
}

func (s stubTask) NewControl(float64) func(*nn.Init, int) Net { return nil }
func (s stubTask) Nominal() Reward                            { return s.reward }
func (s stubTask) Monitor([]float64) map[string]Number        { return nil }

// sumReward is r̂(x) = x₁ + x₂.
type sumReward struct{}

func (sumReward) Eval(x *autograd.Var) *autograd.Var { return autograd.Sum(x, 1, false) }
func (sumReward) Values(x []float64) []float64 {
	out := make([]float64, len(x)/2)
	for i := range out {
		out[i] = x[2*i] + x[2*i+1]
	}
	return out
}
func (sumReward) String() string { return "sum" }

// TestTruncationSchedule checks the last-K choice of each method.
func TestTruncationSchedule(t *testing.T) {
	trunc := &Unregularized{Truncated: true, LastK: 10}
	if d := trunc.schedule(3, 50)(); d != 40 {
		t.Errorf("truncation K = 10 of 50: detach before %d", d)
	}
	// ELEGANT (and NO KL) backpropagate through every step.
	if d := fullBackprop(); d != 0 {
		t.Errorf("ELEGANT detaches before %d", d)
	}
	if d := (&Unregularized{}).schedule(3, 50)(); d != 0 {
		t.Errorf("NO KL detaches before %d", d)
	}
	next := (&Unregularized{RandomK: true}).schedule(3, 50)
	seen := map[int]bool{}
	for range 2000 {
		d := next()
		if d < 0 || d > 49 {
			t.Fatalf("random K gives detach before %d", d)
		}
		seen[d] = true
	}
	if len(seen) != 50 {
		t.Errorf("random K took %d of the 50 values", len(seen))
	}

	b := tensor.CPU() // sampling is float32
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 2}
	eps := nn.NewTimeMLP(init, 2, 8, 2, tensor.ActSiLU, 16)
	nn.SetTrainable(eps, false)
	pre := &Pretrained{VP: sde.DefaultVP, Steps: 5, Dim: 2, Eps: eps}
	drift := DriftOptions{Iters: 1, Batch: 4, LR: 1e-3}
	// Truncation with K = 0 (or K beyond the steps) is refused before any
	// work: the context has no task, which any work would need.
	for _, k := range []int{0, -1, 6} {
		ctx := &Context{Env: Env{Backend: b}, Pre: pre, Run: "truncation", Method: "truncation", Seed: 1}
		if _, err := (&Unregularized{Drift: drift, Truncated: true, LastK: k}).Fit(ctx); err == nil {
			t.Errorf("truncation with K = %d accepted", k)
		}
	}
	spec, err := LookupMethod("truncation")
	if err != nil {
		t.Fatal(err)
	}
	ctx := &Context{Env: Env{Backend: b}, Pre: pre, Run: "truncation", Method: "truncation", Seed: 1}
	if _, err := spec.New(Recipe{Drift: drift}).Fit(ctx); err == nil {
		t.Error("the registered truncation with TruncK = 0 accepted")
	}
	// Random needs no α: it fits at α = 0.
	spec, err = LookupMethod("random")
	if err != nil {
		t.Fatal(err)
	}
	ctx = &Context{Env: Env{Backend: b}, Task: stubTask{reward: sumReward{}}, Pre: pre, Run: "random", Method: "random", Seed: 1}
	fit, err := spec.New(Recipe{Drift: drift}).Fit(ctx)
	if err != nil {
		t.Errorf("random at α = 0: %v", err)
	} else if fit.Sampler == nil || fit.DivergedAt != -1 {
		t.Errorf("random at α = 0: sampler %v, diverged at %d", fit.Sampler, fit.DivergedAt)
	}
}

// TestPPOStepLoss checks the pieces of the PPO + KL loss: the ratio against
// Gaussian log densities, the KL term, and the clipping.
func TestPPOStepLoss(t *testing.T) {
	b := tensor.CPUReference()
	const m, d, dt = 5, 3, 0.02
	rng := rand.New(rand.NewPCG(1, 2))
	randT := func(scale float64) *tensor.Tensor {
		v := make([]float64, m*d)
		for i := range v {
			v[i] = scale * rng.NormFloat64()
		}
		return tensor.FromFloat64(b, v, m, d)
	}
	beta := []float64{0.1, 1, 5, 10, 20}
	uOld, e := randT(1), randT(0.1)
	u := autograd.Param(tensor.Add(uOld, randT(0.3)))
	// Ratio: π_φ/π_old of x_{k+1} = μ_old + e, both Gaussians of variance βΔt.
	uv, uo, ev := u.Value.Float64s(), uOld.Float64s(), e.Float64s()
	var wantMean float64
	for i := range m {
		var lp, lo float64
		for j := range d {
			// x − μ_φ = e − (u − u_old)Δt
			r := ev[i*d+j] - (uv[i*d+j]-uo[i*d+j])*dt
			lp += -r * r / (2 * beta[i] * dt)
			lo += -ev[i*d+j] * ev[i*d+j] / (2 * beta[i] * dt)
		}
		wantMean += math.Exp(lp-lo) / m
	}
	// With A = −1 and no KL, the loss is mean(max(ρ, clip(ρ))) = mean(ρ) for a
	// wide clip.
	negOne := []float64{-1, -1, -1, -1, -1}
	loss, frac := ppoStepLoss(u, uOld, e, beta, negOne, dt, 0, 100)
	if got := loss.Value.Item(); math.Abs(got-wantMean) > 1e-12*wantMean || frac != 0 {
		t.Errorf("mean ratio %v (clipped %v), want %v", got, frac, wantMean)
	}
	// At u = u_old: ρ = 1, the loss is mean(−A + β_KL·‖u‖²Δt/(2β)) and its
	// gradient is β_KL·u·Δt/(β·m) (the ratio's gradient is −A·∂ρ/∂u, with
	// ∂ log ρ/∂u = e/β).
	adv := []float64{1, -0.5, 2, 0, -1}
	u0 := autograd.Param(uOld.Clone())
	loss, _ = ppoStepLoss(u0, uOld, e, beta, adv, dt, 0.7, 0.2)
	var want float64
	for i := range m {
		var sq float64
		for j := range d {
			sq += uo[i*d+j] * uo[i*d+j]
		}
		want += (-adv[i] + 0.7*sq*dt/(2*beta[i])) / m
	}
	if got := loss.Value.Item(); math.Abs(got-want) > 1e-12 {
		t.Errorf("loss at ρ = 1: %v, want %v", got, want)
	}
	loss.Backward()
	g := u0.Grad.Float64s()
	for i := range m {
		cost := -adv[i]
		for j := range d {
			sq := 0.0
			for jj := range d {
				sq += uo[i*d+jj] * uo[i*d+jj]
			}
			w := (cost + 0.7*sq*dt/(2*beta[i])) * ev[i*d+j] / beta[i]
			w += 0.7 * uo[i*d+j] * dt / beta[i]
			if math.Abs(g[i*d+j]-w/m) > 1e-12 {
				t.Fatalf("gradient at row %d, %d: %v, want %v", i, j, g[i*d+j], w/m)
			}
		}
	}
	// Clipping: a positive advantage and ratios above 1 + ε give the clipped
	// value −A·(1 + ε) and no gradient; ratios below 1 − ε keep −A·ρ, with a
	// gradient. With δ = c·e, log ρ = (c − Δt·c²/2)·‖e‖²/β.
	one := []float64{1, 1, 1, 1, 1}
	e10 := tensor.Scale(e, 10)
	big := autograd.Param(tensor.Add(uOld, tensor.Scale(e10, 50)))
	loss, frac = ppoStepLoss(big, uOld, e10, beta, one, dt, 0, 0.2)
	if got := loss.Value.Item(); math.Abs(got+1.2) > 1e-12 || frac != 1 {
		t.Errorf("large ratios: loss %v (want −1.2), clipped %v", got, frac)
	}
	loss.Backward()
	for _, v := range big.Grad.Float64s() {
		if v != 0 {
			t.Fatal("a clipped ratio passed a gradient")
		}
	}
	smallU := tensor.Add(uOld, tensor.Scale(e10, -50))
	meanRatio, _ := ppoStepLoss(autograd.Const(smallU), uOld, e10, beta, negOne, dt, 0, 100)
	small := autograd.Param(smallU)
	loss, frac = ppoStepLoss(small, uOld, e10, beta, one, dt, 0, 0.2)
	if got, want := loss.Value.Item(), -meanRatio.Value.Item(); math.Abs(got-want) > 1e-12 || !(want < 0 && want > -0.8) || frac != 1 {
		t.Errorf("small ratios: loss %v, want −mean(ρ) = %v in (−0.8, 0); clipped %v", got, want, frac)
	}
	loss.Backward()
	var gsum float64
	for _, v := range small.Grad.Float64s() {
		gsum += math.Abs(v)
	}
	if gsum == 0 {
		t.Error("an unclipped ratio passed no gradient")
	}
}

// linearNet is c(x) = w·x (any time), a regressor for the guidance tests.
type linearNet struct{ w *tensor.Tensor }

func (l linearNet) Forward(x *autograd.Var, _ []float64) *autograd.Var {
	return autograd.MatMul(x, autograd.Const(l.w))
}
func (l linearNet) Params() []nn.Param { return nil }

// gaussEps is the exact noise predictor of N(0, I) data, ε(x, s) = σ_s·x.
type gaussEps struct{ vp sde.VP }

func (g gaussEps) Forward(x *autograd.Var, s []float64) *autograd.Var {
	return autograd.Scale(x, g.vp.SigmaS(s[0]))
}
func (g gaussEps) Params() []nn.Param { return nil }

// TestGuidanceSign checks the guidance drift −w·β·∇½(y − c)² = w·β·(y − c)·∇c
// at a point, and that guided sampling of N(0, I) data moves c toward the
// target with a positive KL (none without guidance).
func TestGuidanceSign(t *testing.T) {
	b := tensor.CPU() // sampling is float32
	vp := sde.DefaultVP
	pre := &Pretrained{VP: vp, Steps: 40, Dim: 2, Eps: gaussEps{vp}}
	w := tensor.FromFloat64As(b, tensor.Float32, []float64{1, -2}, 2, 1)
	x := tensor.FromFloat64As(b, tensor.Float32, []float64{0.5, 0.5, 1, -1}, 2, 2) // c = −0.5 and 3
	g := &Guided{Pre: pre, Classifier: linearNet{w}, Scale: 2, Target: 1}
	drift := g.Drift(x, 0.3).Float64s()
	beta := vp.Beta(0.3)
	for i, c := range []float64{-0.5, 3} {
		for j, wj := range []float64{1, -2} {
			if want := 2 * beta * (1 - c) * wj; math.Abs(drift[i*2+j]-want) > 1e-5*math.Abs(want) {
				t.Errorf("drift[%d,%d] = %v, want %v", i, j, drift[i*2+j], want)
			}
		}
	}
	mean := func(xs []float64) float64 { // mean of c = x₁ − 2x₂
		var s float64
		for i := 0; i < len(xs); i += 2 {
			s += xs[i] - 2*xs[i+1]
		}
		return s / float64(len(xs)/2)
	}
	for _, target := range []float64{3, -3} {
		g.Target = target
		xs, klInit, klDrift := g.Sample(b, 2000, &sde.Streams{Seed: 4})
		if c := mean(xs); !(c*target > 1) {
			t.Errorf("target %v: guided samples have mean c = %v", target, c)
		}
		if Mean(klDrift) <= 0.1 || Mean(klInit) != 0 {
			t.Errorf("target %v: KL %v (drift) %v (initial)", target, Mean(klDrift), Mean(klInit))
		}
	}
	g.Scale = 0
	xs, _, kl := g.Sample(b, 2000, &sde.Streams{Seed: 4})
	if c := mean(xs); math.Abs(c) > 0.15 || Mean(kl) != 0 {
		t.Errorf("no guidance: mean c = %v, KL %v", c, Mean(kl))
	}
}

// TestTrajectoriesReplayNoise checks PPO's trajectories: every recorded step
// satisfies x_{k+1} = x_k + (f_pre + u_old)·Δt + e_k with the noise drawn
// again from the rollout's streams.
func TestTrajectoriesReplayNoise(t *testing.T) {
	b := tensor.CPU() // sampling is float32
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 2}
	eps := nn.NewTimeMLP(init, 2, 8, 2, tensor.ActSiLU, 16)
	nn.SetTrainable(eps, false)
	ctrl := nn.NewTimeMLP(init, 2, 8, 2, tensor.ActSiLU, 16) // not zero: a real policy
	nn.SetTrainable(ctrl, false)
	pre := &Pretrained{VP: sde.DefaultVP, Steps: 7, Dim: 2, Eps: eps}
	ft := &FineTuned{Pre: pre, Init: sde.InitialLaw{Steps: 1}, Control: ctrl}
	const n = 6
	tr := sampleTrajectories(b, ft, n, &sde.Streams{Seed: 9}, nil)
	grid := pre.Grid()
	x, u, e := tr.x.Float64s(), tr.u.Float64s(), tr.e.Float64s()
	xT := tr.xT.Float64s()
	for k := range grid.Steps {
		s := grid.S(k)
		beta := pre.VP.Beta(s)
		xk := tensor.FromFloat64As(b, tensor.Float32, x[k*n*2:(k+1)*n*2], n, 2)
		epsV := eps.Forward(autograd.Const(xk), []float64{s}).Value.Float64s()
		for i := range n * 2 {
			next := xT[i]
			if k+1 < grid.Steps {
				next = x[(k+1)*n*2+i]
			}
			f := 0.5*beta*x[k*n*2+i] - beta*epsV[i]/pre.VP.SigmaS(s)
			want := x[k*n*2+i] + (f+u[k*n*2+i])*grid.Dt + e[k*n*2+i]
			if math.Abs(next-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("step %d, element %d: x_{k+1} = %v, replayed %v", k, i, next, want)
			}
		}
		if tr.betas[k*n] != beta || tr.times[k*n] != s || tr.betas[(k+1)*n-1] != beta {
			t.Fatalf("step %d: β %v, s %v", k, tr.betas[k*n], tr.times[k*n])
		}
	}
	if len(tr.kl) != n || Mean(tr.kl) <= 0 {
		t.Errorf("path KL %v", tr.kl)
	}
}

// TestShrinkValue checks step 1's holdout shrinkage: a fit of pure noise
// becomes its mean (no tilt for step 2), a fit of a real signal stays.
func TestShrinkValue(t *testing.T) {
	b := tensor.CPUReference()
	x := tensor.RandNormal(b, tensor.Float64, 1, 1, 200, 2)
	xv := x.Float64s()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name   string
		signal float64
	}{{"noise", 0}, {"signal", 1}} {
		y := make([]float64, 200)
		for i := range y {
			y[i] = c.signal*xv[2*i] + 0.1*rng.NormFloat64()
			if c.signal == 0 {
				y[i] = rng.NormFloat64()
			}
		}
		net := nn.NewMLP(&nn.Init{Backend: b, DType: tensor.Float64, Seed: 2}, tensor.ActSiLU, 2, 16, 1)
		opt := nn.NewAdam(nn.Vars(net), nn.ConstantLR(1e-2))
		xFit := x.Slice(0, 0, 150).Contiguous()
		yFit := autograd.Const(tensor.FromFloat64(b, y[:150], 150, 1))
		for range 300 {
			autograd.MeanAll(autograd.Square(autograd.Sub(net.Forward(autograd.Const(xFit)), yFit))).Backward()
			opt.Step()
		}
		var shrink float64
		shrinkValue(net, xFit, x.Slice(0, 150, 200).Contiguous(), y[150:], func(e Event) { shrink = float64(e.Extra["shrink"]) })
		out := net.Forward(autograd.Const(x)).Value.Float64s()
		spread := Stddev(out)
		switch {
		case c.signal == 0 && (shrink != 0 || spread > 1e-12):
			t.Errorf("noise: shrink %v, fit spread %v (want a constant)", shrink, spread)
		case c.signal == 1 && (shrink < 0.9 || spread < 0.8):
			t.Errorf("signal: shrink %v, fit spread %v", shrink, spread)
		}
	}
}

// TestWatchedTrajectories: with Hooks.Snapshots and Trajectories, the
// watched iterations' events carry the batch and its rollout's Steps + 1
// states (the last the snapshot, none the same as the next), also through
// checkpointed segments (recomputed in the backward pass) and detached
// steps; and the fit logs the same numbers, bit for bit, as without them.
func TestWatchedTrajectories(t *testing.T) {
	b := tensor.CPU()
	eps := nn.NewTimeMLP(&nn.Init{Backend: b, DType: tensor.Float32, Seed: 2}, 2, 8, 2, tensor.ActSiLU, 16)
	nn.SetTrainable(eps, false)
	pre := &Pretrained{VP: sde.DefaultVP, Steps: 5, Dim: 2, Eps: eps}
	const batch = 4
	for _, m := range []*Unregularized{
		{Drift: DriftOptions{Iters: 4, Batch: batch, LR: 1e-2, Segment: 2}},
		{Drift: DriftOptions{Iters: 4, Batch: batch, LR: 1e-2}, Truncated: true, LastK: 2},
	} {
		fit := func(h Hooks) []Event {
			var evs []Event
			h.Log = func(e Event) { evs = append(evs, e) }
			ctx := &Context{Env: Env{Backend: b, Hooks: h}, Task: stubTask{reward: sumReward{}}, Pre: pre, Run: "nokl", Method: "nokl", Seed: 1}
			if _, err := m.Fit(ctx); err != nil {
				t.Fatal(err)
			}
			return evs
		}
		plain := fit(Hooks{})
		watched := fit(Hooks{Snapshots: func(_ string, iter int) bool { return iter%2 == 1 }, Trajectories: true})
		if len(plain) != len(watched) || len(plain) != m.Drift.Iters {
			t.Fatalf("%d and %d events, want %d", len(plain), len(watched), m.Drift.Iters)
		}
		for i, e := range watched {
			p := plain[i]
			if e.Loss != p.Loss || e.GradNorm != p.GradNorm || e.Reward != p.Reward || p.Snapshot != nil || p.Trajectory != nil {
				t.Errorf("truncated %v, iteration %d: watched loss %v grad %v, plain %v %v", m.Truncated, i, e.Loss, e.GradNorm, p.Loss, p.GradNorm)
			}
			if e.Iter%2 == 0 {
				if e.Snapshot != nil || e.Trajectory != nil {
					t.Errorf("iteration %d was not asked for, yet carries a snapshot", e.Iter)
				}
				continue
			}
			if len(e.Snapshot) != batch*2 || len(e.Trajectory) != pre.Steps+1 {
				t.Fatalf("iteration %d: snapshot of %d, %d states; want %d and %d", e.Iter, len(e.Snapshot), len(e.Trajectory), batch*2, pre.Steps+1)
			}
			if !slices.Equal(e.Trajectory[pre.Steps], e.Snapshot) {
				t.Errorf("iteration %d: the last state is not the snapshot", e.Iter)
			}
			for k, x := range e.Trajectory[:pre.Steps] {
				if len(x) != batch*2 || slices.Equal(x, e.Trajectory[k+1]) {
					t.Errorf("iteration %d: state %d of %d values, the same as the next: %v", e.Iter, k, len(x), slices.Equal(x, e.Trajectory[k+1]))
				}
			}
		}
	}
}
