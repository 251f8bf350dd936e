package tasks

import (
	"math"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// Tests of the sequence metrics and of tfbind8's control, moved here from
// package algos with the code they test.

func TestSequenceMetrics(t *testing.T) {
	if r := Spearman([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 100}); math.Abs(r-1) > 1e-12 {
		t.Errorf("Spearman of a monotone pair = %v", r)
	}
	if r := Spearman([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}); math.Abs(r+1) > 1e-12 {
		t.Errorf("Spearman of a reversed pair = %v", r)
	}
	// Ties take average ranks: ranks of (1, 1, 2) are (1.5, 1.5, 3).
	if r := ranks([]float64{1, 1, 2}); r[0] != 1.5 || r[1] != 1.5 || r[2] != 3 {
		t.Errorf("ranks with a tie: %v", r)
	}
	if r := Spearman([]float64{1, 1, 2}, []float64{1, 2, 3}); math.Abs(r-math.Sqrt(3)/2) > 1e-12 {
		t.Errorf("Spearman with a tie = %v, want √3/2", r)
	}
	if e := RMSE([]float64{0, 0}, []float64{3, 4}); math.Abs(e-math.Sqrt(12.5)) > 1e-12 {
		t.Errorf("RMSE = %v", e)
	}
	a, _ := SeqIndex("AAAAAAAA")
	b, _ := SeqIndex("AAAAAATT")
	c, _ := SeqIndex("TTTTTTTT")
	// Pairs: (a,b) 2, (a,c) 8, (b,c) 6, (a,a) 0 twice… with a repeated.
	if d := HammingDiversity([]int{a, b, c}); math.Abs(d-16.0/3) > 1e-12 {
		t.Errorf("diversity = %v, want 16/3", d)
	}
	if d := HammingDiversity([]int{a, a}); d != 0 {
		t.Errorf("diversity of a repeated sequence = %v", d)
	}
	if u := UniqueFraction([]int{a, b, a, c}); u != 0.75 {
		t.Errorf("unique fraction = %v", u)
	}
	// Letter statistics: the data against itself match exactly; a sample
	// that never uses A at position 1 is off by 1/4 there.
	all := make([]int, NumSeqs)
	var noA []int
	for i := range all {
		all[i] = i
		if i>>14 != 0 {
			noA = append(noA, i)
		}
	}
	if st := CompareSequenceStats(all, all); st.PositionMaxAbsDiff != 0 || st.PairMaxAbsDiff != 0 || st.PairTV != 0 {
		t.Errorf("data against itself: %+v", st)
	}
	st := CompareSequenceStats(noA, all)
	if math.Abs(float64(st.PositionMaxAbsDiff)-0.25) > 1e-12 || math.Abs(float64(st.PairMaxAbsDiff)-1.0/16) > 1e-12 {
		t.Errorf("no A at position 1: %+v", st)
	}
	// Position 1 takes part in 7 of the 28 pairs, each off by TV 1/4.
	if math.Abs(float64(st.PairTV)-7.0/28*0.25) > 1e-12 {
		t.Errorf("pair TV %v, want %v", st.PairTV, 7.0/28*0.25)
	}
	if v := roundSignificant(0.13781, 2); v != 0.14 {
		t.Errorf("round to 2 digits: %v", v)
	}
	if v := roundSignificant(0.068905, 2); v != 0.069 {
		t.Errorf("round to 2 digits: %v", v)
	}
}

// TestRewardControl checks the feature f = ∇_x r̂(x̂₀(x)) against
// backpropagation through the posterior mean, the control at its start
// (zero, or β·Scale·f when warm), and per-row times against shared ones.
func TestRewardControl(t *testing.T) {
	b := tensor.CPUReference()
	init := &nn.Init{Backend: b, DType: tensor.Float64, Seed: 6}
	r := NewMLPReward(init, "test", OneHotDim, 16)
	vp := tfbind8VP
	const s = 0.3
	x := autograd.Param(tensor.RandNormal(b, tensor.Float64, 7, 1, 3, OneHotDim))
	k := vp.SqrtAlphaBar(s) / (vp.SigmaS(s) * vp.SigmaS(s))
	post := autograd.Reshape(autograd.Softmax(autograd.Scale(autograd.Reshape(x, 3, SeqLen, 4), k), -1), 3, OneHotDim)
	autograd.SumAll(r.Eval(post)).Backward()
	for _, scale := range []float64{0, 2} {
		c := NewRewardControl(init, vp, r, 8, scale)
		f := c.Feature(x, []float64{s}).Value.Float64s()
		for i, want := range x.Grad.Float64s() {
			if math.Abs(f[i]-want) > 1e-12 {
				t.Fatalf("feature element %d = %v, backpropagation gives %v", i, f[i], want)
			}
		}
		u := c.Forward(x, []float64{s}).Value.Float64s()
		for i := range u {
			if want := vp.Beta(s) * scale * f[i]; math.Abs(u[i]-want) > 1e-12 {
				t.Fatalf("scale %v: u[%d] = %v at the start, want %v", scale, i, u[i], want)
			}
		}
	}
	// The tilted feature α·k·(q − p) with q ← softmax(k·x + ∇r̂(q)/α) from
	// q = p, by hand (∇r̂ by backpropagation at each q); one step at a large
	// α is the first-order f.
	first, xv := x.Grad.Float64s(), x.Value.Float64s()
	gradAt := func(q []float64) []float64 {
		qv := autograd.Param(tensor.FromFloat64(b, q, 3, OneHotDim))
		autograd.SumAll(r.Eval(qv)).Backward()
		return qv.Grad.Float64s()
	}
	softmaxRows := func(g []float64, alpha float64) []float64 { // softmax(k·x + g/α) per position
		out := make([]float64, len(xv))
		for pos := 0; pos < len(xv); pos += 4 {
			var z float64
			for j := range 4 {
				out[pos+j] = math.Exp(k*xv[pos+j] + g[pos+j]/alpha)
				z += out[pos+j]
			}
			for j := range 4 {
				out[pos+j] /= z
			}
		}
		return out
	}
	p := post.Value.Float64s()
	for _, tc := range []struct {
		alpha float64
		steps int
	}{{0.05, 1}, {0.05, 2}, {1, 3}, {1e5, 1}} {
		c := NewRewardControl(init, vp, r, 8, 0)
		c.Tilt, c.TiltSteps = tc.alpha, tc.steps
		f := c.Feature(x, []float64{s}).Value.Float64s()
		q := p
		for range tc.steps {
			q = softmaxRows(gradAt(q), tc.alpha)
		}
		for i := range f {
			want := tc.alpha * k * (q[i] - p[i])
			if math.Abs(f[i]-want) > 1e-9*(1+math.Abs(want)) {
				t.Fatalf("α = %v, %d steps: tilted feature element %d = %v, want %v", tc.alpha, tc.steps, i, f[i], want)
			}
			if tc.alpha == 1e5 && math.Abs(f[i]-first[i]) > 1e-3*(1+math.Abs(first[i])) {
				t.Fatalf("α = %v: tilted feature element %d = %v, first order %v", tc.alpha, i, f[i], first[i])
			}
		}
	}
	// Per-row times give the rows of the shared-time results.
	c := NewRewardControl(init, vp, r, 8, 1)
	for _, p := range nn.Vars(c) { // move away from the zero start
		p.Value = tensor.Add(p.Value, tensor.Scale(tensor.RandNormal(b, tensor.Float64, 3, 3, p.Value.Shape()...), 0.1))
	}
	rows := c.Forward(x, []float64{0.2, 0.5, 0.2}).Value.Float64s()
	for i, s := range []float64{0.2, 0.5, 0.2} {
		shared := c.Forward(x, []float64{s}).Value.Float64s()
		for j := range OneHotDim {
			if d := rows[i*OneHotDim+j] - shared[i*OneHotDim+j]; math.Abs(d) > 1e-12 {
				t.Fatalf("row %d at s = %v differs by %v", i, s, d)
			}
		}
	}
	if len(c.Params()) != 4+6 {
		t.Errorf("%d parameters, want the gain's 4 and the network's 6", len(c.Params()))
	}
}
