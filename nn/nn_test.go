package nn

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

var ref = tensor.CPUReference()

func init64(seed uint64) *Init { return &Init{Backend: ref, DType: tensor.Float64, Seed: seed} }

func randn(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.RandNormal(ref, tensor.Float64, seed, 1, shape...)
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestForwardCondEqualsConcat checks the split first layer against the plain
// MLP on the concatenated input, for a shared and a per-row condition.
func TestForwardCondEqualsConcat(t *testing.T) {
	m := NewMLP(init64(1), tensor.ActSiLU, 5, 16, 16, 3)
	x := autograd.Const(randn(2, 7, 2))
	for _, rows := range []int{1, 7} {
		cond := autograd.Const(randn(3, rows, 3))
		full := autograd.Concat(1, x, autograd.Expand(cond, 7, 3))
		near(t, "ForwardCond", m.ForwardCond(x, cond).Value.Float64s(), m.Forward(full).Value.Float64s(), 1e-12)
	}
}

// TestLayerGradients checks the composite layers (layer norm, attention, a
// transformer block, the conditioned MLP) against finite differences.
func TestLayerGradients(t *testing.T) {
	ln := NewLayerNorm(init64(4), 6)
	ln.Gamma = autograd.Param(randn(5, 6))
	mha := NewMultiHeadAttention(init64(6), 8, 2)
	block := NewTransformerBlock(init64(7), 8, 2, 16)
	mlp := NewTimeMLP(init64(8), 2, 4, 2, tensor.ActSiLU, 8)
	conv := NewConv2d(init64(11), 2, 3, 3, 2, 1)
	gn := NewGroupNorm(init64(12), 2, 4)
	gn.Gamma = autograd.Param(randn(13, 4))
	cases := []struct {
		name  string
		shape []int
		f     func(x *autograd.Var) *autograd.Var
		ps    []*autograd.Var
	}{
		{"layer norm", []int{3, 6}, ln.Forward, Vars(ln)},
		{"attention", []int{2, 3, 8}, mha.Forward, Vars(mha)},
		{"transformer block", []int{2, 3, 8}, block.Forward, Vars(block)[:6]},
		{"conv2d", []int{2, 2, 5, 4}, conv.Forward, Vars(conv)},
		{"group norm", []int{2, 4, 3, 2}, gn.Forward, Vars(gn)},
		{"time MLP", []int{4, 2}, func(x *autograd.Var) *autograd.Var { return mlp.Forward(x, []float64{0.3}) }, Vars(mlp)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := autograd.Param(randn(9, c.shape...))
			w := autograd.Const(randn(10, c.f(x).Shape()...))
			loss := func(in []*autograd.Var) *autograd.Var { return autograd.SumAll(autograd.Mul(c.f(in[0]), w)) }
			if err := autograd.CheckGradients(loss, append([]*autograd.Var{x}, c.ps...), 1e-6, 1e-5); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAdamMinimizesQuadratic(t *testing.T) {
	p := autograd.Param(tensor.FromFloat64(ref, []float64{3, -2}, 2))
	opt := NewAdam([]*autograd.Var{p}, CosineLR(0.1, 0.001, 500, 10))
	target := autograd.Const(tensor.FromFloat64(ref, []float64{1, 1}, 2))
	for range 500 {
		autograd.SumAll(autograd.Square(autograd.Sub(p, target))).Backward()
		opt.Step()
	}
	near(t, "Adam", p.Value.Float64s(), []float64{1, 1}, 1e-3)
	if p.Grad != nil {
		t.Fatal("Step did not clear the gradient")
	}
}

func TestSchedulesAndClipping(t *testing.T) {
	s := CosineLR(1, 0.1, 100, 0)
	if s(0) != 1 || math.Abs(s(100)-0.1) > 1e-12 || math.Abs(s(50)-0.55) > 1e-12 {
		t.Fatalf("cosine: %v %v %v", s(0), s(50), s(100))
	}
	a := autograd.Param(tensor.FromFloat64(ref, []float64{0}, 1))
	b := autograd.Param(tensor.FromFloat64(ref, []float64{0}, 1))
	a.Grad = tensor.FromFloat64(ref, []float64{3}, 1)
	b.Grad = tensor.FromFloat64(ref, []float64{4}, 1)
	if n := ClipGradNorm([]*autograd.Var{a, b}, 1); n != 5 {
		t.Fatalf("norm %v, want 5", n)
	}
	near(t, "clipped", []float64{a.Grad.Item(), b.Grad.Item()}, []float64{0.6, 0.8}, 1e-12)
	b.Grad = tensor.FromFloat64(ref, []float64{math.NaN()}, 1)
	if n := ClipGradNorm([]*autograd.Var{a, b}, 1); !math.IsNaN(n) {
		t.Fatalf("NaN gradient gave norm %v", n)
	}
}

func TestEMA(t *testing.T) {
	p := autograd.Param(tensor.FromFloat64(ref, []float64{0}, 1))
	e := NewEMA([]*autograd.Var{p}, 0.5)
	p.Value = tensor.FromFloat64(ref, []float64{4}, 1)
	e.Update()
	e.Update()
	e.CopyTo()
	if v := p.Value.Item(); v != 3 {
		t.Fatalf("EMA = %v, want 3", v)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	b := tensor.CPU()
	m := NewTimeMLP(&Init{Backend: b, DType: tensor.Float32, Seed: 1}, 2, 4, 2, tensor.ActSiLU, 8, 8)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := SaveCheckpoint(path, m, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	other := NewTimeMLP(&Init{Backend: b, DType: tensor.Float32, Seed: 2}, 2, 4, 2, tensor.ActSiLU, 8, 8)
	meta, err := LoadCheckpoint(path, other)
	if err != nil {
		t.Fatal(err)
	}
	if meta["k"] != "v" {
		t.Fatalf("metadata %v", meta)
	}
	for i, p := range m.Params() {
		if !slices.Equal(p.Value.Float32s(), other.Params()[i].Value.Float32s()) {
			t.Fatalf("parameter %s differs after the round trip", p.Name)
		}
	}
	// A different architecture is refused, naming the parameter, and leaves the
	// model untouched.
	wider := NewTimeMLP(&Init{Backend: b, DType: tensor.Float32, Seed: 3}, 2, 4, 2, tensor.ActSiLU, 16, 8)
	before := wider.Params()[0].Value.Float32s()
	if _, err := LoadCheckpoint(path, wider); err == nil {
		t.Fatal("loaded a checkpoint into another architecture")
	}
	if !slices.Equal(before, wider.Params()[0].Value.Float32s()) {
		t.Fatal("a failed load changed the model")
	}
}

func TestInitIsReproducible(t *testing.T) {
	a := NewLinear(&Init{Backend: ref, DType: tensor.Float64, Seed: 7}, 10, 4)
	b := NewLinear(&Init{Backend: ref, DType: tensor.Float64, Seed: 7}, 10, 4)
	if !slices.Equal(a.W.Value.Float64s(), b.W.Value.Float64s()) {
		t.Fatal("the same seed gave different weights")
	}
	bound := 1 / math.Sqrt(10)
	for _, v := range a.W.Value.Float64s() {
		if math.Abs(v) > bound {
			t.Fatalf("weight %v outside ±%v", v, bound)
		}
	}
}

// TestConv2dMatchesDirect compares the implicit GEMM with a direct convolution.
func TestConv2dMatchesDirect(t *testing.T) {
	c := NewConv2d(init64(20), 2, 3, 3, 1, 1)
	x := randn(21, 1, 2, 4, 5)
	got := c.Forward(autograd.Const(x)).Value.Float64s()
	xv, w, b := x.Float64s(), c.W.Value.Float64s(), c.B.Value.Float64s()
	for o := range 3 {
		for i := range 4 {
			for j := range 5 {
				acc := b[o]
				for ch := range 2 {
					for ky := range 3 {
						for kx := range 3 {
							y, xx := i+ky-1, j+kx-1
							if y >= 0 && y < 4 && xx >= 0 && xx < 5 {
								acc += w[o*18+ch*9+ky*3+kx] * xv[(ch*4+y)*5+xx]
							}
						}
					}
				}
				if g := got[(o*4+i)*5+j]; math.Abs(g-acc) > 1e-12 {
					t.Fatalf("out[%d,%d,%d] = %v, want %v", o, i, j, g, acc)
				}
			}
		}
	}
}
