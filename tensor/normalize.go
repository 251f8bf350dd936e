package tensor

import (
	"fmt"
	"slices"
)

// Affine is the per-feature scale and shift that NormalizeRows can apply in
// the same pass as the normalization, y = ŷ·Gamma[c] + Beta[c], where the
// element at row-major index i of x has feature
//
//	c = (i / Inner) mod k,  k = Gamma.Len()
//
// that is, x viewed as [outer, k, Inner] with Gamma and Beta along the
// middle axis, whatever the rows are. LayerNorm over the last dimension d is
// Inner = 1, k = d. GroupNorm of [n, c, h, w] normalizes rows r of
// [n, groups, (c/groups)·h·w]; with Inner = h·w and k = c, element j of row
// r has feature ((r·(c/groups)·h·w + j) / (h·w)) mod c = (r mod groups)·
// (c/groups) + j/(h·w), its channel.
//
// Gamma and Beta are one-dimensional, of x's backend and dtype; Inner ≥ 1
// and k·Inner divides x.Len().
type Affine struct {
	Gamma, Beta *Tensor
	Inner       int
}

// K is the number of features, Gamma's length.
func (a *Affine) K() int { return a.Gamma.Len() }

// check panics unless a fits x (see Affine) and returns a with contiguous
// Gamma and Beta.
func (a *Affine) check(x *Tensor) *Affine {
	if a.Gamma.Rank() != 1 || !slices.Equal(a.Gamma.shape, a.Beta.shape) || a.Inner < 1 ||
		x.Len()%(a.K()*a.Inner) != 0 {
		panic(fmt.Sprintf("tensor: affine γ %v, β %v, inner %d for x %v", a.Gamma.shape, a.Beta.shape, a.Inner, x.shape))
	}
	sameBackend(x, a.Gamma, a.Beta)
	return &Affine{Gamma: a.Gamma.Contiguous(), Beta: a.Beta.Contiguous(), Inner: a.Inner}
}

// features views t (x's shape) as [outer, k, Inner] and v ([k]) as [k, 1],
// so that v broadcasts along the features: for the composed fallbacks.
func (a *Affine) features(t, v *Tensor) (*Tensor, *Tensor) {
	k := a.K()
	return t.Reshape(-1, k, a.Inner), v.Reshape(k, 1)
}

// RowNormalizer is implemented by backends that normalize rows in one kernel
// (one dispatch on a GPU); NormalizeRows composes the operation from Mean,
// Sub, Square, Shift, Sqrt and Div (Mul and Add for the affine) on the
// others.
//
// NormalizeRows writes, for every row r of the contiguous x viewed as
// [rows, n] (n its last dimension), mean[r] = Σ_j x[r, j]/n, rstd[r] =
// 1/√(Σ_j (x[r, j] − mean[r])²/n + eps) and ŷ[r, j] = (x[r, j] −
// mean[r])·rstd[r], into y as it is when aff is nil, else y = ŷ·γ[c] +
// β[c] with c the feature of the element (see Affine; aff's tensors are
// contiguous). y, mean and rstd are freshly allocated and contiguous;
// rows > 0 and n > 0.
type RowNormalizer interface {
	NormalizeRows(y, mean, rstd, x *Tensor, eps float64, aff *Affine)
}

// NormalizeRows normalizes x along its last dimension to zero mean and unit
// (biased) variance, ŷ = (x − mean)·rstd with rstd = 1/√(var + eps), and
// returns y = ŷ, or y = ŷ·γ + β per feature when aff is not nil (see
// Affine). It also returns the rows' mean and rstd, of x's shape with a
// last dimension of 1 (so that they broadcast against x), which the
// backward pass needs. LayerNorm is this over the features, with γ and β
// along them; GroupNorm is this over x reshaped to [n, groups,
// c/groups·h·w], with γ and β per channel.
//
// Backends that implement RowNormalizer run it as one kernel; elsewhere it
// is composed from other operations, with the same result up to float
// rounding. x may be any view: it is made contiguous first.
func NormalizeRows(x *Tensor, eps float64, aff *Affine) (y, mean, rstd *Tensor) {
	if x.Rank() < 1 {
		panic("tensor: NormalizeRows of a 0-d tensor")
	}
	if x.Dim(-1) == 0 {
		panic(fmt.Sprintf("tensor: NormalizeRows of rows of length 0 (shape %v)", x.shape))
	}
	x = x.Contiguous()
	if aff != nil {
		aff = aff.check(x)
	}
	b := x.Backend()
	rs := rowShape(x)
	nr, ok := b.(RowNormalizer)
	if !ok || x.Len() == 0 {
		return normalizeRowsComposed(x, eps, aff)
	}
	y = New(b, x.DType(), x.shape...)
	mean = New(b, x.DType(), rs...)
	rstd = New(b, x.DType(), rs...)
	nr.NormalizeRows(y, mean, rstd, x, eps, aff)
	return y, mean, rstd
}

// normalizeRowsComposed is NormalizeRows from elementwise operations and
// reductions, then y = ŷ·γ + β: the fallback of backends without
// RowNormalizer and what the gonum reference runs, so that the backend
// suite checks the fused kernels against it.
func normalizeRowsComposed(x *Tensor, eps float64, aff *Affine) (y, mean, rstd *Tensor) {
	mean = Mean(x, -1, true)
	centered := Sub(x, mean)
	sd := Sqrt(Shift(Mean(Square(centered), -1, true), eps))
	y = Div(centered, sd)
	rstd = Div(Full(x.Backend(), x.DType(), 1, sd.shape...), sd)
	if aff != nil {
		yf, gamma := aff.features(y, aff.Gamma)
		_, beta := aff.features(y, aff.Beta)
		y = Add(Mul(yf, gamma), beta).Reshape(x.shape...)
	}
	return y, mean, rstd
}

// RowNormalizerGrad is implemented by backends that run the backward pass of
// NormalizeRows in one kernel per gradient; NormalizeRowsGrad and
// NormalizeAffineGrad compose it elsewhere. The operands are contiguous:
// g and x viewed as [rows, n], mean and rstd [rows] (rows > 0, n > 0);
// the outputs are freshly allocated. With ŷ = (x − mean)·rstd:
//
// NormalizeRowsGrad writes dx[r, j] = rstd[r]·(g'[r, j] − mean_j(g'[r]) −
// ŷ[r, j]·mean_j(g'[r]·ŷ[r])), where g' = g without aff and g'[r, j] =
// g[r, j]·γ[c] with it (c the feature of the element, see Affine; aff.Beta
// is not read).
//
// NormalizeAffineGrad writes dgamma[c] = Σ g·ŷ and dbeta[c] = Σ g over
// the elements of feature c (aff not nil; aff.Gamma and aff.Beta are not
// read, only their length and aff.Inner).
type RowNormalizerGrad interface {
	NormalizeRowsGrad(dx, g, x, mean, rstd *Tensor, aff *Affine)
	NormalizeAffineGrad(dgamma, dbeta, g, x, mean, rstd *Tensor, aff *Affine)
}

// NormalizeRowsGrad is the gradient with respect to x of NormalizeRows(x,
// eps, aff), given the gradient g of its output y and the mean and rstd it
// returned. With ŷ = (x − mean)·rstd recomputed and g' = g (g·γ per feature
// with aff, the gradient of ŷ):
//
//	dx = rstd·(g' − mean(g') − ŷ·mean(g'·ŷ))
//
// the means along the last dimension. Backends that implement
// RowNormalizerGrad run it as one kernel; elsewhere it is composed from
// elementwise operations and means.
func NormalizeRowsGrad(g, x, mean, rstd *Tensor, aff *Affine) *Tensor {
	g, x, mean, rstd = normalizeGradOperands(g, x, mean, rstd)
	if aff != nil {
		aff = aff.check(x)
	}
	b := g.Backend()
	ng, ok := b.(RowNormalizerGrad)
	if !ok || x.Len() == 0 {
		return normalizeRowsGradComposed(g, x, mean, rstd, aff)
	}
	dx := New(b, g.DType(), g.shape...)
	ng.NormalizeRowsGrad(dx, g, x, mean, rstd, aff)
	return dx
}

// NormalizeAffineGrad is the gradient of NormalizeRows(x, eps, aff) with
// respect to aff.Gamma and aff.Beta, given the gradient g of its output and
// the mean and rstd it returned: with ŷ = (x − mean)·rstd,
//
//	dγ[c] = Σ g·ŷ,  dβ[c] = Σ g
//
// over the elements of feature c (every row of the batch). Backends that
// implement RowNormalizerGrad run it as one kernel; elsewhere it is
// composed from elementwise operations and sums.
func NormalizeAffineGrad(g, x, mean, rstd *Tensor, aff *Affine) (dgamma, dbeta *Tensor) {
	g, x, mean, rstd = normalizeGradOperands(g, x, mean, rstd)
	aff = aff.check(x)
	b := g.Backend()
	ng, ok := b.(RowNormalizerGrad)
	if !ok || x.Len() == 0 {
		return normalizeAffineGradComposed(g, x, mean, rstd, aff)
	}
	dgamma = New(b, g.DType(), aff.K())
	dbeta = New(b, g.DType(), aff.K())
	ng.NormalizeAffineGrad(dgamma, dbeta, g, x, mean, rstd, aff)
	return dgamma, dbeta
}

// normalizeGradOperands checks the shapes of the backward passes'
// operands and makes them contiguous.
func normalizeGradOperands(g, x, mean, rstd *Tensor) (_, _, _, _ *Tensor) {
	sameBackend(g, x, mean, rstd)
	if x.Rank() < 1 || !slices.Equal(g.shape, x.shape) || mean.Len()*x.Dim(-1) != x.Len() || rstd.Len() != mean.Len() {
		panic(fmt.Sprintf("tensor: NormalizeRows backward: g %v, x %v, mean %v, rstd %v", g.shape, x.shape, mean.shape, rstd.shape))
	}
	return g.Contiguous(), x.Contiguous(), mean.Contiguous(), rstd.Contiguous()
}

// normalized recomputes ŷ = (x − mean)·rstd for the composed backward
// passes.
func normalized(x, mean, rstd *Tensor) *Tensor {
	rs := rowShape(x)
	return Mul(Sub(x, mean.Reshape(rs...)), rstd.Reshape(rs...))
}

// normalizeRowsGradComposed is NormalizeRowsGrad from elementwise operations
// and means: the fallback and what the gonum reference runs.
func normalizeRowsGradComposed(g, x, mean, rstd *Tensor, aff *Affine) *Tensor {
	y := normalized(x, mean, rstd)
	if aff != nil {
		gf, gamma := aff.features(g, aff.Gamma)
		g = Mul(gf, gamma).Reshape(x.shape...)
	}
	gy := Mean(Mul(g, y), -1, true)
	dx := Sub(Sub(g, Mean(g, -1, true)), Mul(y, gy))
	return Mul(dx, rstd.Reshape(gy.shape...))
}

// normalizeAffineGradComposed is NormalizeAffineGrad from elementwise
// operations and sums: the fallback and what the gonum reference runs.
func normalizeAffineGradComposed(g, x, mean, rstd *Tensor, aff *Affine) (dgamma, dbeta *Tensor) {
	sum := func(t *Tensor) *Tensor {
		tf, _ := aff.features(t, aff.Gamma)
		return Sum(Sum(tf, 2, false), 0, false)
	}
	return sum(Mul(g, normalized(x, mean, rstd))), sum(g)
}
