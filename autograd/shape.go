package autograd

import (
	"slices"

	"github.com/difftune/difftune/tensor"
)

// Reshape changes the shape, keeping the elements in order.
func Reshape(x *Var, shape ...int) *Var {
	in := slices.Clone(x.Shape())
	return record("reshape", x.Value.Reshape(shape...), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Reshape(in...)}
	}, x)
}

// Permute reorders axes (see tensor.Permute).
func Permute(x *Var, perm ...int) *Var {
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return record("permute", x.Value.Permute(perm...), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Permute(inv...).Contiguous()}
	}, x)
}

// Transpose swaps two axes.
func Transpose(x *Var, i, j int) *Var {
	return record("transpose", x.Value.Transpose(i, j), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Transpose(i, j).Contiguous()}
	}, x)
}

// Slice keeps [start, end) along axis.
func Slice(x *Var, axis, start, end int) *Var {
	return record("slice", x.Value.Slice(axis, start, end), func(g *tensor.Tensor) []*tensor.Tensor {
		full := tensor.ZerosLike(x.Value)
		full.Slice(axis, start, end).CopyFrom(g)
		return []*tensor.Tensor{full}
	}, x)
}

// Expand broadcasts x to shape.
func Expand(x *Var, shape ...int) *Var {
	return record("expand", x.Value.Expand(shape...), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.SumTo(g, x.Shape())}
	}, x)
}

// Concat joins Vars along axis.
func Concat(axis int, xs ...*Var) *Var {
	vals := make([]*tensor.Tensor, len(xs))
	for i, x := range xs {
		vals[i] = x.Value
	}
	return record("concat", tensor.Concat(axis, vals...), func(g *tensor.Tensor) []*tensor.Tensor {
		grads := make([]*tensor.Tensor, len(xs))
		at := 0
		for i, x := range xs {
			n := x.Value.Dim(axis)
			if x.requiresGrad {
				grads[i] = g.Slice(axis, at, at+n).Contiguous()
			}
			at += n
		}
		return grads
	}, xs...)
}

// IndexSelect gathers entries idx along axis.
func IndexSelect(x *Var, axis int, idx []int) *Var {
	idx = slices.Clone(idx)
	return record("index_select", tensor.IndexSelect(x.Value, axis, idx), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.IndexAdd(g, axis, idx, x.Shape())}
	}, x)
}

// Im2Col unfolds convolution patches (see tensor.Im2Col).
func Im2Col(x *Var, geom tensor.ConvGeom) *Var {
	return record("im2col", tensor.Im2Col(x.Value, geom), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Col2Im(g, geom)}
	}, x)
}
