package tasks

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// TestQuadraticCentredValues checks the centred quadratic against its
// formula −c1(x₁−m1)² − c2(x₂−m2)², that the two-argument form gives the
// values of the formula without centre bit for bit (and those of an explicit
// zero centre), that Eval agrees with At and that its autograd gradient is
// the closed form w − 2c(x − m), checked against central differences.
func TestQuadraticCentredValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, 2*50)
	for i := range x {
		x[i] = 6 * rng.NormFloat64()
	}
	cent, err := ParseReward("quadratic:0.7,1.3,2,-1.5", 2)
	if err != nil {
		t.Fatal(err)
	}
	two, err := ParseReward("quadratic:0.7,1.3", 2)
	if err != nil {
		t.Fatal(err)
	}
	zero, err := ParseReward("quadratic:0.7,1.3,0,0", 2)
	if err != nil {
		t.Fatal(err)
	}
	if two.M != nil || len(cent.M) != 2 || len(cent.C) != 2 {
		t.Fatalf("parsed %+v and %+v", two, cent)
	}
	for i := range 50 {
		p := x[2*i : 2*i+2]
		want := -0.7*(p[0]-2)*(p[0]-2) - 1.3*(p[1]+1.5)*(p[1]+1.5)
		if v := cent.At(p); math.Abs(v-want) > 1e-12*(1+math.Abs(want)) {
			t.Errorf("centred at %v = %v, want %v", p, v, want)
		}
		old := 0.0
		for j, v := range p {
			old += two.W[j]*v - two.C[j]*v*v // the formula before the centre existed
		}
		if v := two.At(p); v != old {
			t.Errorf("quadratic:0.7,1.3 at %v = %v, the old formula %v", p, v, old)
		}
		if v := zero.At(p); v != old {
			t.Errorf("quadratic:0.7,1.3,0,0 at %v = %v, without centre %v", p, v, old)
		}
	}
	b := tensor.CPU()
	for _, r := range []QuadraticReward{cent, two, {Spec: "mixed", W: []float64{0.5, -2}, C: []float64{0.2, 0.1}, M: []float64{-1, 3}}} {
		xv := autograd.Param(tensor.FromFloat64As(b, tensor.Float64, x, 50, 2))
		out := r.Eval(xv)
		vals := out.Value.Float64s()
		for i, v := range r.Values(x) {
			if math.Abs(vals[i]-v) > 1e-12*(1+math.Abs(v)) {
				t.Fatalf("%s: Eval %v, Values %v at row %d", r.Spec, vals[i], v, i)
			}
		}
		if r.M == nil {
			// The path without a centre is the one of before: bit for bit.
			for i, v := range r.Values(x) {
				if vals[i] != v {
					t.Fatalf("%s: Eval %v ≠ Values %v at row %d", r.Spec, vals[i], v, i)
				}
			}
		}
		autograd.SumAll(out).Backward()
		g := xv.Grad.Float64s()
		const h = 1e-5
		for i := range 50 {
			for j := range 2 {
				p := append([]float64(nil), x[2*i:2*i+2]...)
				closed := r.W[j] - 2*r.C[j]*(p[j]-r.centre(j))
				p[j] += h
				up := r.At(p)
				p[j] -= 2 * h
				fd := (up - r.At(p)) / (2 * h)
				if math.Abs(g[2*i+j]-closed) > 1e-10*(1+math.Abs(closed)) || math.Abs(fd-closed) > 1e-5*(1+math.Abs(closed)) {
					t.Fatalf("%s: ∂r/∂x_%d at row %d: autograd %v, closed form %v, finite difference %v", r.Spec, j, i, g[2*i+j], closed, fd)
				}
			}
		}
	}
}

// TestQuadraticParseErrors checks the grammar's refusals of the new form.
func TestQuadraticParseErrors(t *testing.T) {
	for _, bad := range []string{"quadratic:1,2,3", "quadratic:1,2,3,4,5", "quadratic:-1,0,1,1", "quadratic:1,1,NaN,0",
		"quadratic:1,1,0,Inf", "linear:1,0,1,1", "quadratic:1,1,a,0"} {
		if _, err := ParseReward(bad, 2); err == nil {
			t.Errorf("ParseReward(%q) accepted", bad)
		}
	}
}

// gridTilt integrates p_α ∝ exp(r/α)·p on a fine 2-D grid in log space:
// log E_p[exp(r/α)], E_α[r] and KL(p_α ‖ p).
func gridTilt(m Mixture, r QuadraticReward, alpha float64) (logZ, mean, kl float64) {
	const lo, hi, n = -12.0, 12.0, 480
	h := (hi - lo) / n
	logs := make([]float64, 0, n*n)
	rs := make([]float64, 0, n*n)
	for i := range n {
		for j := range n {
			p := []float64{lo + (float64(i)+0.5)*h, lo + (float64(j)+0.5)*h}
			rv := r.At(p)
			logs = append(logs, m.LogDensity(p)+rv/alpha+2*math.Log(h))
			rs = append(rs, rv)
		}
	}
	logZ = logSumExp(logs)
	for i, l := range logs {
		mean += math.Exp(l-logZ) * rs[i]
	}
	return logZ, mean, mean/alpha - logZ
}

// TestQuadraticCentredTilt checks the closed-form tilt of the mixture by
// centred quadratics (and by the two-argument and linear forms) against the
// grid integral, and that the centre is a shift of the linear part: the
// tilted law of −c(x − m)² is that of 2cm·x − c·x², with log Z lower by
// c·m²/α.
func TestQuadraticCentredTilt(t *testing.T) {
	data := EightGaussians()
	for _, spec := range []string{"quadratic:1,0,3,0", "quadratic:0.3,0.5,-2,1", "quadratic:0.2,0.1", "linear:1,0"} {
		r, err := ParseReward(spec, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, alpha := range []float64{0.3, 1, 4} {
			tilt, err := data.Tilt(r, alpha)
			if err != nil {
				t.Fatal(err)
			}
			lz, mean, kl := gridTilt(data, r, alpha)
			if math.Abs(tilt.LogZ-lz) > 1e-6*(1+math.Abs(lz)) || math.Abs(tilt.MeanReward(r)-mean) > 1e-6*(1+math.Abs(mean)) ||
				math.Abs(tilt.KL(r, alpha)-kl) > 1e-6*(1+kl) {
				t.Errorf("%s α=%v: closed form (log Z %v, E[r] %v, KL %v), grid (%v, %v, %v)", spec, alpha,
					tilt.LogZ, tilt.MeanReward(r), tilt.KL(r, alpha), lz, mean, kl)
			}
			if r.M == nil {
				continue
			}
			shifted := QuadraticReward{W: make([]float64, 2), C: r.C}
			var k float64
			for j := range 2 {
				shifted.W[j] = 2 * r.C[j] * r.M[j]
				k += r.C[j] * r.M[j] * r.M[j]
			}
			st, _ := data.Tilt(shifted, alpha)
			if math.Abs(st.LogZ-k/alpha-tilt.LogZ) > 1e-9*(1+math.Abs(tilt.LogZ)) || math.Abs(st.Weights[0]-tilt.Weights[0]) > 1e-12 ||
				math.Abs(st.Means[1][0]-tilt.Means[1][0]) > 1e-12 {
				t.Errorf("%s α=%v: the centred tilt is not the shifted one", spec, alpha)
			}
		}
	}
}

// TestQuadraticRewardParsers checks the bilevel tuner's reward specs of
// both tasks: gmm2d's grammar, exact tilts by it, and tfbind8's letter score
// (a count of letters on a one-hot vertex) and r̂ by reference.
func TestQuadraticRewardParsers(t *testing.T) {
	g := NewGMM2D(true)
	r, err := g.ParseReward("quadratic:1,0,3,0")
	if err != nil {
		t.Fatal(err)
	}
	if v := r.Values([]float64{1, 5})[0]; v != -4 {
		t.Errorf("quadratic:1,0,3,0 at (1, 5) = %v, want −4", v)
	}
	if _, err := g.ParseReward("rhat"); err == nil {
		t.Error("gmm2d accepted rhat")
	}
	lin, _ := g.ParseReward("linear:1,0")
	mu, ml, kl, ok := g.ExactTilt(r, lin, 1)
	if !ok || math.Abs(ml-3.7134) > 1e-3 || math.Abs(kl-1.1617) > 1e-3 || !(mu < 0) {
		t.Errorf("exact tilt by x₁ at λ = 1: E[r₁] %v, E[r₂] %v, KL %v, ok %v", mu, ml, kl, ok)
	}
	if x, ok := g.ExactTiltSamples(lin, 1, 20000, 3); !ok || len(x) != 40000 {
		t.Errorf("exact samples: %d values, ok %v", len(x), ok)
	} else if m := meanCol(x, 2, 0); math.Abs(m-3.7134) > 0.05 {
		t.Errorf("exact samples at λ = 1 have mean x₁ = %v, want ≈ 3.7134", m)
	}

	tf := NewTFBind8(true)
	if y, err := tf.ParseReward("y"); err != nil {
		t.Error(err)
	} else if _, ok := y.(algos.ValuesOnly); !ok || y.String() != "y" {
		t.Errorf("y is %T %q", y, y)
	}
	for _, bad := range []string{"Y", "letters:1,2,3", "letters:1,2,3,x", "linear:1,0", "letters:1,NaN,0,0"} {
		if _, err := tf.ParseReward(bad); err == nil {
			t.Errorf("tfbind8 accepted %q", bad)
		}
	}
	gc, err := tf.ParseReward("letters:0,1,1,0")
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := SeqIndex("GCATGGCA")
	if v := gc.Values(OneHots([]int{idx}))[0]; v != 5 {
		t.Errorf("GC count of GCATGGCA = %v, want 5", v)
	}
	nom, err := tf.ParseReward("rhat")
	if err != nil || nom.String() != "rhat" {
		t.Errorf("rhat before Setup: %v, %v", nom, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("r̂ evaluated before Setup did not panic")
		}
	}()
	nom.Values(OneHots([]int{idx}))
}

func meanCol(x []float64, d, j int) float64 {
	var s float64
	for i := j; i < len(x); i += d {
		s += x[i]
	}
	return s / float64(len(x)/d)
}
