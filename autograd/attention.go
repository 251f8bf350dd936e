package autograd

import "github.com/difftune/difftune/tensor"

// Attention is scaled dot-product attention, softmax(scale·q·kᵀ)·v over the
// last two dimensions of q [..., n, d], k [..., m, d] and v [..., m, d], as
// one operation (tensor.Attention: one kernel on backends that fuse it).
//
// Only the output and the row log-sum-exps lse of the scaled scores are
// kept; the rule recomputes P = exp(scale·q·kᵀ − lse) (flash-attention
// style) and, with g the gradient of the output o, D_i = g_i·o_i and
// dS = P∘(g·vᵀ − D):
//
//	dq = scale·dS·k, dk = scale·dSᵀ·q, dv = Pᵀ·g
//
// (tensor.AttentionGrad: one kernel on backends that fuse it).
func Attention(q, k, v *Var, scale float64) *Var {
	// Contiguous once here, so that the backward pass reuses the copies.
	qc, kc, vc := q.Value.Contiguous(), k.Value.Contiguous(), v.Value.Contiguous()
	out, lse := tensor.Attention(qc, kc, vc, scale)
	return record("attention", out, func(g *tensor.Tensor) []*tensor.Tensor {
		dq, dk, dv := tensor.AttentionGrad(g, qc, kc, vc, out, lse, scale)
		return []*tensor.Tensor{dq, dk, dv}
	}, q, k, v)
}
