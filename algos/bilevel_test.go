package algos_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// bilevelPair parses an upper and a lower reward of gmm2d.
func bilevelPair(t *testing.T, upper, lower string) (tasks.QuadraticReward, tasks.QuadraticReward) {
	t.Helper()
	r1, err := tasks.ParseReward(upper, 2)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := tasks.ParseReward(lower, 2)
	if err != nil {
		t.Fatal(err)
	}
	return r1, r2
}

// exactHypergradient is Cov_{p*}(r₁, r₂)/λ² for linear r₁ = w₁·x, r₂ = w₂·x
// under the tilted mixture p* ∝ exp(r₂/λ)·p_data, in closed form: per
// component E[(w₁·x)(w₂·x)] = (w₁·μ)(w₂·μ) + Σ_j w₁ⱼw₂ⱼσⱼ².
func exactHypergradient(t *testing.T, data tasks.Mixture, r1, r2 tasks.QuadraticReward, lambda float64) float64 {
	t.Helper()
	tilt, err := data.Tilt(r2, lambda)
	if err != nil {
		t.Fatal(err)
	}
	var e1, e2, e12 float64
	for k, w := range tilt.Weights {
		var a, b, c float64
		for j := range 2 {
			a += r1.W[j] * tilt.Means[k][j]
			b += r2.W[j] * tilt.Means[k][j]
			c += r1.W[j] * r2.W[j] * tilt.Vars[k][j]
		}
		e1, e2, e12 = e1+w*a, e2+w*b, e12+w*(a*b+c)
	}
	return (e12 - e1*e2) / (lambda * lambda)
}

// exactPenalty is γ·[KL(p_γ ‖ p_data) − KL(p* ‖ p_data)] in closed form for
// linear rewards: h_γ = r₂ + r₁/γ is linear too.
func exactPenalty(t *testing.T, data tasks.Mixture, r1, r2 tasks.QuadraticReward, lambda, gamma float64) float64 {
	t.Helper()
	h := tasks.QuadraticReward{W: []float64{r2.W[0] + r1.W[0]/gamma, r2.W[1] + r1.W[1]/gamma}, C: []float64{0, 0}}
	th, err := data.Tilt(h, lambda)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := data.Tilt(r2, lambda)
	return gamma * (th.KL(h, lambda) - ts.KL(r2, lambda))
}

// TestBilevelPenaltyConvergesToHypergradient checks the estimator of
// ALGORITHMS.md §3 on gmm2d with linear r₁ and r₂: in closed form, the
// penalty gradient approaches the exact hypergradient Cov_{p*}(r₁, r₂)/λ²
// as γ grows (its error shrinking like 1/γ), which is df/dλ of
// f(λ) = −E_{p*(λ)}[r₁] (by central differences); on samples of p_data the
// estimate agrees with the closed form, and with its own γ → ∞ limit.
func TestBilevelPenaltyConvergesToHypergradient(t *testing.T) {
	data := tasks.EightGaussians()
	r1, r2 := bilevelPair(t, "linear:0.5,1", "linear:1,0.3")
	x := data.Sample(200_000, 5)
	v1, v2 := r1.Values(x), r2.Values(x)
	for _, lambda := range []float64{0.7, 1, 2} {
		exact := exactHypergradient(t, data, r1, r2, lambda)
		f := func(l float64) float64 {
			tl, _ := data.Tilt(r2, l)
			return -tl.MeanReward(r1)
		}
		const h = 1e-5
		if fd := (f(lambda+h) - f(lambda-h)) / (2 * h); math.Abs(fd-exact) > 1e-5*(1+math.Abs(exact)) {
			t.Errorf("λ = %v: Cov/λ² = %v, df/dλ by differences %v", lambda, exact, fd)
		}
		prev := math.Inf(1)
		for _, gamma := range []float64{10, 100, 1000, 1e4} {
			err := math.Abs(exactPenalty(t, data, r1, r2, lambda, gamma) - exact)
			if !(err < prev/5) {
				t.Errorf("λ = %v, γ = %v: error %v of the penalty gradient did not shrink (was %v)", lambda, gamma, err, prev)
			}
			prev = err
		}
		if prev > 1e-3*math.Abs(exact) {
			t.Errorf("λ = %v, γ = 1e4: penalty gradient off the hypergradient %v by %v", lambda, exact, prev)
		}
		e := algos.EstimatePenalty(v1, v2, lambda, 1e3)
		if math.Abs(e.Grad-exact) > 0.05*math.Abs(exact) {
			t.Errorf("λ = %v: sample estimate %v, exact %v", lambda, e.Grad, exact)
		}
		if ee := algos.EstimatePenalty(v1, v2, lambda, 1e6); math.Abs(ee.Grad-ee.Hypergrad) > 1e-3*math.Abs(ee.Hypergrad) {
			t.Errorf("λ = %v, γ = 1e6: sample estimate %v, its limit Cov_w/λ² %v", lambda, ee.Grad, ee.Hypergrad)
		}
		ts, _ := data.Tilt(r2, lambda)
		if math.Abs(e.KL-ts.KL(r2, lambda)) > 0.03 || math.Abs(-e.F-ts.MeanReward(r1)) > 0.03 {
			t.Errorf("λ = %v: KL %v, f %v by weights; exact %v, %v", lambda, e.KL, e.F, ts.KL(r2, lambda), -ts.MeanReward(r1))
		}
		t.Logf("λ = %v: exact hypergradient %.5g, γ = 1e3 closed form %.5g, on samples %.5g (ESS %.0f)", lambda, exact,
			exactPenalty(t, data, r1, r2, lambda, 1e3), e.Grad, e.ESS)
	}
}

// gridLambdaStar is the reference λ* = argmin_λ −E_{p*(λ)}[r₁] over
// [lo, hi]: E_{p*(λ)}[r₁] by integrating the tilted law on a fine 2-D grid in
// log space, minimized by golden-section search in log λ after a coarse scan.
func gridLambdaStar(data tasks.Mixture, r1, r2 tasks.QuadraticReward, lo, hi float64) (lambda, f float64) {
	const a, b, n = -10.0, 14.0, 400
	step := (b - a) / n
	var logp, v1, v2 []float64
	for i := range n {
		for j := range n {
			p := []float64{a + (float64(i)+0.5)*step, a + (float64(j)+0.5)*step}
			logp = append(logp, data.LogDensity(p))
			v1, v2 = append(v1, r1.At(p)), append(v2, r2.At(p))
		}
	}
	fAt := func(ll float64) float64 {
		l := math.Exp(ll)
		m := math.Inf(-1)
		lw := make([]float64, len(logp))
		for i := range lw {
			lw[i] = logp[i] + v2[i]/l
			m = math.Max(m, lw[i])
		}
		var z, e float64
		for i, v := range lw {
			w := math.Exp(v - m)
			z += w
			e += w * v1[i]
		}
		return -e / z
	}
	x0, x1 := math.Log(lo), math.Log(hi)
	best, bf := x0, math.Inf(1)
	for i := 0; i <= 60; i++ {
		x := x0 + (x1-x0)*float64(i)/60
		if v := fAt(x); v < bf {
			best, bf = x, v
		}
	}
	d := (x1 - x0) / 60
	l, r := math.Max(x0, best-d), math.Min(x1, best+d)
	g := (math.Sqrt(5) - 1) / 2
	for range 60 {
		c, e := r-g*(r-l), l+g*(r-l)
		if fAt(c) < fAt(e) {
			r = e
		} else {
			l = c
		}
	}
	return math.Exp((l + r) / 2), fAt((l + r) / 2)
}

// TestBilevelFindsInteriorLambda runs the projected descent on samples of
// p_data for a pair whose best λ is interior (r₂ = x₁ pushes the samples
// right, r₁ = −(x₁ − 3)² wants them at 3) and checks λ_final against λ* of
// the grid reference, within 10%, and the closed form's λ* against it.
func TestBilevelFindsInteriorLambda(t *testing.T) {
	data := tasks.EightGaussians()
	r1, r2 := bilevelPair(t, "quadratic:1,0,3,0", "linear:1,0")
	star, fStar := gridLambdaStar(data, r1, r2, 0.05, 20)
	g := tasks.NewGMM2D(true)
	mu, _, _, ok := g.ExactTilt(r1, r2, star)
	if !ok || math.Abs(-mu-fStar) > 1e-6 {
		t.Fatalf("f(λ*) = %v on the grid, closed form %v", fStar, -mu)
	}
	x := data.Sample(50_000, 9)
	v1, v2 := r1.Values(x), r2.Values(x)
	o := algos.BilevelOptions{Samples: 4096, Pool: len(v1), LambdaInit: 0.2, LambdaMin: 0.05, LambdaMax: 20, Gamma: 1e3, LR: 0.05, Steps: 300, EvalSamples: 2}
	steps, final := algos.DescendLambda(v1, v2, o, 3)
	if len(steps) != o.Steps || float64(steps[0].Lambda) != o.LambdaInit {
		t.Fatalf("%d steps from %v", len(steps), steps[0].Lambda)
	}
	if math.Abs(final-star) > 0.1*star {
		t.Errorf("λ_final = %v, λ* = %v (f* = %v)", final, star, fStar)
	}
	t.Logf("λ* = %.4f (f* = %.4f), λ_final = %.4f after %d steps, f = %.4f", star, fStar, final, o.Steps, float64(steps[len(steps)-1].F))
}

// TestBilevelProjection checks that the iterate never leaves
// [λ_min, λ_max], whatever the step, that a non-finite estimate keeps λ
// (no division by zero, no NaN), and the projection itself.
func TestBilevelProjection(t *testing.T) {
	for _, c := range [][4]float64{{-1, 0.1, 2, 0.1}, {0, 0.1, 2, 0.1}, {1, 0.1, 2, 1}, {5, 0.1, 2, 2}, {math.Inf(1), 0.1, 2, 2},
		{math.Inf(-1), 0.1, 2, 0.1}, {math.NaN(), 0.1, 2, 0.1}, {0.5, 0.5, 0.5, 0.5}} {
		if p := algos.ProjectLambda(c[0], c[1], c[2]); p != c[3] {
			t.Errorf("projection of %v onto [%v, %v] = %v, want %v", c[0], c[1], c[2], p, c[3])
		}
	}
	for _, bad := range [][2]float64{{0, 1}, {-1, 1}, {2, 1}, {math.NaN(), 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("projection onto [%v, %v] did not panic", bad[0], bad[1])
				}
			}()
			algos.ProjectLambda(1, bad[0], bad[1])
		}()
	}
	data := tasks.EightGaussians()
	x := data.Sample(2000, 2)
	for _, pair := range [][2]string{{"linear:1,0", "linear:1,0"}, {"linear:-1,0", "linear:1,0"}, {"quadratic:1,0,3,0", "linear:1,0"}} {
		r1, r2 := bilevelPair(t, pair[0], pair[1])
		v1, v2 := r1.Values(x), r2.Values(x)
		for _, lr := range []float64{1e-3, 1, 1e6} {
			o := algos.BilevelOptions{Samples: 256, Pool: 2000, LambdaInit: 0.01, LambdaMin: 1e-3, LambdaMax: 5, Gamma: 1e3, LR: lr, Steps: 100, EvalSamples: 2}
			steps, final := algos.DescendLambda(v1, v2, o, 1)
			for _, st := range steps {
				for _, l := range []algos.Number{st.Lambda, st.Next} {
					if !(float64(l) >= o.LambdaMin && float64(l) <= o.LambdaMax) {
						t.Fatalf("%v, lr %v: step %d has λ = %v outside [%v, %v]", pair, lr, st.Step, l, o.LambdaMin, o.LambdaMax)
					}
				}
				if !st.Grad.Finite() || !st.F.Finite() || !st.KL.Finite() {
					t.Fatalf("%v, lr %v: step %d is not finite: %+v", pair, lr, st.Step, st)
				}
			}
			if final != float64(steps[len(steps)-1].Next) {
				t.Errorf("λ_final %v is not the last step's %v", final, steps[len(steps)-1].Next)
			}
		}
	}
	// A reward that is not finite gives a gradient that is not: λ is kept.
	v := []float64{1, math.Inf(1), 0}
	o := algos.BilevelOptions{Samples: 3, Pool: 3, LambdaInit: 0.5, LambdaMin: 0.1, LambdaMax: 1, Gamma: 10, LR: 1, Steps: 2, EvalSamples: 2}
	steps, final := algos.DescendLambda(v, v, o, 1)
	if final != 0.5 || steps[0].Note == "" || float64(steps[1].Lambda) != 0.5 {
		t.Errorf("a non-finite estimate moved λ to %v: %+v", final, steps)
	}
}

// TestBilevelGuidedDrift checks the guided SDE's extra drift against
// β(s)/λ times a central difference of r₂ ∘ x̂₀ at random points, on a random
// float64 ε_θ, and that it vanishes for a constant reward.
func TestBilevelGuidedDrift(t *testing.T) {
	b := tensor.CPU()
	init := &nn.Init{Backend: b, DType: tensor.Float64, Seed: 4}
	eps := nn.NewTimeMLP(init, 2, 8, 2, tensor.ActSiLU, 16, 16)
	nn.SetTrainable(eps, false)
	vp := sde.DefaultVP
	pre := &algos.Pretrained{VP: vp, Steps: 5, Dim: 2, Eps: eps}
	r2, err := tasks.ParseReward("quadratic:0.5,1,1,-2", 2)
	if err != nil {
		t.Fatal(err)
	}
	const lambda = 0.3
	g := &algos.RewardGuided{Pre: pre, Reward: r2, Lambda: lambda}
	xs := []float64{0.3, -1.2, 2, 0.5, -0.7, 0.1}
	x := tensor.FromFloat64As(b, tensor.Float64, xs, 3, 2)
	for _, s := range []float64{0.9, 0.4, 0.05} {
		drift := g.Drift(x, s).Float64s()
		composed := func(p []float64) float64 {
			var v float64
			autograd.NoGrad(func() {
				x0 := vp.Denoise(eps, autograd.Const(tensor.FromFloat64As(b, tensor.Float64, p, 1, 2)), s)
				v = r2.Eval(x0).Value.Float64s()[0]
			})
			return v
		}
		for i := range 3 {
			for j := range 2 {
				const h = 1e-5
				p := append([]float64(nil), xs[2*i:2*i+2]...)
				p[j] += h
				up := composed(p)
				p[j] -= 2 * h
				fd := (up - composed(p)) / (2 * h) * vp.Beta(s) / lambda
				if math.Abs(drift[2*i+j]-fd) > 1e-6*(1+math.Abs(fd)) {
					t.Errorf("s = %v, row %d, x_%d: drift %v, finite difference %v", s, i, j, drift[2*i+j], fd)
				}
			}
		}
	}
	flat := &algos.RewardGuided{Pre: pre, Reward: tasks.QuadraticReward{W: []float64{0, 0}, C: []float64{0, 0}}, Lambda: lambda}
	for _, v := range flat.Drift(x, 0.5).Float64s() {
		if v != 0 {
			t.Fatalf("a constant reward guides by %v", v)
		}
	}
}

// TestBilevelReproducible checks that fixed seeds reproduce a descent and
// a whole run exactly (the pool, every step, the guided samples), and that
// another seed changes them.
func TestBilevelReproducible(t *testing.T) {
	b := tensor.CPU()
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 4}
	eps := nn.NewTimeMLP(init, 2, 8, 2, tensor.ActSiLU, 16)
	nn.SetTrainable(eps, false)
	pre := &algos.Pretrained{VP: sde.DefaultVP, Steps: 6, Dim: 2, Eps: eps}
	task := tasks.NewGMM2D(true)
	r1, r2 := bilevelPair(t, "quadratic:1,0,3,0", "linear:1,0")
	o := algos.BilevelOptions{Samples: 64, Pool: 256, LambdaInit: 0.5, LambdaMin: 0.05, LambdaMax: 10, Gamma: 1e3, LR: 0.05, Steps: 20, EvalSamples: 64}
	env := algos.Env{Backend: b}
	run := func(seed uint64) *algos.BilevelResult {
		res, err := algos.TuneBilevel(env, task, pre, o, r1, r2, nil, seed)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, c := run(7), run(7)
	if !reflect.DeepEqual(a.Trace, c.Trace) || a.LambdaFinal != c.LambdaFinal || !reflect.DeepEqual(a.Samples, c.Samples) {
		t.Error("the same seed gave two runs")
	}
	if a.Elegant != nil || len(a.Samples["guided"]) != 2*o.EvalSamples || !a.Guided.MeanUpper.Finite() || a.Guided.EnergyDistance == nil {
		t.Errorf("result: %+v", a.Guided)
	}
	if d := run(8); reflect.DeepEqual(a.Trace, d.Trace) || reflect.DeepEqual(a.Samples["guided"], d.Samples["guided"]) {
		t.Error("another seed gave the same run")
	}
	o.Steps = -1
	if _, err := algos.TuneBilevel(env, task, pre, o, r1, r2, nil, 7); err == nil {
		t.Error("steps −1 accepted")
	}
}
