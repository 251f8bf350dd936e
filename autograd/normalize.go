package autograd

import "github.com/difftune/difftune/tensor"

// NormalizeRows normalizes x along its last dimension to zero mean and unit
// (biased) variance, y = (x − mean)·rstd with rstd = 1/√(var + eps), as one
// operation (tensor.NormalizeRows: one kernel on backends that fuse it).
// LayerNorm is this over the features, GroupNorm over x reshaped to
// [n, groups, rest].
//
// The rule, per row of length n with ŷ the output and g its gradient:
//
//	dx = rstd·(g − mean(g) − ŷ·mean(g·ŷ))
//
// from the saved ŷ and rstd (tensor.NormalizeRowsGrad: one kernel on
// backends that fuse it).
func NormalizeRows(x *Var, eps float64) *Var {
	y, _, rstd := tensor.NormalizeRows(x.Value, eps)
	return record("normalize_rows", y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.NormalizeRowsGrad(g, y, rstd)}
	}, x)
}
