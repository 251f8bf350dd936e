package autograd

import "github.com/difftune/difftune/tensor"

// NormalizeRows normalizes x along its last dimension to zero mean and unit
// (biased) variance, ŷ = (x − mean)·rstd with rstd = 1/√(var + eps), as one
// operation (tensor.NormalizeRows: one kernel on backends that fuse it).
//
// The rule, per row of length n with g the gradient of ŷ:
//
//	dx = rstd·(g − mean(g) − ŷ·mean(g·ŷ))
//
// from ŷ recomputed from x and the saved mean and rstd
// (tensor.NormalizeRowsGrad: one kernel on backends that fuse it).
func NormalizeRows(x *Var, eps float64) *Var {
	return normalizeRows(x, nil, nil, 0, eps)
}

// NormalizeRowsAffine is NormalizeRows followed by a per-feature scale and
// shift, y = ŷ·gamma[c] + beta[c], where the feature c of an element is
// its index along the middle axis of x viewed as [outer, len(gamma),
// inner] (see tensor.Affine): LayerNorm is inner = 1 with gamma along the
// features; GroupNorm of [n, c, h, w] is x reshaped to [n, groups,
// c/groups·h·w] with inner = h·w and gamma per channel. One operation
// (one kernel forward on backends that fuse it).
//
// The rules, with g the gradient of y: the rule of NormalizeRows for the
// gradient g·gamma of ŷ (one kernel), and dgamma[c] = Σ g·ŷ, dbeta[c] = Σ g
// over the elements of feature c (one more kernel, only when gamma or beta
// needs a gradient).
func NormalizeRowsAffine(x, gamma, beta *Var, inner int, eps float64) *Var {
	return normalizeRows(x, gamma, beta, inner, eps)
}

func normalizeRows(x, gamma, beta *Var, inner int, eps float64) *Var {
	xc := x.Value.Contiguous() // what NormalizeRows reads, kept for the backward pass
	inputs := []*Var{x}
	var aff *tensor.Affine
	if gamma != nil {
		aff = &tensor.Affine{Gamma: gamma.Value, Beta: beta.Value, Inner: inner}
		inputs = append(inputs, gamma, beta)
	}
	y, mean, rstd := tensor.NormalizeRows(xc, eps, aff)
	return record("normalize_rows", y, func(g *tensor.Tensor) []*tensor.Tensor {
		grads := make([]*tensor.Tensor, len(inputs))
		if x.requiresGrad {
			grads[0] = tensor.NormalizeRowsGrad(g, xc, mean, rstd, aff)
		}
		if aff != nil && (gamma.requiresGrad || beta.requiresGrad) {
			grads[1], grads[2] = tensor.NormalizeAffineGrad(g, xc, mean, rstd, aff)
		}
		return grads
	}, inputs...)
}
