//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"math"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// TestAttentionParity runs the fused attention kernels against the CPU
// (which composes the operation): out, lse, dq, dk and dv agree, the forward
// pass is one dispatch and so is the backward pass. Shapes: the bench's
// short sequences (8 tokens of 16), query blocks that are not a multiple of
// the workgroup's 16 rows and more keys than queries (37 queries, 50 keys,
// odd d = 33), 16 rows exactly, one key, and scores of several hundred (q
// multiplied by 40) where exp without the max subtracted would overflow.
func TestAttentionParity(t *testing.T) {
	b := testBackend(t)
	fusedKernels(t, b)
	cpu := tensor.CPU()
	for i, c := range []struct {
		batch, n, m, d int
		mag            float64
	}{
		{64, 8, 8, 16, 1},
		{3, 37, 50, 33, 1},
		{2, 16, 16, 7, 1},
		{5, 3, 1, 4, 1},
		{2, 20, 24, 8, 40},
	} {
		name := fmt.Sprintf("%d×%d×%d×%d mag %g", c.batch, c.n, c.m, c.d, c.mag)
		qv := randn(uint64(10*i+1), c.batch*c.n*c.d)
		for j := range qv {
			qv[j] *= float32(c.mag)
		}
		kv, vv := randn(uint64(10*i+2), c.batch*c.m*c.d), randn(uint64(10*i+3), c.batch*c.m*c.d)
		gv := randn(uint64(10*i+4), c.batch*c.n*c.d)
		on := func(be tensor.Backend) (q, k, v, g *tensor.Tensor) {
			return tensor.FromFloat32(be, qv, c.batch, c.n, c.d), tensor.FromFloat32(be, kv, c.batch, c.m, c.d),
				tensor.FromFloat32(be, vv, c.batch, c.m, c.d), tensor.FromFloat32(be, gv, c.batch, c.n, c.d)
		}
		scale := 1 / math.Sqrt(float64(c.d))
		q, k, v, g := on(b)
		hq, hk, hv, hg := on(cpu)
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		before := b.Dispatches()
		out, lse := tensor.Attention(q, k, v, scale)
		if n := b.Dispatches() - before; n != 1 {
			t.Errorf("%s: Attention recorded %d dispatches, want 1", name, n)
		}
		wo, wl := tensor.Attention(hq, hk, hv, scale)
		// Scores of several hundred carry absolute errors of 1e-4 or so
		// into exp(s − lse): scale the tolerance with them.
		tol := 2e-5 * c.mag
		closeTo(t, name+" out", out.Float32s(), wo.Float32s(), tol)
		closeTo(t, name+" lse", lse.Float32s(), wl.Float32s(), tol)
		if math.IsInf(float64(wl.Float32s()[0]), 0) || math.IsNaN(float64(wl.Float32s()[0])) {
			t.Fatalf("%s: the CPU's lse is %v", name, wl.Float32s()[0])
		}

		before = b.Dispatches()
		dq, dk, dv := tensor.AttentionGrad(g, q, k, v, out, lse, scale)
		if n := b.Dispatches() - before; n != 1 {
			t.Errorf("%s: AttentionGrad recorded %d dispatches, want 1", name, n)
		}
		wq, wk, wv := tensor.AttentionGrad(hg, hq, hk, hv, wo, wl, scale)
		closeTo(t, name+" dq", dq.Float32s(), wq.Float32s(), 4*tol)
		closeTo(t, name+" dk", dk.Float32s(), wk.Float32s(), 4*tol)
		closeTo(t, name+" dv", dv.Float32s(), wv.Float32s(), 4*tol)
	}
}

// TestAttentionFallback checks that keys beyond the shared memory of a
// workgroup (m = every float of it) make the backend decline, so that
// tensor.Attention and AttentionGrad compose the operation (more than one
// dispatch) with the same results as the CPU.
func TestAttentionFallback(t *testing.T) {
	b := testBackend(t)
	fusedKernels(t, b)
	cpu := tensor.CPU()
	n, m, d := 2, b.sharedFloats(), 3
	qv, kv, vv, gv := randn(51, n*d), randn(52, m*d), randn(53, m*d), randn(54, n*d)
	q, k, v, g := tensor.FromFloat32(b, qv, 1, n, d), tensor.FromFloat32(b, kv, 1, m, d), tensor.FromFloat32(b, vv, 1, m, d), tensor.FromFloat32(b, gv, 1, n, d)
	hq, hk, hv, hg := tensor.FromFloat32(cpu, qv, 1, n, d), tensor.FromFloat32(cpu, kv, 1, m, d), tensor.FromFloat32(cpu, vv, 1, m, d), tensor.FromFloat32(cpu, gv, 1, n, d)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	before := b.Dispatches()
	out, lse := tensor.Attention(q, k, v, 0.5)
	if k := b.Dispatches() - before; k < 2 {
		t.Errorf("Attention over %d keys recorded %d dispatch, want the composed operation", m, k)
	}
	wo, wl := tensor.Attention(hq, hk, hv, 0.5)
	closeTo(t, "out", out.Float32s(), wo.Float32s(), 1e-4)
	closeTo(t, "lse", lse.Float32s(), wl.Float32s(), 1e-5)
	before = b.Dispatches()
	dq, dk, dv := tensor.AttentionGrad(g, q, k, v, out, lse, 0.5)
	if k := b.Dispatches() - before; k < 2 {
		t.Errorf("AttentionGrad over %d keys recorded %d dispatch, want the composed operation", m, k)
	}
	wq, wk, wv := tensor.AttentionGrad(hg, hq, hk, hv, wo, wl, 0.5)
	closeTo(t, "dq", dq.Float32s(), wq.Float32s(), 1e-4)
	closeTo(t, "dk", dk.Float32s(), wk.Float32s(), 1e-4)
	closeTo(t, "dv", dv.Float32s(), wv.Float32s(), 1e-4)
}

// TestAttentionTransformerBlock runs nn's transformer block (pre-norm
// multi-head attention over 8 tokens, 4 heads of 8, then the MLP) forward
// and backward on Vulkan and on the CPU: the output and the gradients of
// the input and of every parameter agree.
func TestAttentionTransformerBlock(t *testing.T) {
	b := testBackend(t)
	fusedKernels(t, b)
	type run struct {
		y, dx []float32
		grads [][]float32
	}
	do := func(be tensor.Backend) run {
		blk := nn.NewTransformerBlock(&nn.Init{Backend: be, DType: tensor.Float32, Seed: 4}, 32, 4, 64)
		const batch, tokens = 6, 8
		x := autograd.Param(tensor.FromFloat32(be, randn(61, batch*tokens*32), batch, tokens, 32))
		w := autograd.Const(tensor.FromFloat32(be, randn(62, batch*tokens*32), batch, tokens, 32))
		y := blk.Forward(x)
		autograd.SumAll(autograd.Mul(y, w)).Backward()
		r := run{y: y.Value.Float32s(), dx: x.Grad.Float32s()}
		for _, p := range nn.Vars(blk) {
			r.grads = append(r.grads, p.Grad.Float32s())
		}
		return r
	}
	g, h := do(b), do(tensor.CPU())
	closeTo(t, "y", g.y, h.y, 1e-4)
	closeTo(t, "dx", g.dx, h.dx, 1e-4)
	for i := range h.grads {
		closeTo(t, fmt.Sprintf("gradient of parameter %d", i), g.grads[i], h.grads[i], 1e-4)
	}
}
