package autograd

import (
	"slices"

	"github.com/difftune/difftune/tensor"
)

// keepShape is x's shape with axis set to 1.
func keepShape(x *tensor.Tensor, axis int) []int {
	s := slices.Clone(x.Shape())
	if axis < 0 {
		axis += len(s)
	}
	s[axis] = 1
	return s
}

// Sum sums along axis.
func Sum(x *Var, axis int, keepDim bool) *Var {
	out := tensor.Sum(x.Value, axis, keepDim)
	return record("sum", out, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Reshape(keepShape(x.Value, axis)...).Expand(x.Shape()...).Contiguous()}
	}, x)
}

// Mean averages along axis.
func Mean(x *Var, axis int, keepDim bool) *Var {
	return Scale(Sum(x, axis, keepDim), 1/float64(x.Value.Dim(axis)))
}

// SumAll sums every element into a scalar.
func SumAll(x *Var) *Var { return Sum(Reshape(x, x.Value.Len()), 0, false) }

// MeanAll averages every element into a scalar.
func MeanAll(x *Var) *Var { return Scale(SumAll(x), 1/float64(x.Value.Len())) }

// Max takes the maximum along axis; the gradient goes to every position that
// attains it.
func Max(x *Var, axis int, keepDim bool) *Var {
	m := tensor.Max(x.Value, axis, true)
	out := m
	if !keepDim {
		out = m.Squeeze(axis)
	}
	return record("max", out, func(g *tensor.Tensor) []*tensor.Tensor {
		// x ≤ m everywhere, so [x = m] = 1 − [m > x].
		mask := tensor.Shift(tensor.Neg(tensor.Combine(tensor.OpGreater, m, x.Value)), 1)
		return []*tensor.Tensor{tensor.Mul(mask, g.Reshape(keepShape(x.Value, axis)...))}
	}, x)
}

// LogSumExp computes log Σ exp(x) along axis stably; its gradient is the softmax.
func LogSumExp(x *Var, axis int, keepDim bool) *Var {
	out := tensor.LogSumExp(x.Value, axis, keepDim)
	return record("logsumexp", out, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Mul(tensor.Softmax(x.Value, axis), g.Reshape(keepShape(x.Value, axis)...))}
	}, x)
}

// Softmax normalizes exp(x) along axis.
func Softmax(x *Var, axis int) *Var {
	y := tensor.Softmax(x.Value, axis)
	return record("softmax", y, func(g *tensor.Tensor) []*tensor.Tensor {
		// dx = y·(g − Σ g·y)
		dot := tensor.Sum(tensor.Mul(g, y), axis, true)
		return []*tensor.Tensor{tensor.Mul(y, tensor.Sub(g, dot))}
	}, x)
}

// LogSoftmax is log(Softmax(x)) along axis.
func LogSoftmax(x *Var, axis int) *Var {
	y := tensor.LogSoftmax(x.Value, axis)
	return record("log_softmax", y, func(g *tensor.Tensor) []*tensor.Tensor {
		// dx = g − softmax·Σ g
		return []*tensor.Tensor{tensor.Sub(g, tensor.Mul(tensor.Exp(y), tensor.Sum(g, axis, true)))}
	}, x)
}
