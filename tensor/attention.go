package tensor

import (
	"fmt"
	"slices"
)

// FusedAttender is implemented by backends that run scaled dot-product
// attention in one kernel (one dispatch on a GPU), keeping the scores of a
// row on chip; Attention composes the operation from MatMulT, Scale,
// Softmax, LogSumExp and MatMul on the others, and on any backend for
// inputs the kernel does not take.
//
// Attention writes, for every batch index z of the contiguous q [B, n, d],
// k [B, m, d] and v [B, m, d] (B the product of the leading dimensions),
// with s_ij = scale·q_i·k_j the scores of query row i:
//
//	lse[z, i] = log Σ_j exp(s_ij),  out[z, i] = Σ_j exp(s_ij − lse[z, i])·v_j
//
// It reports whether it did: a backend may decline (return false, writing
// nothing) inputs outside the limits of its kernel. out and lse are freshly
// allocated and contiguous; B, n, m and d are at least 1.
type FusedAttender interface {
	Attention(out, lse, q, k, v *Tensor, scale float64) bool
}

// Attention is scaled dot-product attention, softmax(scale·q·kᵀ)·v, over
// the last two dimensions of q [..., n, d], k [..., m, d] and v [..., m, d]
// (the same leading dimensions; m, the number of keys, may differ from n,
// the number of queries). It returns out [..., n, d] and the log-sum-exp of
// the scaled scores of every query row, lse [..., n, 1]: the softmax is
// exp(scale·q·kᵀ − lse), which the backward pass (AttentionGrad) recomputes
// rather than storing the n×m probabilities.
//
// Backends that implement FusedAttender run it as one kernel where they
// can; elsewhere it is composed from other operations, with the same result
// up to float rounding. The inputs may be any views: they are made
// contiguous first. m = 0 panics (no keys to attend to).
func Attention(q, k, v *Tensor, scale float64) (out, lse *Tensor) {
	checkAttention("Attention", q, k, v)
	q, k, v = q.Contiguous(), k.Contiguous(), v.Contiguous()
	b := q.Backend()
	if fa, ok := b.(FusedAttender); ok && q.Len() > 0 {
		out = New(b, q.DType(), q.shape...)
		lse = New(b, q.DType(), rowShape(q)...)
		if fa.Attention(out, lse, q, k, v, scale) {
			return out, lse
		}
		Free(out)
		Free(lse)
	}
	return attentionComposed(q, k, v, scale)
}

// AttentionShape returns the batch (the product of the leading
// dimensions), the queries n, the keys m and the width d of q [..., n, d]
// and k [..., m, d], as the backends of FusedAttender see them.
func AttentionShape(q, k *Tensor) (batch, n, m, d int) {
	n, d, m = q.Dim(-2), q.Dim(-1), k.Dim(-2)
	return q.Len() / max(n*d, 1), n, m, d
}

// checkAttention panics unless q [..., n, d], k [..., m, d] and v
// [..., m, d] (m ≥ 1) share a backend, a dtype and their leading
// dimensions.
func checkAttention(op string, q, k, v *Tensor) {
	sameBackend(q, k, v)
	r := q.Rank()
	if r < 2 || k.Rank() != r || v.Rank() != r || !slices.Equal(k.shape, v.shape) ||
		!slices.Equal(q.shape[:r-2], k.shape[:r-2]) || q.shape[r-1] != k.shape[r-1] || k.shape[r-2] == 0 {
		panic(fmt.Sprintf("tensor: %s of q %v, k %v, v %v (want [..., n, d], [..., m, d], [..., m, d], m ≥ 1)", op, q.shape, k.shape, v.shape))
	}
}

// attentionComposed is Attention from batched products, a softmax and a
// log-sum-exp, the order nn.MultiHeadAttention used before the operation
// was fused: the fallback, and what the reference CPU backend runs, so
// that the backend suite checks the fused kernels against it.
func attentionComposed(q, k, v *Tensor, scale float64) (out, lse *Tensor) {
	s := Scale(MatMulT(q, k, false, true), scale)
	return MatMul(Softmax(s, -1), v), LogSumExp(s, -1, true)
}

// FusedAttenderGrad is implemented by backends that run the backward pass
// of Attention in one kernel (one dispatch on a GPU); AttentionGrad
// composes it elsewhere and for inputs the kernel does not take.
//
// AttentionGrad writes the gradients dq, dk and dv of Attention given the
// gradient g of out, for contiguous tensors shaped as FusedAttender's, with
// P_ij = exp(s_ij − lse_i) recomputed from the scores s_ij = scale·q_i·k_j:
//
//	D_i = Σ_c g_ic·out_ic,  dS_ij = P_ij·(g_i·v_j − D_i)
//	dq_i = scale·Σ_j dS_ij·k_j,  dk_j = scale·Σ_i dS_ij·q_i,  dv_j = Σ_i P_ij·g_i
//
// It reports whether it did (false: it declined and wrote nothing). dq, dk
// and dv are freshly allocated.
type FusedAttenderGrad interface {
	AttentionGrad(dq, dk, dv, g, q, k, v, out, lse *Tensor, scale float64) bool
}

// AttentionGrad is the gradient of Attention(q, k, v, scale) with respect
// to q, k and v, given the gradient g of its output out and the lse it
// returned (with out itself, whose rows give D_i = g_i·out_i, the
// flash-attention form of the softmax's Jacobian; see FusedAttenderGrad).
// Backends that implement FusedAttenderGrad run it as one kernel where they
// can; elsewhere it is composed from batched products and elementwise
// operations.
func AttentionGrad(g, q, k, v, out, lse *Tensor, scale float64) (dq, dk, dv *Tensor) {
	checkAttention("AttentionGrad", q, k, v)
	sameBackend(q, g, out, lse)
	if !slices.Equal(g.shape, q.shape) || !slices.Equal(out.shape, q.shape) || !slices.Equal(lse.shape, rowShape(q)) {
		panic(fmt.Sprintf("tensor: AttentionGrad: g %v, out %v, lse %v for q %v", g.shape, out.shape, lse.shape, q.shape))
	}
	g, q, k, v, out, lse = g.Contiguous(), q.Contiguous(), k.Contiguous(), v.Contiguous(), out.Contiguous(), lse.Contiguous()
	b := q.Backend()
	if fa, ok := b.(FusedAttenderGrad); ok && q.Len() > 0 {
		dq, dk, dv = New(b, q.DType(), q.shape...), New(b, q.DType(), k.shape...), New(b, q.DType(), v.shape...)
		if fa.AttentionGrad(dq, dk, dv, g, q, k, v, out, lse, scale) {
			return dq, dk, dv
		}
		Free(dq)
		Free(dk)
		Free(dv)
	}
	return attentionGradComposed(g, q, k, v, out, lse, scale)
}

// attentionGradComposed is AttentionGrad from batched products and
// elementwise operations: the fallback, and what the reference CPU backend
// runs.
func attentionGradComposed(g, q, k, v, out, lse *Tensor, scale float64) (dq, dk, dv *Tensor) {
	p := Exp(Sub(Scale(MatMulT(q, k, false, true), scale), lse))
	dv = MatMulT(p, g, true, false)
	d := Sum(Mul(g, out), -1, true)
	ds := Scale(Mul(p, Sub(MatMulT(g, v, false, true), d)), scale) // scale·dS
	return MatMul(ds, k), MatMulT(ds, q, true, false), dv
}
