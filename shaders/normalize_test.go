//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// TestNormalizeRowsOneDispatch checks that the fused row normalization,
// without and with an affine along the last dimension, and its backward
// passes (dx; dγ and dβ) each record exactly one dispatch, for short rows,
// long rows (GroupNorm's 28·28·c/g) and more rows than workgroups in
// flight, and agree with the CPU.
func TestNormalizeRowsOneDispatch(t *testing.T) {
	b := testBackend(t)
	cpu := tensor.CPU()
	// one records f and checks that it took one dispatch.
	one := func(what string, f func()) {
		t.Helper()
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		before := b.Dispatches()
		f()
		if k := b.Dispatches() - before; k != 1 {
			t.Errorf("%s recorded %d dispatches, want 1", what, k)
		}
	}
	for _, shape := range [][]int{{64, 1}, {512, 32}, {8, 4, 1568}, {3, 5000}} {
		n, d := 1, shape[len(shape)-1]
		for _, s := range shape {
			n *= s
		}
		v := randn(uint64(n), n)
		for i := range v {
			v[i] = 2 + 3*v[i]
		}
		gv, gamma, beta := randn(uint64(n)+1, n), randn(2, d), randn(3, d)
		on := func(be tensor.Backend) (x, g *tensor.Tensor, aff *tensor.Affine) {
			return tensor.FromFloat32(be, v, shape...), tensor.FromFloat32(be, gv, shape...),
				&tensor.Affine{Gamma: tensor.FromFloat32(be, gamma, d), Beta: tensor.FromFloat32(be, beta, d), Inner: 1}
		}
		x, g, aff := on(b)
		hx, hg, haff := on(cpu)
		for _, affine := range []bool{false, true} {
			a, ha := aff, haff
			if !affine {
				a, ha = nil, nil
			}
			var y, mean, rstd, dx, dgamma, dbeta *tensor.Tensor
			one(sprint(shape, affine, "NormalizeRows"), func() { y, mean, rstd = tensor.NormalizeRows(x, 1e-5, a) })
			wy, wm, wr := tensor.NormalizeRows(hx, 1e-5, ha)
			closeTo(t, "y", y.Float32s(), wy.Float32s(), 1e-4)
			closeTo(t, "mean", mean.Float32s(), wm.Float32s(), 1e-5)
			closeTo(t, "rstd", rstd.Float32s(), wr.Float32s(), 1e-4)
			one(sprint(shape, affine, "NormalizeRowsGrad"), func() { dx = tensor.NormalizeRowsGrad(g, x, mean, rstd, a) })
			closeTo(t, "dx", dx.Float32s(), tensor.NormalizeRowsGrad(hg, hx, wm, wr, ha).Float32s(), 1e-4)
			if affine {
				one(sprint(shape, affine, "NormalizeAffineGrad"), func() { dgamma, dbeta = tensor.NormalizeAffineGrad(g, x, mean, rstd, a) })
				wg, wb := tensor.NormalizeAffineGrad(hg, hx, wm, wr, ha)
				closeTo(t, "dγ", dgamma.Float32s(), wg.Float32s(), 1e-4)
				closeTo(t, "dβ", dbeta.Float32s(), wb.Float32s(), 1e-4)
			}
		}
	}
}

func sprint(shape []int, affine bool, op string) string {
	if affine {
		op += " with affine"
	}
	return fmt.Sprint(shape, " ", op)
}

// TestGroupNormLayerNormParity runs nn's GroupNorm ([2, 8, 28, 28] in 4
// groups: rows of 1568) and LayerNorm forward and backward on Vulkan and on
// the CPU: outputs and the gradients of the input and of γ and β agree.
// It counts the dispatches on Vulkan: the forward pass is one (the
// normalization with its affine; it was three with a separate scale and
// shift), the backward pass from a contiguous gradient two (dx; dγ and dβ;
// the leaves' first gradients are stored by transfer copies, not
// dispatches).
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
		w := tensor.FromFloat32(be, randn(8, n), shape...)
		if be == b {
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		before := b.Dispatches()
		y := fwd(x)
		forward := b.Dispatches() - before
		y.BackwardWith(w)
		backward := b.Dispatches() - before - forward
		if be == b {
			t.Logf("%v: forward %d dispatches, backward %d", shape, forward, backward)
			if forward != 1 || backward != 2 {
				t.Errorf("%v: forward %d dispatches, backward %d; want 1 and 2", shape, forward, backward)
			}
		}
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
