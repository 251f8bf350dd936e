package tensor

import (
	"fmt"
	"slices"
)

// RowNormalizer is implemented by backends that normalize rows in one kernel
// (one dispatch on a GPU); NormalizeRows composes the operation from Mean,
// Sub, Square, Shift, Sqrt and Div on the others.
//
// NormalizeRows writes, for every row r of the contiguous x viewed as
// [rows, n] (n its last dimension), mean[r] = Σ_j x[r, j]/n, rstd[r] =
// 1/√(Σ_j (x[r, j] − mean[r])²/n + eps) and y[r, j] = (x[r, j] −
// mean[r])·rstd[r]. y, mean and rstd are freshly allocated and contiguous;
// rows > 0 and n > 0.
type RowNormalizer interface {
	NormalizeRows(y, mean, rstd, x *Tensor, eps float64)
}

// NormalizeRows normalizes x along its last dimension to zero mean and unit
// (biased) variance: y = (x − mean)·rstd with rstd = 1/√(var + eps). It
// returns y (x's shape) and the rows' mean and rstd, of x's shape with a
// last dimension of 1 (so that they broadcast against x), which the
// backward pass needs. LayerNorm is this over the features; GroupNorm is
// this over x reshaped to [n, groups, c/groups·h·w].
//
// Backends that implement RowNormalizer run it as one kernel; elsewhere it
// is composed from other operations, with the same result up to float
// rounding. x may be any view: it is made contiguous first.
func NormalizeRows(x *Tensor, eps float64) (y, mean, rstd *Tensor) {
	if x.Rank() < 1 {
		panic("tensor: NormalizeRows of a 0-d tensor")
	}
	x = x.Contiguous()
	b := x.Backend()
	rs := append(append([]int(nil), x.shape[:x.Rank()-1]...), 1)
	nr, ok := b.(RowNormalizer)
	if !ok || x.Len() == 0 {
		if x.Len() == 0 && x.Dim(-1) == 0 {
			panic(fmt.Sprintf("tensor: NormalizeRows of rows of length 0 (shape %v)", x.shape))
		}
		return normalizeRowsComposed(x, eps)
	}
	y = New(b, x.DType(), x.shape...)
	mean = New(b, x.DType(), rs...)
	rstd = New(b, x.DType(), rs...)
	nr.NormalizeRows(y, mean, rstd, x, eps)
	return y, mean, rstd
}

// normalizeRowsComposed is NormalizeRows from elementwise operations and
// reductions, in the order nn.Normalize used before the operation was
// fused: the fallback of backends without RowNormalizer and what the gonum
// reference runs, so that the backend suite checks the fused kernels.
func normalizeRowsComposed(x *Tensor, eps float64) (y, mean, rstd *Tensor) {
	mean = Mean(x, -1, true)
	centered := Sub(x, mean)
	sd := Sqrt(Shift(Mean(Square(centered), -1, true), eps))
	y = Div(centered, sd)
	rstd = Div(Full(x.Backend(), x.DType(), 1, sd.shape...), sd)
	return y, mean, rstd
}

// RowNormalizerGrad is implemented by backends that run the backward pass of
// NormalizeRows in one kernel; NormalizeRowsGrad composes it elsewhere.
//
// NormalizeRowsGrad writes dx[r, j] = rstd[r]·(g[r, j] − mean_j(g[r]) −
// y[r, j]·mean_j(g[r]·y[r])) for the contiguous g and y viewed as
// [rows, n] and rstd [rows]; dx is freshly allocated; rows > 0, n > 0.
type RowNormalizerGrad interface {
	NormalizeRowsGrad(dx, g, y, rstd *Tensor)
}

// NormalizeRowsGrad is the gradient of NormalizeRows with respect to x,
// given the gradient g of its output y and the rstd it returned:
//
//	dx = rstd·(g − mean(g) − y·mean(g·y))
//
// the means along the last dimension. Backends that implement
// RowNormalizerGrad run it as one kernel; elsewhere it is composed from
// Mul, Mean and Sub.
func NormalizeRowsGrad(g, y, rstd *Tensor) *Tensor {
	sameBackend(g, y, rstd)
	if !slices.Equal(g.shape, y.shape) || rstd.Len()*y.Dim(-1) != y.Len() {
		panic(fmt.Sprintf("tensor: NormalizeRowsGrad: g %v, y %v, rstd %v", g.shape, y.shape, rstd.shape))
	}
	g, y, rstd = g.Contiguous(), y.Contiguous(), rstd.Contiguous()
	b := g.Backend()
	ng, ok := b.(RowNormalizerGrad)
	if !ok || y.Len() == 0 {
		return normalizeRowsGradComposed(g, y, rstd)
	}
	dx := New(b, g.DType(), g.shape...)
	ng.NormalizeRowsGrad(dx, g, y, rstd)
	return dx
}

// normalizeRowsGradComposed is NormalizeRowsGrad from elementwise operations
// and means: the fallback and what the gonum reference runs.
func normalizeRowsGradComposed(g, y, rstd *Tensor) *Tensor {
	rs := append(slices.Clone(y.shape[:y.Rank()-1]), 1)
	gy := Mean(Mul(g, y), -1, true)
	dx := Sub(Sub(g, Mean(g, -1, true)), Mul(y, gy))
	return Mul(dx, rstd.Reshape(rs...))
}
