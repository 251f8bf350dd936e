//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// TestNormalizeRowsOneDispatch checks that the fused row normalization and
// its backward pass each record exactly one dispatch, for short rows, long rows (GroupNorm's
// 28·28·c/g) and more rows than workgroups in flight, and agrees with the
// CPU; and counts the dispatches of one LayerNorm forward (normalization,
// scale, shift: 3, where the composed one took 11).
func TestNormalizeRowsOneDispatch(t *testing.T) {
	b := testBackend(t)
	cpu := tensor.CPU()
	for _, shape := range [][]int{{64, 1}, {512, 32}, {8, 4, 1568}, {3, 5000}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := randn(uint64(n), n)
		for i := range v {
			v[i] = 2 + 3*v[i]
		}
		g, h := tensor.FromFloat32(b, v, shape...), tensor.FromFloat32(cpu, v, shape...)
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		before := b.Dispatches()
		y, mean, rstd := tensor.NormalizeRows(g, 1e-5)
		if k := b.Dispatches() - before; k != 1 {
			t.Errorf("%v: NormalizeRows recorded %d dispatches, want 1", shape, k)
		}
		wy, wm, wr := tensor.NormalizeRows(h, 1e-5)
		closeTo(t, "y", y.Float32s(), wy.Float32s(), 1e-4)
		closeTo(t, "mean", mean.Float32s(), wm.Float32s(), 1e-5)
		closeTo(t, "rstd", rstd.Float32s(), wr.Float32s(), 1e-4)

		gv := randn(uint64(n)+1, n)
		gg, gh := tensor.FromFloat32(b, gv, shape...), tensor.FromFloat32(cpu, gv, shape...)
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		before = b.Dispatches()
		dx := tensor.NormalizeRowsGrad(gg, y, rstd)
		if k := b.Dispatches() - before; k != 1 {
			t.Errorf("%v: NormalizeRowsGrad recorded %d dispatches, want 1", shape, k)
		}
		closeTo(t, "dx", dx.Float32s(), tensor.NormalizeRowsGrad(gh, wy, wr).Float32s(), 1e-4)
	}

	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 1}
	ln := nn.NewLayerNorm(init, 32)
	x := autograd.Const(tensor.FromFloat32(b, randn(9, 512*32), 512, 32))
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	before := b.Dispatches()
	autograd.NoGrad(func() { ln.Forward(x) })
	k := b.Dispatches() - before
	t.Logf("one LayerNorm forward [512 32]: %d dispatches", k)
	if k != 3 {
		t.Errorf("one LayerNorm forward recorded %d dispatches, want 3 (normalize, scale, shift)", k)
	}
	xp := autograd.Param(x.Value)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	before = b.Dispatches()
	autograd.SumAll(ln.Forward(xp)).Backward()
	t.Logf("one LayerNorm forward and backward [512 32] (with SumAll): %d dispatches", b.Dispatches()-before)
}

// TestGroupNormLayerNormParity runs nn's GroupNorm ([2, 8, 28, 28] in 4
// groups: rows of 1568) and LayerNorm forward and backward on Vulkan and on
// the CPU: outputs and the gradients of the input and of γ and β agree.
func TestGroupNormLayerNormParity(t *testing.T) {
	b := testBackend(t)
	cpu := tensor.CPU()
	type run struct{ y, dx, dg, db []float32 }
	do := func(be tensor.Backend, layer bool) run {
		init := &nn.Init{Backend: be, DType: tensor.Float32, Seed: 3}
		var shape []int
		var fwd func(*autograd.Var) *autograd.Var
		var gamma, beta *autograd.Var
		if layer {
			ln := nn.NewLayerNorm(init, 48)
			shape, fwd, gamma, beta = []int{6, 5, 48}, ln.Forward, ln.Gamma, ln.Beta
		} else {
			gn := nn.NewGroupNorm(init, 4, 8)
			shape, fwd, gamma, beta = []int{2, 8, 28, 28}, gn.Forward, gn.Gamma, gn.Beta
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		// Non-trivial γ and β, so that their gradients differ from sums.
		gamma.Value = tensor.FromFloat32(be, randn(5, gamma.Value.Len()), gamma.Shape()...)
		beta.Value = tensor.FromFloat32(be, randn(6, beta.Value.Len()), beta.Shape()...)
		x := autograd.Param(tensor.FromFloat32(be, randn(7, n), shape...))
		w := autograd.Const(tensor.FromFloat32(be, randn(8, n), shape...))
		y := fwd(x)
		autograd.SumAll(autograd.Mul(y, w)).Backward()
		return run{y.Value.Float32s(), x.Grad.Float32s(), gamma.Grad.Float32s(), beta.Grad.Float32s()}
	}
	for _, layer := range []bool{false, true} {
		g, h := do(b, layer), do(cpu, layer)
		closeTo(t, "y", g.y, h.y, 1e-4)
		closeTo(t, "dx", g.dx, h.dx, 1e-4)
		closeTo(t, "dγ", g.dg, h.dg, 1e-4)
		closeTo(t, "dβ", g.db, h.db, 1e-4)
	}
}
