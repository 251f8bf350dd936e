// Package backendtest checks a tensor.Backend against float64 references
// computed on the host, op by op, the way gonum's testblas checks a BLAS: every
// backend's tests call Run.
package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/difftune/difftune/tensor"
	"github.com/difftune/difftune/tensor/philox"
)

// Tolerances are the largest relative errors, |got − want| ≤ tol·(1 + |want|),
// accepted per family of operations and dtype.
type Tolerances struct {
	Elementwise, Reduce, MatMul float64
}

// Float32Tol and Float64Tol are the tolerances of float32 and float64 arithmetic.
var (
	Float32Tol = Tolerances{Elementwise: 2e-6, Reduce: 1e-5, MatMul: 1e-5}
	Float64Tol = Tolerances{Elementwise: 1e-13, Reduce: 1e-12, MatMul: 1e-12}
)

// Run checks every operation of b in each dtype (with its tolerances).
func Run(t *testing.T, b tensor.Backend, dtypes map[tensor.DType]Tolerances) {
	for dt, tol := range dtypes {
		s := &suite{b: b, dt: dt, tol: tol, rng: rand.New(rand.NewPCG(1, uint64(dt)))}
		t.Run(dt.String(), func(t *testing.T) {
			t.Run("Copy", s.testCopy)
			t.Run("Fill", s.testFill)
			t.Run("Unary", s.testUnary)
			t.Run("Binary", s.testBinary)
			t.Run("Where", s.testWhere)
			t.Run("Reduce", s.testReduce)
			t.Run("SumTo", s.testSumTo)
			t.Run("Softmax", s.testSoftmax)
			t.Run("MatMul", s.testMatMul)
			t.Run("IndexSelect", s.testIndex)
			t.Run("Im2Col", s.testIm2Col)
			t.Run("Conv2d", s.testConv2d)
			t.Run("Random", s.testRandom)
			t.Run("Adam", s.testAdam)
			t.Run("EulerMaruyama", s.testEulerMaruyama)
			t.Run("NormalizeRows", s.testNormalizeRows)
			t.Run("NormalizeRowsGrad", s.testNormalizeRowsGrad)
			t.Run("Attention", s.testAttention)
			t.Run("AttentionGrad", s.testAttentionGrad)
		})
	}
}

type suite struct {
	b   tensor.Backend
	dt  tensor.DType
	tol Tolerances
	rng *rand.Rand
}

func (s *suite) randn(shape ...int) ([]float64, *tensor.Tensor) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = s.rng.NormFloat64()
		if s.dt == tensor.Float32 {
			v[i] = float64(float32(v[i]))
		}
	}
	return v, tensor.FromFloat64As(s.b, s.dt, v, shape...)
}

func check(t *testing.T, what string, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	g := got.Float64s()
	if len(g) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(g), len(want))
	}
	for i := range g {
		if math.IsNaN(want[i]) && math.IsNaN(g[i]) || math.IsInf(want[i], 0) && g[i] == want[i] {
			continue
		}
		if d := math.Abs(g[i] - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: element %d = %.9g, want %.9g (|diff| %.3g > tol %.3g)", what, i, g[i], want[i], d, tol)
		}
	}
}

// strided returns a non-contiguous view with the values of v in shape [r, c]:
// the transpose of a contiguous [c, r] tensor.
func (s *suite) strided(v []float64, r, c int) *tensor.Tensor {
	tr := make([]float64, len(v))
	for i := range r {
		for j := range c {
			tr[j*r+i] = v[i*c+j]
		}
	}
	return tensor.FromFloat64As(s.b, s.dt, tr, c, r).T()
}

func (s *suite) testCopy(t *testing.T) {
	v, _ := s.randn(7, 5)
	check(t, "contiguous copy of a transposed view", s.strided(v, 7, 5).Contiguous(), v, 0)
	dst := tensor.Zeros(s.b, s.dt, 7, 9)
	dst.Slice(1, 2, 7).CopyFrom(s.strided(v, 7, 5))
	want := make([]float64, 63)
	for i := range 7 {
		for j := range 5 {
			want[i*9+2+j] = v[i*5+j]
		}
	}
	check(t, "copy into a slice", dst, want, 0)
	a, ta := s.randn(3, 2)
	b, tb := s.randn(3, 4)
	cat := tensor.Concat(1, ta, tb)
	want = nil
	for i := range 3 {
		want = append(append(want, a[i*2:i*2+2]...), b[i*4:i*4+4]...)
	}
	check(t, "concat", cat, want, 0)
}

func (s *suite) testFill(t *testing.T) {
	check(t, "fill", tensor.Full(s.b, s.dt, 2.5, 3, 333), repeat(2.5, 999), 0)
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// unaryRefs are the float64 references of the unary ops, with the parameter
// used and a transform that keeps inputs in the domain.
var unaryRefs = []struct {
	op     tensor.UnaryOp
	p      float64
	domain func(float64) float64
	ref    func(x, p float64) float64
}{
	{tensor.OpNeg, 0, nil, func(x, _ float64) float64 { return -x }},
	{tensor.OpExp, 0, nil, func(x, _ float64) float64 { return math.Exp(x) }},
	{tensor.OpLog, 0, math.Abs, func(x, _ float64) float64 { return math.Log(x) }},
	{tensor.OpSqrt, 0, math.Abs, func(x, _ float64) float64 { return math.Sqrt(x) }},
	{tensor.OpRsqrt, 0, func(x float64) float64 { return math.Abs(x) + 0.1 }, func(x, _ float64) float64 { return 1 / math.Sqrt(x) }},
	{tensor.OpTanh, 0, nil, func(x, _ float64) float64 { return math.Tanh(x) }},
	{tensor.OpSigmoid, 0, nil, func(x, _ float64) float64 { return 1 / (1 + math.Exp(-x)) }},
	{tensor.OpSiLU, 0, nil, func(x, _ float64) float64 { return x / (1 + math.Exp(-x)) }},
	{tensor.OpReLU, 0, nil, func(x, _ float64) float64 { return math.Max(x, 0) }},
	{tensor.OpAbs, 0, nil, func(x, _ float64) float64 { return math.Abs(x) }},
	{tensor.OpSquare, 0, nil, func(x, _ float64) float64 { return x * x }},
	{tensor.OpSin, 0, nil, func(x, _ float64) float64 { return math.Sin(x) }},
	{tensor.OpCos, 0, nil, func(x, _ float64) float64 { return math.Cos(x) }},
	{tensor.OpRecip, 0, func(x float64) float64 { return math.Abs(x) + 0.1 }, func(x, _ float64) float64 { return 1 / x }},
	{tensor.OpPowScalar, 1.7, math.Abs, func(x, p float64) float64 { return math.Pow(x, p) }},
	{tensor.OpAddScalar, -0.3, nil, func(x, p float64) float64 { return x + p }},
	{tensor.OpMulScalar, 2.5, nil, func(x, p float64) float64 { return x * p }},
	{tensor.OpMaxScalar, 0.2, nil, func(x, p float64) float64 { return math.Max(x, p) }},
	{tensor.OpMinScalar, 0.2, nil, func(x, p float64) float64 { return math.Min(x, p) }},
	{tensor.OpStep, 0, nil, func(x, _ float64) float64 { return map[bool]float64{true: 1, false: 0}[x > 0] }},
	{tensor.OpSoftplus, 0, func(x float64) float64 { return 30 * x }, func(x, _ float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }},
}

func (s *suite) testUnary(t *testing.T) {
	for _, u := range unaryRefs {
		v, _ := s.randn(9, 70)
		if u.domain != nil {
			for i := range v {
				v[i] = u.domain(v[i])
				if s.dt == tensor.Float32 {
					v[i] = float64(float32(v[i]))
				}
			}
		}
		want := make([]float64, len(v))
		for i, x := range v {
			want[i] = u.ref(x, u.p)
		}
		// Through a strided view, so that the general loop is checked too.
		got := tensor.Apply(u.op, s.strided(v, 9, 70), u.p)
		check(t, u.op.String(), got, want, s.tol.Elementwise)
		big := tensor.FromFloat64As(s.b, s.dt, append(append([]float64{}, v...), v...), 2*9*70)
		check(t, u.op.String()+" contiguous", tensor.Apply(u.op, big, u.p), append(append([]float64{}, want...), want...), s.tol.Elementwise)
	}
	if s.dt == tensor.Float32 {
		// The float32 exp must saturate, not wrap, at the ends of the range.
		x := tensor.FromFloat64As(s.b, s.dt, []float64{-200, -90, 0, 88, 100, math.Inf(-1)}, 6)
		check(t, "exp range", tensor.Exp(x), []float64{0, math.Exp(-90), 1, math.Exp(88), math.Inf(1), 0}, 1e-6)
		check(t, "sigmoid range", tensor.Apply(tensor.OpSigmoid, x, 0), []float64{0, 0, 0.5, 1, 1, 0}, 1e-6)
	}
}

var binaryRefs = []struct {
	op  tensor.BinaryOp
	ref func(a, b float64) float64
}{
	{tensor.OpAdd, func(a, b float64) float64 { return a + b }},
	{tensor.OpSub, func(a, b float64) float64 { return a - b }},
	{tensor.OpMul, func(a, b float64) float64 { return a * b }},
	{tensor.OpDiv, func(a, b float64) float64 { return a / b }},
	{tensor.OpPow, func(a, b float64) float64 { return math.Pow(a, b) }},
	{tensor.OpMaximum, math.Max},
	{tensor.OpMinimum, math.Min},
	{tensor.OpGreater, func(a, b float64) float64 { return map[bool]float64{true: 1, false: 0}[a > b] }},
	{tensor.OpSiLUGrad, func(x, g float64) float64 {
		s := 1 / (1 + math.Exp(-x))
		return g * s * (1 + x*(1-s))
	}},
	{tensor.OpTanhGrad, func(y, g float64) float64 { return g * (1 - y*y) }},
	{tensor.OpSigmoidGrad, func(y, g float64) float64 { return g * y * (1 - y) }},
	{tensor.OpReLUGrad, func(x, g float64) float64 { return map[bool]float64{true: g, false: 0}[x > 0] }},
}

func (s *suite) testBinary(t *testing.T) {
	// Shapes that exercise broadcasting: full, a row, a column, a scalar.
	shapes := [][2][]int{{{6, 50}, {6, 50}}, {{6, 50}, {50}}, {{6, 1}, {6, 50}}, {{6, 50}, {}}, {{3, 1, 5}, {4, 1}}}
	for _, br := range binaryRefs {
		for _, sh := range shapes {
			a, ta := s.randn(sh[0]...)
			b, tb := s.randn(sh[1]...)
			if br.op == tensor.OpPow {
				for i := range a {
					a[i] = math.Abs(a[i])
				}
				ta = tensor.FromFloat64As(s.b, s.dt, a, sh[0]...)
			}
			out := tensor.BroadcastShapes(sh[0], sh[1])
			want := make([]float64, numel(out))
			for i := range want {
				want[i] = br.ref(a[bcastIndex(i, out, sh[0])], b[bcastIndex(i, out, sh[1])])
			}
			check(t, fmt.Sprintf("%v %v %v", br.op, sh[0], sh[1]), tensor.Combine(br.op, ta, tb), want, s.tol.Elementwise)
		}
	}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// bcastIndex maps flat index i of shape out to the flat index of a broadcast operand.
func bcastIndex(i int, out, in []int) int {
	idx, stride := 0, 1
	for d := len(out) - 1; d >= 0; d-- {
		c := i % out[d]
		i /= out[d]
		if k := d - (len(out) - len(in)); k >= 0 {
			if in[k] != 1 {
				idx += c * stride
			}
			stride *= in[k]
		}
	}
	return idx
}

func (s *suite) testWhere(t *testing.T) {
	c, tc := s.randn(4, 7)
	a, ta := s.randn(4, 7)
	b, tb := s.randn(7)
	for i := range c {
		c[i] = map[bool]float64{true: 1, false: 0}[c[i] > 0]
	}
	tc = tensor.FromFloat64As(s.b, s.dt, c, 4, 7)
	want := make([]float64, 28)
	for i := range want {
		if c[i] != 0 {
			want[i] = a[i]
		} else {
			want[i] = b[i%7]
		}
	}
	check(t, "where", tensor.Where(tc, ta, tb), want, 0)
}

func (s *suite) testReduce(t *testing.T) {
	shape := []int{5, 67, 6}
	v, x := s.randn(shape...)
	for axis := range 3 {
		for _, op := range []tensor.ReduceOp{tensor.ReduceSum, tensor.ReduceMax, tensor.ReduceMin, tensor.ReduceLogSumExp, tensor.ReduceArgMax} {
			want := reduceRef(op, v, shape, axis)
			tol := s.tol.Reduce
			if op == tensor.ReduceArgMax {
				tol = 0
			}
			check(t, fmt.Sprintf("%v axis %d", op, axis), tensor.Reduce(op, x, axis, false), want, tol)
			check(t, fmt.Sprintf("%v axis %d of a permuted view", op, axis), tensor.Reduce(op, x.Permute(0, 1, 2).Transpose(0, 1).Transpose(0, 1), axis, false), want, tol)
		}
	}
	// Large values: logsumexp must not overflow.
	big := tensor.FromFloat64As(s.b, s.dt, []float64{1000, 1000, -1000}, 3)
	check(t, "logsumexp of large values", tensor.LogSumExp(big, 0, false), []float64{1000 + math.Log(2)}, s.tol.Reduce)
}

func reduceRef(op tensor.ReduceOp, v []float64, shape []int, axis int) []float64 {
	outer, n, inner := 1, shape[axis], 1
	for i, d := range shape {
		if i < axis {
			outer *= d
		} else if i > axis {
			inner *= d
		}
	}
	out := make([]float64, outer*inner)
	for o := range outer {
		for i := range inner {
			col := make([]float64, n)
			for j := range n {
				col[j] = v[(o*n+j)*inner+i]
			}
			var r float64
			switch op {
			case tensor.ReduceSum:
				for _, c := range col {
					r += c
				}
			case tensor.ReduceMax, tensor.ReduceArgMax:
				r = col[0]
				arg := 0
				for j, c := range col {
					if c > r {
						r, arg = c, j
					}
				}
				if op == tensor.ReduceArgMax {
					r = float64(arg)
				}
			case tensor.ReduceMin:
				r = col[0]
				for _, c := range col {
					r = math.Min(r, c)
				}
			case tensor.ReduceLogSumExp:
				m := math.Inf(-1)
				for _, c := range col {
					m = math.Max(m, c)
				}
				for _, c := range col {
					r += math.Exp(c - m)
				}
				r = m + math.Log(r)
			}
			out[o*inner+i] = r
		}
	}
	return out
}

// testSumTo checks SumTo (the adjoint of broadcasting: runs of adjacent
// axes merged, innermost first) against loops in float64, on a contiguous
// tensor and on a transposed view of it, and that the input is unchanged.
func (s *suite) testSumTo(t *testing.T) {
	shape := []int{3, 4, 5, 6}
	v, x := s.randn(shape...)
	for _, to := range [][]int{{4, 1, 1}, {1, 4, 1, 1}, {6}, {5, 1}, {3, 1, 5, 1}, {1}, {3, 4, 5, 6}} {
		lead := len(shape) - len(to)
		// out index of element (i0, i1, i2, i3): reduced axes read as 0.
		want := make([]float64, numel(to))
		for i, val := range v {
			rest, o, stride := i, 0, 1
			for a := len(shape) - 1; a >= 0; a-- {
				c := rest % shape[a]
				rest /= shape[a]
				if a >= lead && to[a-lead] != 1 {
					o += c * stride
				}
				if a >= lead {
					stride *= to[a-lead]
				}
			}
			want[o] += val
		}
		check(t, fmt.Sprintf("SumTo %v", to), tensor.SumTo(x, to), want, s.tol.Reduce)
	}
	check(t, "SumTo input", x, v, 0)
	// A transposed view: sum [6, 5, 4, 3] (axes reversed) to [1, 5, 1, 1].
	xt := x.Permute(3, 2, 1, 0)
	want := make([]float64, 5)
	for i, val := range v {
		want[(i/6)%5] += val
	}
	check(t, "SumTo of a view", tensor.SumTo(xt, []int{1, 5, 1, 1}), want, s.tol.Reduce)
}

func (s *suite) testSoftmax(t *testing.T) {
	shape := []int{4, 9, 3}
	v, x := s.randn(shape...)
	for axis := range 3 {
		lse := reduceRef(tensor.ReduceLogSumExp, v, shape, axis)
		want := make([]float64, len(v))
		logWant := make([]float64, len(v))
		for i := range v {
			// Index of i's reduced position.
			o, rest := i/(shape[axis]*strideAfter(shape, axis)), i%strideAfter(shape, axis)
			l := lse[o*strideAfter(shape, axis)+rest]
			logWant[i] = v[i] - l
			want[i] = math.Exp(logWant[i])
		}
		check(t, fmt.Sprintf("softmax axis %d", axis), tensor.Softmax(x, axis), want, s.tol.Reduce)
		check(t, fmt.Sprintf("log-softmax axis %d", axis), tensor.LogSoftmax(x, axis), logWant, s.tol.Reduce)
	}
	// Rows long enough for vector lanes (37: whole vectors and a tail),
	// values spread over a range of 200, and masked entries (−Inf), whose
	// probabilities must be exactly 0 and their log-probabilities −Inf.
	rows, n := 4, 37
	v = make([]float64, rows*n)
	for i := range v {
		v[i] = 100 * math.Sin(float64(7*i+1))
		if i%5 == 2 {
			v[i] = math.Inf(-1)
		}
	}
	x = tensor.FromFloat64As(s.b, s.dt, v, rows, n)
	lse := reduceRef(tensor.ReduceLogSumExp, v, []int{rows, n}, 1)
	want, logWant := make([]float64, len(v)), make([]float64, len(v))
	for i := range v {
		logWant[i] = v[i] - lse[i/n]
		want[i] = math.Exp(logWant[i])
	}
	sm, lsm := tensor.Softmax(x, 1), tensor.LogSoftmax(x, 1)
	check(t, "softmax of long rows", sm, want, s.tol.Reduce)
	got, logGot := sm.Float64s(), lsm.Float64s()
	for i := range v {
		if math.IsInf(v[i], -1) && (got[i] != 0 || !math.IsInf(logGot[i], -1)) {
			t.Fatalf("softmax of a masked entry [%d]: %g (log %g), want 0 (log −Inf)", i, got[i], logGot[i])
		}
		if !math.IsInf(v[i], -1) {
			if d := math.Abs(logGot[i] - logWant[i]); !(d <= s.tol.Reduce*(1+math.Abs(logWant[i]))) {
				t.Fatalf("log-softmax of long rows [%d] = %g, want %g", i, logGot[i], logWant[i])
			}
		}
	}
}

func strideAfter(shape []int, axis int) int {
	n := 1
	for _, d := range shape[axis+1:] {
		n *= d
	}
	return n
}

func matmulRef(a, b []float64, batchA, batchB, m, n, k int, transA, transB bool) []float64 {
	batch := max(batchA, batchB)
	out := make([]float64, batch*m*n)
	for p := range batch {
		ao, bo := (p%batchA)*m*k, (p%batchB)*k*n
		for i := range m {
			for j := range n {
				var acc float64
				for l := range k {
					ai := ao + i*k + l
					if transA {
						ai = ao + l*m + i
					}
					bi := bo + l*n + j
					if transB {
						bi = bo + j*k + l
					}
					acc += a[ai] * b[bi]
				}
				out[(p*m+i)*n+j] = acc
			}
		}
	}
	return out
}

func (s *suite) testMatMul(t *testing.T) {
	type tc struct{ batchA, batchB, m, n, k int }
	cases := []tc{{1, 1, 1, 1, 1}, {1, 1, 7, 5, 3}, {1, 1, 33, 65, 17}, {1, 1, 130, 40, 70}, {3, 3, 6, 7, 8}, {4, 1, 13, 9, 11}, {1, 4, 5, 6, 7}, {1, 1, 64, 2, 256}, {1, 1, 5, 3, 0}}
	for _, c := range cases {
		for _, transA := range []bool{false, true} {
			for _, transB := range []bool{false, true} {
				aShape := []int{c.batchA, c.m, c.k}
				if transA {
					aShape = []int{c.batchA, c.k, c.m}
				}
				bShape := []int{c.batchB, c.k, c.n}
				if transB {
					bShape = []int{c.batchB, c.n, c.k}
				}
				a, ta := s.randn(aShape...)
				b, tb := s.randn(bShape...)
				want := matmulRef(a, b, c.batchA, c.batchB, c.m, c.n, c.k, transA, transB)
				name := fmt.Sprintf("%+v transA=%v transB=%v", c, transA, transB)
				check(t, name, tensor.MatMulT(ta, tb, transA, transB), want, s.tol.MatMul*math.Sqrt(float64(c.k+1)))
				if c.batchA != 1 || c.batchB != 1 {
					continue
				}
				// Fused epilogue on 2-D operands: bias and each activation.
				bias, tbias := s.randn(c.n)
				for _, act := range []tensor.Activation{tensor.ActNone, tensor.ActReLU, tensor.ActSiLU, tensor.ActTanh, tensor.ActSigmoid} {
					out, deriv := tensor.Gemm(ta.Reshape(aShape[1:]...), tb.Reshape(bShape[1:]...), tensor.GemmOpts{TransA: transA, TransB: transB, Bias: tbias, Act: act, KeepDeriv: true})
					y := make([]float64, len(want))
					dy := make([]float64, len(want))
					for i := range want {
						z := want[i] + bias[i%c.n]
						y[i], dy[i] = activate(act, z), activateDeriv(act, z)
					}
					tol := s.tol.MatMul * math.Sqrt(float64(c.k+1))
					check(t, name+" bias "+act.String(), out, y, tol)
					if act == tensor.ActNone {
						if deriv != nil {
							t.Fatalf("%s: a derivative for the identity", name)
						}
						continue
					}
					check(t, name+" bias derivative "+act.String(), deriv, dy, tol)
				}
			}
		}
	}
	// A transposed view and a batch-broadcast weight.
	a, _ := s.randn(6, 4)
	b, tb := s.randn(4, 3)
	check(t, "strided operand", tensor.MatMul(s.strided(a, 6, 4), tb), matmulRef(a, b, 1, 1, 6, 3, 4, false, false), s.tol.MatMul*3)
	a3, ta3 := s.randn(2, 6, 4)
	check(t, "batched times shared weight", tensor.MatMul(ta3, tb), matmulRef(a3, b, 2, 1, 6, 3, 4, false, false), s.tol.MatMul*3)
}

func activateDeriv(act tensor.Activation, z float64) float64 {
	switch act {
	case tensor.ActReLU:
		if z > 0 {
			return 1
		}
		return 0
	case tensor.ActSiLU:
		s := 1 / (1 + math.Exp(-z))
		return s * (1 + z*(1-s))
	case tensor.ActTanh:
		return 1 - math.Tanh(z)*math.Tanh(z)
	case tensor.ActSigmoid:
		s := 1 / (1 + math.Exp(-z))
		return s * (1 - s)
	}
	return 1
}

func activate(act tensor.Activation, z float64) float64 {
	switch act {
	case tensor.ActReLU:
		return math.Max(z, 0)
	case tensor.ActSiLU:
		return z / (1 + math.Exp(-z))
	case tensor.ActTanh:
		return math.Tanh(z)
	case tensor.ActSigmoid:
		return 1 / (1 + math.Exp(-z))
	}
	return z
}

func (s *suite) testIndex(t *testing.T) {
	v, x := s.randn(3, 5, 2)
	idx := []int{4, 0, 4, 2}
	var want []float64
	for o := range 3 {
		for _, i := range idx {
			want = append(want, v[(o*5+i)*2:(o*5+i+1)*2]...)
		}
	}
	sel := tensor.IndexSelect(x, 1, idx)
	check(t, "index select", sel, want, 0)
	back := make([]float64, len(v))
	for o := range 3 {
		for j, i := range idx {
			for k := range 2 {
				back[(o*5+i)*2+k] += want[(o*4+j)*2+k]
			}
		}
	}
	check(t, "index add", tensor.IndexAdd(sel, 1, idx, []int{3, 5, 2}), back, s.tol.Elementwise)
	oh := tensor.OneHot(s.b, s.dt, []int{2, 0}, 3)
	check(t, "one hot", oh, []float64{0, 0, 1, 1, 0, 0}, 0)
	if got := tensor.ArgMax(oh, 1); got[0] != 2 || got[1] != 0 {
		t.Fatalf("argmax of one-hot rows = %v, want [2 0]", got)
	}
}

func (s *suite) testIm2Col(t *testing.T) {
	for _, g := range []tensor.ConvGeom{
		tensor.NewConvGeom(2, 3, 5, 6, 3, 3, 1, 1), tensor.NewConvGeom(1, 2, 7, 7, 3, 2, 2, 0), tensor.NewConvGeom(1, 1, 4, 4, 1, 1, 1, 0),
		// Stride 2 (unfolded from the two phases of each row): even and
		// odd sizes, the UNet's 3×3 with padding 1, a 4×4 kernel, padding
		// wider than half the kernel, a single row, a single column; and
		// stride 3.
		tensor.NewConvGeom(2, 2, 8, 8, 3, 3, 2, 1), tensor.NewConvGeom(1, 2, 9, 10, 4, 4, 2, 1),
		tensor.NewConvGeom(1, 1, 6, 7, 5, 5, 2, 3), tensor.NewConvGeom(1, 2, 1, 9, 3, 3, 2, 1),
		tensor.NewConvGeom(1, 1, 3, 2, 1, 1, 2, 0), tensor.NewConvGeom(1, 1, 3, 1, 3, 3, 2, 1),
		tensor.NewConvGeom(1, 2, 10, 11, 3, 3, 3, 1),
	} {
		v, x := s.randn(g.N, g.C, g.H, g.W)
		rows, sp := g.C*g.KH*g.KW, g.OutH*g.OutW
		want := make([]float64, g.N*rows*sp)
		for n := range g.N {
			for c := range g.C {
				for ky := range g.KH {
					for kx := range g.KW {
						r := (c*g.KH+ky)*g.KW + kx
						for oy := range g.OutH {
							for ox := range g.OutW {
								y, xx := oy*g.Stride-g.Pad+ky, ox*g.Stride-g.Pad+kx
								if y >= 0 && y < g.H && xx >= 0 && xx < g.W {
									want[(n*rows+r)*sp+oy*g.OutW+ox] = v[((n*g.C+c)*g.H+y)*g.W+xx]
								}
							}
						}
					}
				}
			}
		}
		cols := tensor.Im2Col(x, g)
		check(t, fmt.Sprintf("im2col %+v", g), cols, want, 0)
		// Col2Im is the adjoint: <Im2Col(x), c> = <x, Col2Im(c)>.
		cv, ct := s.randn(g.N, rows, sp)
		var lhs, rhs float64
		for i := range want {
			lhs += want[i] * cv[i]
		}
		img := tensor.Col2Im(ct, g).Float64s()
		for i := range v {
			rhs += v[i] * img[i]
		}
		if !(math.Abs(lhs-rhs) <= s.tol.Reduce*10*(1+math.Abs(lhs))) { // NaN fails
			t.Fatalf("col2im is not the adjoint of im2col: %v vs %v", lhs, rhs)
		}
	}
}

func (s *suite) testRandom(t *testing.T) {
	const n = 1 << 16
	x := tensor.RandNormal(s.b, s.dt, 7, 3, n)
	ref := make([]float64, n)
	if s.dt == tensor.Float64 {
		philox.Normal64(7, 3, ref)
	} else {
		f := make([]float32, n)
		philox.Normal32(7, 3, f)
		for i, v := range f {
			ref[i] = float64(v)
		}
	}
	check(t, "normals match the Philox stream", x, ref, 1e-5)
	var mean, sq float64
	for _, v := range ref {
		mean += v
		sq += v * v
	}
	mean /= n
	if math.Abs(mean) > 5/math.Sqrt(n) || math.Abs(sq/n-1) > 5*math.Sqrt(2.0/n) {
		t.Fatalf("normals: mean %v, second moment %v", mean, sq/n)
	}
	u := tensor.RandUniform(s.b, s.dt, 7, 4, n).Float64s()
	for _, v := range u {
		if !(v > 0 && v < 1) {
			t.Fatalf("uniform %v outside (0, 1)", v)
		}
	}
	other := tensor.RandNormal(s.b, s.dt, 7, 4, 8).Float64s()
	if other[0] == ref[0] && other[1] == ref[1] {
		t.Fatal("different draws gave the same numbers")
	}
}

func (s *suite) testAdam(t *testing.T) {
	p, tp := s.randn(300)
	g, tg := s.randn(300)
	m, tm := s.randn(300)
	v, _ := s.randn(300)
	for i := range v {
		v[i] = math.Abs(v[i])
	}
	tv := tensor.FromFloat64As(s.b, s.dt, v, 300)
	h := tensor.AdamHyper{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, Step: 3}
	tensor.AdamStep(tp, tg, tm, tv, h)
	wantP, wantM, wantV := make([]float64, 300), make([]float64, 300), make([]float64, 300)
	for i := range p {
		wantM[i] = 0.9*m[i] + 0.1*g[i]
		wantV[i] = 0.999*v[i] + 0.001*g[i]*g[i]
		mh := wantM[i] / (1 - math.Pow(0.9, 3))
		vh := wantV[i] / (1 - math.Pow(0.999, 3))
		wantP[i] = p[i] - 0.01*(mh/(math.Sqrt(vh)+1e-8)+0.1*p[i])
	}
	check(t, "adam m", tm, wantM, s.tol.Elementwise)
	check(t, "adam v", tv, wantV, s.tol.Elementwise)
	check(t, "adam param", tp, wantP, s.tol.Elementwise*10)
}

// testEulerMaruyama checks the fused Euler–Maruyama step against a float64
// reference built from the Philox stream of the package philox. Tolerances:
// next within 4·Elementwise (four rounded terms) plus, in float32, 1e-5·Noise
// (a device's float32 Box–Muller matches the stream to 1e-5, as in
// testRandom); the KL within Reduce (a sum over the row).
func (s *suite) testEulerMaruyama(t *testing.T) {
	c := tensor.EMCoeffs{X: 1.05, Eps: -0.8, U: 0.01, Noise: 0.3, KL: 0.07}
	const seed, draw = 11, 5<<32 + 3
	for _, shape := range [][]int{{37, 2}, {9, 5}, {4, 33}, {5, 3, 2}, {6, 1}, {3}} {
		rows := shape[0]
		n := numel(shape)
		d := n / rows
		xv, x := s.randn(shape...)
		ev, eps := s.randn(shape...)
		uv, u := s.randn(shape...)
		kv, kl := s.randn(rows)
		xi := make([]float64, n)
		if s.dt == tensor.Float64 {
			philox.Normal64(seed, draw, xi)
		} else {
			f := make([]float32, n)
			philox.Normal32(seed, draw, f)
			for i, v := range f {
				xi[i] = float64(v)
			}
		}
		want := make([]float64, n)
		wantFree := make([]float64, n)
		wantKL := make([]float64, rows)
		for r := range rows {
			var sq float64
			for j := range d {
				i := r*d + j
				wantFree[i] = c.X*xv[i] + c.Eps*ev[i] + c.Noise*xi[i]
				want[i] = wantFree[i] + c.U*uv[i]
				sq += uv[i] * uv[i]
			}
			wantKL[r] = kv[r] + c.KL*sq
		}
		tol := 4 * s.tol.Elementwise
		if s.dt == tensor.Float32 {
			tol += 1e-5 * c.Noise
		}
		name := fmt.Sprint(shape)
		next, klNext := tensor.EulerMaruyamaStep(x, eps, u, kl, c, seed, draw)
		check(t, name+" next", next, want, tol)
		check(t, name+" kl", klNext, wantKL, s.tol.Reduce)
		if !slices.Equal(next.Shape(), shape) {
			t.Fatalf("%s: next has shape %v", name, next.Shape())
		}
		// Without a control: no u term, kl passed through untouched.
		free, same := tensor.EulerMaruyamaStep(x, eps, nil, kl, c, seed, draw)
		check(t, name+" next without control", free, wantFree, tol)
		if same != kl {
			t.Fatalf("%s: kl without a control was not passed through", name)
		}
		if len(shape) == 2 && d > 1 {
			// Strided operands are read through their views.
			sx, su := s.strided(xv, rows, d), s.strided(uv, rows, d)
			next, klNext = tensor.EulerMaruyamaStep(sx, eps, su, kl, c, seed, draw)
			check(t, name+" strided next", next, want, tol)
			check(t, name+" strided kl", klNext, wantKL, s.tol.Reduce)
		}
	}
}

// affineCase is an affine of the row-normalization tests: x's shape, and γ
// and β of length k along the middle axis of x viewed as [outer, k, inner]
// (tensor.Affine).
type affineCase struct {
	shape    []int
	k, inner int
}

// affineCases: LayerNorm (inner 1), rows of length 1 (y = β), GroupNorm
// of [2, 6, 5, 4] in 3 groups (rows [2, 3, 40], γ per channel of 20
// elements) and of [2, 8, 28, 28] in 4 (rows of 1568), and features that
// straddle rows ([4, 6] with 3 features of 4 elements).
var affineCases = []affineCase{{[]int{3, 7}, 7, 1}, {[]int{5, 1}, 1, 1}, {[]int{2, 3, 40}, 6, 20}, {[]int{2, 4, 1568}, 8, 784}, {[]int{4, 6}, 3, 4}}

// affineOf returns an affine of k features of inner elements with random
// γ (offset: sliced off a longer tensor) and β, and their values.
func (s *suite) affineOf(k, inner int) (aff *tensor.Affine, gamma, beta []float64) {
	gv, gt := s.randn(k + 2)
	beta, bt := s.randn(k)
	return &tensor.Affine{Gamma: gt.Slice(0, 2, k+2), Beta: bt, Inner: inner}, gv[2:], beta
}

// normalizedRef is ŷ = (x − mean)·rstd in float64, then ŷ·γ + β with
// gamma (feature of element i: (i/inner) mod len(gamma)).
func normalizedRef(v, mean, rstd, gamma, beta []float64, inner int) []float64 {
	d := len(v) / len(mean)
	y := make([]float64, len(v))
	for i, x := range v {
		y[i] = (x - mean[i/d]) * rstd[i/d]
		if gamma != nil {
			c := i / inner % len(gamma)
			y[i] = y[i]*gamma[c] + beta[c]
		}
	}
	return y
}

// testNormalizeRows checks the row normalization, without and with an
// affine, against a float64 reference (two-pass mean and variance).
// Tolerances: mean within Reduce (a sum over the row), y and rstd within
// 4·Reduce (the centred sum of squares, its square root, the products and
// the shift), relative to 1 + |want|. Rows of length 1 (ŷ = 0, rstd =
// 1/√eps), 7, 33 and 1500, rank 3, a transposed view and an offset view
// (rows sliced off a larger tensor); the affines of affineCases.
func (s *suite) testNormalizeRows(t *testing.T) {
	const eps = 1e-5
	ref := func(v []float64, rows int, gamma, beta []float64, inner int) (y, mean, rstd []float64) {
		d := len(v) / rows
		mean, rstd = make([]float64, rows), make([]float64, rows)
		for r := range rows {
			var m, q float64
			for _, x := range v[r*d : (r+1)*d] {
				m += x
			}
			m /= float64(d)
			for _, x := range v[r*d : (r+1)*d] {
				q += (x - m) * (x - m)
			}
			mean[r], rstd[r] = m, 1/math.Sqrt(q/float64(d)+eps)
		}
		return normalizedRef(v, mean, rstd, gamma, beta, inner), mean, rstd
	}
	run := func(name string, x *tensor.Tensor, v []float64, rows int, aff *tensor.Affine, gamma, beta []float64) {
		t.Helper()
		y, mean, rstd := tensor.NormalizeRows(x, eps, aff)
		inner := 1
		if aff != nil {
			inner = aff.Inner
		}
		wy, wm, wr := ref(v, rows, gamma, beta, inner)
		tol := 4 * s.tol.Reduce
		check(t, name+" y", y, wy, tol)
		check(t, name+" mean", mean, wm, s.tol.Reduce)
		check(t, name+" rstd", rstd, wr, tol)
		rs := append(slices.Clone(x.Shape()[:x.Rank()-1]), 1)
		if !slices.Equal(y.Shape(), x.Shape()) || !slices.Equal(mean.Shape(), rs) || !slices.Equal(rstd.Shape(), rs) {
			t.Fatalf("%s: shapes y %v, mean %v, rstd %v for x %v", name, y.Shape(), mean.Shape(), rstd.Shape(), x.Shape())
		}
	}
	// shifted returns values of shape whose rows have a mean that matters.
	shifted := func(shape ...int) ([]float64, *tensor.Tensor) {
		v, _ := s.randn(shape...)
		for i := range v {
			v[i] = 3 + 2*v[i]
			if s.dt == tensor.Float32 {
				v[i] = float64(float32(v[i]))
			}
		}
		return v, tensor.FromFloat64As(s.b, s.dt, v, shape...)
	}
	for _, shape := range [][]int{{5, 1}, {3, 7}, {4, 33}, {3, 1500}, {2, 3, 33}, {7}} {
		v, x := shifted(shape...)
		run(fmt.Sprint(shape), x, v, len(v)/shape[len(shape)-1], nil, nil, nil)
	}
	v, _ := s.randn(9, 6)
	run("transposed [9 6]", s.strided(v, 9, 6), v, 9, nil, nil, nil)
	w, big := s.randn(12, 33)
	run("offset rows 4..10 of [12 33]", big.Slice(0, 4, 10), w[4*33:10*33], 6, nil, nil, nil)
	for _, c := range affineCases {
		v, x := shifted(c.shape...)
		aff, gamma, beta := s.affineOf(c.k, c.inner)
		run(fmt.Sprintf("%v affine k=%d inner=%d", c.shape, c.k, c.inner), x, v, len(v)/c.shape[len(c.shape)-1], aff, gamma, beta)
	}
	aff, gamma, beta := s.affineOf(33, 1)
	run("offset rows 4..10 of [12 33] affine", big.Slice(0, 4, 10), w[4*33:10*33], 6, aff, gamma, beta)
}

// testNormalizeRowsGrad checks the backward pass of the row normalization
// against a float64 reference, with ŷ = (x − mean)·rstd and g' = g (g·γ
// with an affine): dx = rstd·(g' − mean(g') − ŷ·mean(g'·ŷ)) within
// 4·Reduce relative to 1 + |want| (two sums over the row, then a few
// rounded operations), for rows of 1, 7, 33 and 1500, rank 3 and
// transposed g; and with the affines of affineCases, dx and dγ = Σ g·ŷ,
// dβ = Σ g per feature, within 4·Reduce (sums over the batch).
func (s *suite) testNormalizeRowsGrad(t *testing.T) {
	dxRef := func(g, x, mean, rstd, gamma []float64, inner int) []float64 {
		rows := len(rstd)
		d := len(x) / rows
		y := normalizedRef(x, mean, rstd, nil, nil, 1)
		gp := slices.Clone(g)
		for i := range gp {
			if gamma != nil {
				gp[i] *= gamma[i/inner%len(gamma)]
			}
		}
		dx := make([]float64, len(x))
		for r := range rows {
			var sg, sgy float64
			for i := r * d; i < (r+1)*d; i++ {
				sg += gp[i]
				sgy += gp[i] * y[i]
			}
			for i := r * d; i < (r+1)*d; i++ {
				dx[i] = rstd[r] * (gp[i] - sg/float64(d) - y[i]*sgy/float64(d))
			}
		}
		return dx
	}
	// operands returns random g and x of shape, and mean and rstd of its
	// rows (rstd ≥ 0.5).
	operands := func(shape []int) (gv, xv, mv, rv []float64, g, x, mean, rstd *tensor.Tensor) {
		gv, g = s.randn(shape...)
		xv, x = s.randn(shape...)
		rs := append(slices.Clone(shape[:len(shape)-1]), 1)
		mv, mean = s.randn(rs...)
		rv, _ = s.randn(rs...)
		for i := range rv {
			rv[i] = 0.5 + math.Abs(rv[i])
			if s.dt == tensor.Float32 {
				rv[i] = float64(float32(rv[i]))
			}
		}
		return gv, xv, mv, rv, g, x, mean, tensor.FromFloat64As(s.b, s.dt, rv, rs...)
	}
	tol := 4 * s.tol.Reduce
	for _, shape := range [][]int{{5, 1}, {3, 7}, {4, 33}, {3, 1500}, {2, 3, 33}} {
		gv, xv, mv, rv, g, x, mean, rstd := operands(shape)
		name := fmt.Sprint(shape)
		want := dxRef(gv, xv, mv, rv, nil, 1)
		dx := tensor.NormalizeRowsGrad(g, x, mean, rstd, nil)
		check(t, name+" dx", dx, want, tol)
		if !slices.Equal(dx.Shape(), shape) {
			t.Fatalf("%s: dx has shape %v", name, dx.Shape())
		}
		if len(shape) == 2 && shape[1] > 1 {
			dx = tensor.NormalizeRowsGrad(s.strided(gv, shape[0], shape[1]), x, mean, rstd, nil)
			check(t, name+" transposed g dx", dx, want, tol)
		}
	}
	for _, c := range affineCases {
		gv, xv, mv, rv, g, x, mean, rstd := operands(c.shape)
		aff, gamma, _ := s.affineOf(c.k, c.inner)
		name := fmt.Sprintf("%v affine k=%d inner=%d", c.shape, c.k, c.inner)
		check(t, name+" dx", tensor.NormalizeRowsGrad(g, x, mean, rstd, aff), dxRef(gv, xv, mv, rv, gamma, c.inner), tol)
		y := normalizedRef(xv, mv, rv, nil, nil, 1)
		wg, wb := make([]float64, c.k), make([]float64, c.k)
		for i := range gv {
			f := i / c.inner % c.k
			wg[f] += gv[i] * y[i]
			wb[f] += gv[i]
		}
		dgamma, dbeta := tensor.NormalizeAffineGrad(g, x, mean, rstd, aff)
		check(t, name+" dγ", dgamma, wg, tol)
		check(t, name+" dβ", dbeta, wb, tol)
		if !slices.Equal(dgamma.Shape(), []int{c.k}) || !slices.Equal(dbeta.Shape(), []int{c.k}) {
			t.Fatalf("%s: dγ %v, dβ %v", name, dgamma.Shape(), dbeta.Shape())
		}
	}
}
