package autograd

import (
	"github.com/difftune/difftune/tensor"
)

// MatMul multiplies the last two dimensions, batched (see tensor.MatMul).
func MatMul(a, b *Var) *Var { return MatMulT(a, b, false, false) }

// MatMulT is MatMul with either operand transposed.
func MatMulT(a, b *Var, transA, transB bool) *Var {
	out := tensor.MatMulT(a.Value, b.Value, transA, transB)
	return record("matmul", out, func(g *tensor.Tensor) []*tensor.Tensor {
		ga, gb := matmulGrads(a.Value, b.Value, g, transA, transB, a.requiresGrad, b.requiresGrad)
		return []*tensor.Tensor{ga, gb}
	}, a, b)
}

// matmulGrads returns the gradients of C = op(A)·op(B) for the upstream gradient
// g, reduced to the operands' (possibly broadcast) shapes.
func matmulGrads(a, b, g *tensor.Tensor, transA, transB, wantA, wantB bool) (ga, gb *tensor.Tensor) {
	if wantA {
		switch {
		case !transA && !transB: // dA = G·Bᵀ
			ga = tensor.MatMulT(g, b, false, true)
		case !transA && transB: // dA = G·B
			ga = tensor.MatMulT(g, b, false, false)
		case transA && !transB: // dA = B·Gᵀ
			ga = tensor.MatMulT(b, g, false, true)
		default: // dA = Bᵀ·Gᵀ
			ga = tensor.MatMulT(b, g, true, true)
		}
		ga = tensor.SumTo(ga, a.Shape())
	}
	if wantB {
		switch {
		case !transA && !transB: // dB = Aᵀ·G
			gb = tensor.MatMulT(a, g, true, false)
		case !transA && transB: // dB = Gᵀ·A
			gb = tensor.MatMulT(g, a, true, false)
		case transA && !transB: // dB = A·G
			gb = tensor.MatMulT(a, g, false, false)
		default: // dB = Gᵀ·Aᵀ
			gb = tensor.MatMulT(g, a, true, true)
		}
		gb = tensor.SumTo(gb, b.Shape())
	}
	return ga, gb
}

// Linear computes act(x·w + b) with the bias and activation fused into the
// matrix product: x is [..., in], w is [in, out], b is [out] or nil.
func Linear(x, w, b *Var, act tensor.Activation) *Var {
	shape := x.Shape()
	rows := x.Value.Len() / shape[len(shape)-1]
	x2 := x.Value.Reshape(rows, shape[len(shape)-1])
	var bias *tensor.Tensor
	inputs := []*Var{x, w}
	if b != nil {
		bias = b.Value
		inputs = append(inputs, b)
	}
	y, deriv := tensor.Gemm(x2, w.Value, tensor.GemmOpts{Bias: bias, Act: act, KeepDeriv: true})
	outShape := append(append([]int{}, shape[:len(shape)-1]...), w.Value.Dim(1))
	out := y.Reshape(outShape...)
	return record("linear", out, func(g *tensor.Tensor) []*tensor.Tensor {
		dz := g.Reshape(rows, w.Value.Dim(1))
		if deriv != nil {
			// deriv, and dz below, are this closure's alone.
			dz = tensor.Mul(dz, deriv)
			tensor.Free(deriv)
			defer tensor.Free(dz)
		}
		grads := make([]*tensor.Tensor, len(inputs))
		if x.requiresGrad {
			grads[0] = tensor.MatMulT(dz, w.Value, false, true).Reshape(shape...)
		}
		if w.requiresGrad {
			grads[1] = tensor.MatMulT(x2, dz, true, false)
		}
		if b != nil && b.requiresGrad {
			grads[2] = tensor.Sum(dz, 0, false)
		}
		return grads
	}, inputs...)
}
