package autograd_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

var cpu = tensor.CPUReference()

func randVar(rng *rand.Rand, transform func(float64) float64, shape ...int) *autograd.Var {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
		if transform != nil {
			v[i] = transform(v[i])
		}
	}
	return autograd.Param(tensor.FromFloat64(cpu, v, shape...))
}

func positive(x float64) float64 { return math.Abs(x) + 0.5 }

// awayFromZero keeps inputs off the kinks of ReLU, Abs and Clamp, where finite
// differences are meaningless.
func awayFromZero(x float64) float64 { return math.Copysign(math.Abs(x)+0.2, x) }

// weighted reduces y to a scalar with fixed random weights (on y's
// backend), so that every element of the gradient is exercised with a
// different coefficient.
func weighted(y *autograd.Var) *autograd.Var {
	rng := rand.New(rand.NewPCG(99, 1))
	w := make([]float64, y.Value.Len())
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	return autograd.SumAll(autograd.Mul(y, autograd.Const(tensor.FromFloat64(y.Value.Backend(), w, y.Shape()...))))
}

type gradCase struct {
	name   string
	inputs [][]int
	domain func(float64) float64
	f      func(in []*autograd.Var) *autograd.Var
}

var cond = tensor.FromFloat64(cpu, []float64{1, 0, 0, 1, 1, 0}, 2, 3)

// emCoeffs are Euler–Maruyama coefficients with every term of a visible size.
var emCoeffs = tensor.EMCoeffs{X: 1.05, Eps: -0.8, U: 0.3, Noise: 0.5, KL: 0.7}

var gradCases = []gradCase{
	{"add broadcast", [][]int{{3, 4}, {4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Add(in[0], in[1]) }},
	{"sub broadcast", [][]int{{3, 1}, {3, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Sub(in[0], in[1]) }},
	{"mul broadcast", [][]int{{2, 3, 4}, {3, 1}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Mul(in[0], in[1]) }},
	{"div", [][]int{{3, 4}, {3, 4}}, positive, func(in []*autograd.Var) *autograd.Var { return autograd.Div(in[0], in[1]) }},
	{"scale shift neg", [][]int{{5}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Neg(autograd.Shift(autograd.Scale(in[0], 3), 2))
	}},
	{"exp", [][]int{{6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Exp(in[0]) }},
	{"log", [][]int{{6}}, positive, func(in []*autograd.Var) *autograd.Var { return autograd.Log(in[0]) }},
	{"sqrt", [][]int{{6}}, positive, func(in []*autograd.Var) *autograd.Var { return autograd.Sqrt(in[0]) }},
	{"square", [][]int{{6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Square(in[0]) }},
	{"pow", [][]int{{6}}, positive, func(in []*autograd.Var) *autograd.Var { return autograd.Pow(in[0], 2.5) }},
	{"sin", [][]int{{6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Sin(in[0]) }},
	{"cos", [][]int{{6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Cos(in[0]) }},
	{"abs", [][]int{{6}}, awayFromZero, func(in []*autograd.Var) *autograd.Var { return autograd.Abs(in[0]) }},
	{"softplus", [][]int{{6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Softplus(in[0]) }},
	{"tanh", [][]int{{6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Tanh(in[0]) }},
	{"sigmoid", [][]int{{6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Sigmoid(in[0]) }},
	{"silu", [][]int{{6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.SiLU(in[0]) }},
	{"relu", [][]int{{6}}, awayFromZero, func(in []*autograd.Var) *autograd.Var { return autograd.ReLU(in[0]) }},
	{"clamp", [][]int{{8}}, func(x float64) float64 { return 2 * awayFromZero(x) }, func(in []*autograd.Var) *autograd.Var {
		return autograd.Clamp(in[0], -1, 1.1)
	}},
	{"where", [][]int{{2, 3}, {3}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Where(cond, in[0], in[1]) }},
	{"sum axis", [][]int{{3, 4, 2}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Sum(in[0], 1, false) }},
	{"mean keepdim", [][]int{{3, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Mean(in[0], 0, true) }},
	{"sum all", [][]int{{3, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.SumAll(in[0]) }},
	{"max", [][]int{{3, 5}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Max(in[0], 1, false) }},
	{"logsumexp", [][]int{{3, 5}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.LogSumExp(in[0], 0, false) }},
	{"softmax", [][]int{{3, 5}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Softmax(in[0], 1) }},
	{"log softmax", [][]int{{3, 5}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.LogSoftmax(in[0], 0) }},
	{"matmul", [][]int{{3, 4}, {4, 5}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.MatMul(in[0], in[1]) }},
	{"matmul transA", [][]int{{4, 3}, {4, 5}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.MatMulT(in[0], in[1], true, false) }},
	{"matmul transB", [][]int{{3, 4}, {5, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.MatMulT(in[0], in[1], false, true) }},
	{"matmul both", [][]int{{4, 3}, {5, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.MatMulT(in[0], in[1], true, true) }},
	{"batched matmul shared weight", [][]int{{2, 3, 4}, {4, 5}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.MatMul(in[0], in[1]) }},
	{"batched matmul", [][]int{{2, 3, 4}, {2, 5, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.MatMulT(in[0], in[1], false, true) }},
	{"linear silu", [][]int{{2, 3, 4}, {4, 5}, {5}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Linear(in[0], in[1], in[2], tensor.ActSiLU)
	}},
	{"linear tanh", [][]int{{3, 4}, {4, 5}, {5}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Linear(in[0], in[1], in[2], tensor.ActTanh)
	}},
	{"linear sigmoid no bias", [][]int{{3, 4}, {4, 5}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Linear(in[0], in[1], nil, tensor.ActSigmoid)
	}},
	{"linear relu", [][]int{{3, 4}, {4, 5}, {5}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Linear(in[0], in[1], in[2], tensor.ActReLU)
	}},
	{"reshape", [][]int{{3, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Square(autograd.Reshape(in[0], 2, 6)) }},
	{"permute", [][]int{{2, 3, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Square(autograd.Permute(in[0], 2, 0, 1)) }},
	{"transpose", [][]int{{3, 4}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Square(autograd.Transpose(in[0], 0, 1)) }},
	{"slice", [][]int{{3, 6}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Square(autograd.Slice(in[0], 1, 2, 5)) }},
	{"expand", [][]int{{3, 1}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Square(autograd.Expand(in[0], 2, 3, 4)) }},
	{"concat", [][]int{{2, 3}, {2, 2}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.Square(autograd.Concat(1, in[0], in[1])) }},
	{"index select", [][]int{{4, 3}}, nil, func(in []*autograd.Var) *autograd.Var { return autograd.IndexSelect(in[0], 0, []int{3, 0, 3, 1}) }},
	{"im2col", [][]int{{2, 2, 4, 5}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Im2Col(in[0], tensor.NewConvGeom(2, 2, 4, 5, 3, 3, 2, 1))
	}},
	{"conv2d stride 2 pad 1 bias", [][]int{{2, 2, 5, 4}, {3, 2 * 3 * 3}, {3}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Conv2d(in[0], in[1], in[2], tensor.NewConvGeom(2, 2, 5, 4, 3, 3, 2, 1))
	}},
	{"conv2d stride 1 pad 0 3x2 no bias", [][]int{{1, 3, 5, 6}, {2, 3 * 3 * 2}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Conv2d(in[0], in[1], nil, tensor.NewConvGeom(1, 3, 5, 6, 3, 2, 1, 0))
	}},
	{"euler-maruyama step", [][]int{{4, 3}, {4, 3}, {4, 3}, {4}}, nil, func(in []*autograd.Var) *autograd.Var {
		next, kl := autograd.EulerMaruyamaStep(in[0], in[1], in[2], in[3], emCoeffs, 3, 5)
		return autograd.Concat(1, next, autograd.Reshape(kl, 4, 1))
	}},
	{"euler-maruyama step, next only", [][]int{{4, 3}, {4, 3}, {4, 3}}, nil, func(in []*autograd.Var) *autograd.Var {
		kl := autograd.Const(tensor.Zeros(cpu, tensor.Float64, 4))
		next, _ := autograd.EulerMaruyamaStep(in[0], in[1], in[2], kl, emCoeffs, 3, 5)
		return next
	}},
	{"euler-maruyama step, kl only, rank 3", [][]int{{2, 3, 2}, {2}}, nil, func(in []*autograd.Var) *autograd.Var {
		x := autograd.Const(tensor.Full(cpu, tensor.Float64, 0.5, 2, 3, 2))
		_, kl := autograd.EulerMaruyamaStep(x, x, in[0], in[1], emCoeffs, 3, 5)
		return kl
	}},
	{"euler-maruyama step without control", [][]int{{4, 3}, {4, 3}}, nil, func(in []*autograd.Var) *autograd.Var {
		next, _ := autograd.EulerMaruyamaStep(in[0], in[1], nil, nil, emCoeffs, 3, 5)
		return next
	}},
	{"checkpoint with a captured parameter only", [][]int{{4, 4}}, nil, func(in []*autograd.Var) *autograd.Var {
		x := autograd.Const(tensor.FromFloat64(cpu, []float64{1, -2, 0.5, 3}, 1, 4))
		return autograd.Checkpoint(func(c []*autograd.Var) *autograd.Var {
			return autograd.Tanh(autograd.MatMul(c[0], in[0]))
		}, []*autograd.Var{x}, in)
	}},
	{"checkpoint", [][]int{{3, 4}, {4, 4}}, nil, func(in []*autograd.Var) *autograd.Var {
		return autograd.Checkpoint(func(c []*autograd.Var) *autograd.Var {
			return autograd.Tanh(autograd.MatMul(autograd.Tanh(autograd.MatMul(c[0], in[1])), in[1]))
		}, in[:1], in[1:])
	}},
}

// TestGradients checks every primitive's backward rule against central finite
// differences in float64.
func TestGradients(t *testing.T) {
	for i, c := range gradCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			in := make([]*autograd.Var, len(c.inputs))
			for k, shape := range c.inputs {
				in[k] = randVar(rng, c.domain, shape...)
			}
			f := func(in []*autograd.Var) *autograd.Var { return weighted(c.f(in)) }
			if err := autograd.CheckGradients(f, in, 1e-6, 1e-6); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEulerMaruyamaStepGradientsFast checks the fused step's rule on the fast
// CPU backend too (the cases above run on the reference, which composes the
// step's forward pass from elementwise operations).
func TestEulerMaruyamaStepGradientsFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	in := make([]*autograd.Var, 4)
	for k, shape := range [][]int{{5, 2}, {5, 2}, {5, 2}, {5}} {
		in[k] = autograd.Param(randVar(rng, nil, shape...).Value.To(tensor.CPU()))
	}
	f := func(in []*autograd.Var) *autograd.Var {
		next, kl := autograd.EulerMaruyamaStep(in[0], in[1], in[2], in[3], emCoeffs, 3, 5)
		y := autograd.Concat(1, autograd.Square(next), autograd.Reshape(kl, 5, 1))
		w := tensor.FromFloat64(tensor.CPU(), []float64{1, -2, 0.5, 3, -1, 2, 0.7, -0.3, 1.5, 1, -1.2, 0.4, 2, -0.6, 0.9}, 5, 3)
		return autograd.SumAll(autograd.Mul(y, autograd.Const(w)))
	}
	if err := autograd.CheckGradients(f, in, 1e-6, 1e-6); err != nil {
		t.Fatal(err)
	}
}

// TestNormalizeRowsGradients checks the row normalization's rule by central
// finite differences on both CPU backends (the reference composes the
// forward pass, the fast one fuses it): rows of 7, rank 3, rows of 1 (the
// gradient is 0) and a transposed input.
func TestNormalizeRowsGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 3))
	for _, be := range []tensor.Backend{cpu, tensor.CPU()} {
		for _, shape := range [][]int{{3, 7}, {2, 2, 5}, {4, 1}, {6}} {
			x := autograd.Param(randVar(rng, nil, shape...).Value.To(be))
			if err := autograd.CheckGradients(normWeighted, []*autograd.Var{x}, 1e-6, 1e-6); err != nil {
				t.Fatalf("%s %v: %v", be.Name(), shape, err)
			}
		}
		xt := autograd.Param(randVar(rng, nil, 5, 4).Value.To(be).T())
		if err := autograd.CheckGradients(normWeighted, []*autograd.Var{xt}, 1e-6, 1e-6); err != nil {
			t.Fatalf("%s transposed: %v", be.Name(), err)
		}
	}
}

// TestNormalizeRowsAffineGradients checks the fused normalization with an
// affine by central finite differences in float64, perturbing x, γ and β,
// on both CPU backends: LayerNorm ([3, 7], γ along the features), GroupNorm
// ([2, 6, 2, 3] in 3 groups: rows [2, 3, 12], γ per channel of 6
// elements), features that straddle rows ([4, 6], 3 features of 4) and a
// transposed input; and with γ and β frozen (no gradient asked of them).
func TestNormalizeRowsAffineGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 4))
	cases := []struct {
		shape    []int
		k, inner int
	}{{[]int{3, 7}, 7, 1}, {[]int{2, 3, 12}, 6, 6}, {[]int{4, 6}, 3, 4}}
	for _, be := range []tensor.Backend{cpu, tensor.CPU()} {
		on := func(v *autograd.Var) *autograd.Var { return autograd.Param(v.Value.To(be)) }
		for _, c := range cases {
			in := []*autograd.Var{on(randVar(rng, nil, c.shape...)), on(randVar(rng, nil, c.k)), on(randVar(rng, nil, c.k))}
			f := func(in []*autograd.Var) *autograd.Var {
				return weighted(autograd.NormalizeRowsAffine(in[0], in[1], in[2], c.inner, 1e-5))
			}
			if err := autograd.CheckGradients(f, in, 1e-6, 1e-6); err != nil {
				t.Fatalf("%s %v k=%d inner=%d: %v", be.Name(), c.shape, c.k, c.inner, err)
			}
			frozen := []*autograd.Var{in[0], autograd.Const(in[1].Value), autograd.Const(in[2].Value)}
			if err := autograd.CheckGradients(f, frozen, 1e-6, 1e-6); err != nil {
				t.Fatalf("%s %v k=%d inner=%d, frozen affine: %v", be.Name(), c.shape, c.k, c.inner, err)
			}
		}
		xt := autograd.Param(randVar(rng, nil, 5, 4).Value.To(be).T())
		in := []*autograd.Var{xt, on(randVar(rng, nil, 5)), on(randVar(rng, nil, 5))}
		f := func(in []*autograd.Var) *autograd.Var {
			return weighted(autograd.NormalizeRowsAffine(in[0], in[1], in[2], 1, 1e-5))
		}
		if err := autograd.CheckGradients(f, in, 1e-6, 1e-6); err != nil {
			t.Fatalf("%s transposed: %v", be.Name(), err)
		}
	}
}

// TestAttentionGradients checks the attention rule by central finite
// differences on both CPU backends (the reference composes the forward and
// backward passes, the fast one runs its own loops for short sequences):
// more keys than queries, rank 4, and q a transposed view.
func TestAttentionGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 4))
	cases := []struct {
		q, kv      []int
		transposeQ bool // q is given as [..., d, n]
	}{
		{[]int{2, 3, 4}, []int{2, 5, 4}, false},
		{[]int{2, 2, 4, 3}, []int{2, 2, 4, 3}, false},
		{[]int{2, 3, 2}, []int{2, 3, 3}, true},
	}
	for _, be := range []tensor.Backend{cpu, tensor.CPU()} {
		for _, c := range cases {
			in := make([]*autograd.Var, 3)
			for k, shape := range [][]int{c.q, c.kv, c.kv} {
				in[k] = autograd.Param(randVar(rng, nil, shape...).Value.To(be))
			}
			f := func(in []*autograd.Var) *autograd.Var {
				q := in[0]
				if c.transposeQ {
					q = autograd.Transpose(q, -2, -1)
				}
				y := autograd.Attention(q, in[1], in[2], 0.8)
				w := tensor.RandNormal(be, tensor.Float64, 99, 1, y.Shape()...)
				return autograd.SumAll(autograd.Mul(y, autograd.Const(w)))
			}
			if err := autograd.CheckGradients(f, in, 1e-6, 1e-6); err != nil {
				t.Fatalf("%s q %v, k and v %v: %v", be.Name(), c.q, c.kv, err)
			}
		}
	}
}

// normWeighted is a weighted sum of NormalizeRows(in[0]).
func normWeighted(in []*autograd.Var) *autograd.Var {
	return weighted(autograd.NormalizeRows(in[0], 1e-5))
}

// TestGradientChecker makes sure the checker itself catches a wrong rule.
func TestGradientChecker(t *testing.T) {
	x := randVar(rand.New(rand.NewPCG(1, 2)), nil, 4)
	wrong := func(in []*autograd.Var) *autograd.Var {
		// Square's value, but Scale's gradient: a deliberately broken rule.
		sq := autograd.Square(in[0]).Value
		return weighted(autograd.Add(autograd.Scale(in[0], 0), autograd.Const(sq)))
	}
	if err := autograd.CheckGradients(wrong, []*autograd.Var{x}, 1e-6, 1e-6); err == nil {
		t.Fatal("a wrong gradient passed the check")
	}
}

func TestAccumulationAndNoGrad(t *testing.T) {
	x := autograd.Param(tensor.FromFloat64(cpu, []float64{1, 2}, 2))
	// x used twice: gradients add.
	autograd.SumAll(autograd.Add(autograd.Square(x), x)).Backward()
	if g := x.Grad.Float64s(); g[0] != 3 || g[1] != 5 {
		t.Fatalf("grad %v, want [3 5]", g)
	}
	// A second backward accumulates into Grad.
	autograd.SumAll(x).Backward()
	if g := x.Grad.Float64s(); g[0] != 4 || g[1] != 6 {
		t.Fatalf("accumulated grad %v, want [4 6]", g)
	}
	var y *autograd.Var
	autograd.NoGrad(func() { y = autograd.Square(x) })
	if y.RequiresGrad() || !y.IsLeaf() {
		t.Fatal("an op under NoGrad was recorded")
	}
	if !autograd.Recording() {
		t.Fatal("recording not restored after NoGrad")
	}
}

// TestFanInSums back-propagates through a large parameter and an
// intermediate value that are each used several times, so that the pass
// adds contributions, frees the sums that larger ones replace (their
// storage is recycled by the CPU backend) and hands the last one on: the
// gradients must still be exact.
func TestFanInSums(t *testing.T) {
	const n = 1 << 14 // 128 KiB of float64: recycled when freed
	ones := make([]float64, n)
	for i := range ones {
		ones[i] = 1
	}
	x := autograd.Param(tensor.FromFloat64(cpu, ones, n))
	h := autograd.Scale(x, 2) // used three times below
	var terms []*autograd.Var
	for c := 1; c <= 4; c++ {
		terms = append(terms, autograd.Scale(x, float64(c)))
	}
	for range 3 {
		terms = append(terms, autograd.Square(h))
	}
	loss := terms[0]
	for _, term := range terms[1:] {
		loss = autograd.Add(loss, term)
	}
	autograd.SumAll(loss).Backward()
	// d/dx of (1+2+3+4)·x + 3·(2x)² = 10 + 24x, at x = 1.
	for i, g := range x.Grad.Float64s() {
		if g != 34 {
			t.Fatalf("grad[%d] = %v, want 34", i, g)
		}
	}
	// Add hands one gradient tensor to both of its inputs: when a gets a
	// second contribution, that tensor may still be b's and must not be
	// freed. Every order of the terms, so that b is processed both before
	// and after a's second contribution.
	for _, order := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		x := autograd.Param(tensor.FromFloat64(cpu, ones, n))
		a, b := autograd.Scale(x, 1), autograd.Scale(x, 3)
		terms := []*autograd.Var{autograd.Add(a, b), autograd.Square(a), autograd.Mul(b, b)}
		loss := autograd.Add(autograd.Add(terms[order[0]], terms[order[1]]), terms[order[2]])
		autograd.SumAll(loss).Backward()
		// d/dx of x + 3x + x² + 9x² = 4 + 20x, at x = 1.
		if g := x.Grad.Float64s(); g[0] != 24 || g[n-1] != 24 {
			t.Fatalf("order %v: grad %v…%v, want 24", order, g[0], g[n-1])
		}
	}
}

func TestBackwardTwicePanics(t *testing.T) {
	x := autograd.Param(tensor.FromFloat64(cpu, []float64{1, 2}, 2))
	y := autograd.SumAll(autograd.Square(autograd.Exp(x)))
	y.Backward()
	defer func() {
		if recover() == nil {
			t.Fatal("a second Backward through a freed graph did not panic")
		}
	}()
	y.Backward()
}

// TestGradLeavesLeavesAlone checks Grad against Backward and that it
// changes no leaf's Grad; InputGrad records even inside NoGrad.
func TestGradLeavesLeavesAlone(t *testing.T) {
	b := tensor.CPUReference()
	w := autograd.Param(tensor.FromFloat64(b, []float64{1, -2, 0.5, 3, 1, -1}, 3, 2))
	x := autograd.Param(tensor.FromFloat64(b, []float64{0.3, -0.7, 1.1, 0.2, -0.4, 0.9}, 2, 3))
	f := func(x *autograd.Var) *autograd.Var { return autograd.Tanh(autograd.MatMul(x, w)) }
	autograd.SumAll(f(x)).Backward()
	wantX, wantW := x.Grad.Float64s(), w.Grad.Float64s()
	w.Grad, x.Grad = nil, nil
	g := autograd.Grad(autograd.SumAll(f(x)), x, w)
	if w.Grad != nil || x.Grad != nil {
		t.Fatal("Grad changed a leaf's Grad")
	}
	for i, v := range g[0].Float64s() {
		if v != wantX[i] {
			t.Fatalf("∂/∂x[%d] = %v, Backward gives %v", i, v, wantX[i])
		}
	}
	for i, v := range g[1].Float64s() {
		if v != wantW[i] {
			t.Fatalf("∂/∂w[%d] = %v, Backward gives %v", i, v, wantW[i])
		}
	}
	var in *tensor.Tensor
	autograd.NoGrad(func() { in = autograd.InputGrad(f, x.Value) })
	for i, v := range in.Float64s() {
		if v != wantX[i] {
			t.Fatalf("InputGrad under NoGrad [%d] = %v, want %v", i, v, wantX[i])
		}
	}
	if w.Grad != nil {
		t.Fatal("InputGrad changed a parameter's Grad")
	}
	// An output that does not depend on the input has a zero gradient.
	zero := autograd.InputGrad(func(*autograd.Var) *autograd.Var { return autograd.SumAll(w) }, x.Value)
	for _, v := range zero.Float64s() {
		if v != 0 {
			t.Fatal("InputGrad of a constant is not zero")
		}
	}
}
