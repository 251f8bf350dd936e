package nn

import (
	"math"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// TestMultiHeadAttentionMatchesUnfused checks that the attention layer,
// which calls the fused autograd.Attention, computes what it did before the
// operation was fused: softmax(QKᵀ/√d)V from MatMulT, Scale, Softmax and
// MatMul over the heads, forward and the input's gradient, in float64.
func TestMultiHeadAttentionMatchesUnfused(t *testing.T) {
	mha := NewMultiHeadAttention(init64(21), 12, 3)
	const b, n, w, h = 2, 5, 12, 3
	unfused := func(x *autograd.Var) *autograd.Var {
		heads := func(l *Linear) *autograd.Var {
			return autograd.Permute(autograd.Reshape(l.Forward(x, tensor.ActNone), b, n, h, w/h), 0, 2, 1, 3)
		}
		scores := autograd.Scale(autograd.MatMulT(heads(mha.Q), heads(mha.K), false, true), 1/math.Sqrt(w/h))
		ctx := autograd.Permute(autograd.MatMul(autograd.Softmax(scores, -1), heads(mha.V)), 0, 2, 1, 3)
		return mha.O.Forward(autograd.Reshape(ctx, b, n, w), tensor.ActNone)
	}
	wt := autograd.Const(randn(22, b, n, w))
	run := func(f func(*autograd.Var) *autograd.Var) (y, dx []float64) {
		x := autograd.Param(randn(23, b, n, w))
		out := f(x)
		autograd.SumAll(autograd.Mul(out, wt)).Backward()
		return out.Value.Float64s(), x.Grad.Float64s()
	}
	y, dx := run(mha.Forward)
	wy, wdx := run(unfused)
	near(t, "y", y, wy, 1e-12)
	near(t, "dx", dx, wdx, 1e-12)
}
