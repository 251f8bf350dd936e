//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/difftune/difftune/tensor"
)

// TestMathAccuracy measures the kernels' transcendental functions over
// wide ranges against float64 (the error is |got − want|/(ulp-scale)
// where the scale is max(|want|, 1)·2⁻²³, so near zero it is absolute), and
// holds them to a few such units — well inside the backend suite's 2e-6.
func TestMathAccuracy(t *testing.T) {
	b := testBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 1 << 16
	uniform := func(lo, hi float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*rng.Float64())
		}
		return v
	}
	logUniform := func(lo, hi float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Exp(math.Log(lo) + (math.Log(hi)-math.Log(lo))*rng.Float64()))
		}
		return v
	}
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	cases := []struct {
		op    tensor.UnaryOp
		p     float64
		in    []float32
		ref   func(float64) float64
		bound float64 // in units of 2⁻²³·max(|want|, 1)
	}{
		{tensor.OpExp, 0, uniform(-87, 88.7), math.Exp, 4},
		{tensor.OpLog, 0, logUniform(1e-30, 1e30), math.Log, 4},
		{tensor.OpLog, 0, uniform(0.5, 2), math.Log, 4},
		{tensor.OpTanh, 0, uniform(-12, 12), math.Tanh, 4},
		{tensor.OpSigmoid, 0, uniform(-80, 80), sigmoid, 4},
		{tensor.OpSiLU, 0, uniform(-80, 80), func(x float64) float64 { return x * sigmoid(x) }, 4},
		{tensor.OpSin, 0, uniform(-100, 100), math.Sin, 4},
		{tensor.OpCos, 0, uniform(-100, 100), math.Cos, 4},
		{tensor.OpSoftplus, 0, uniform(-90, 90), func(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }, 4},
		{tensor.OpPowScalar, 1.7, logUniform(1e-10, 1e10), func(x float64) float64 { return math.Pow(x, 1.7) }, 6},
		{tensor.OpPowScalar, -3.3, logUniform(1e-5, 1e5), func(x float64) float64 { return math.Pow(x, -3.3) }, 6},
	}
	for _, c := range cases {
		got := tensor.Apply(c.op, tensor.FromFloat32(b, c.in, n), c.p).Float32s()
		worst, at := 0.0, 0
		for i, x := range c.in {
			w := c.ref(float64(x))
			e := math.Abs(float64(got[i])-w) / (math.Max(math.Abs(w), 1) * 0x1p-23)
			if !(e <= worst) {
				worst, at = e, i
			}
		}
		t.Logf("%-10v p=%-5v worst %.2f units at x=%v (got %v, want %v)", c.op, c.p, worst, c.in[at], got[at], c.ref(float64(c.in[at])))
		if !(worst <= c.bound) {
			t.Errorf("%v: error %.2f units at x=%v exceeds %v", c.op, worst, c.in[at], c.bound)
		}
	}
}
