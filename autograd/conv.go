package autograd

import "github.com/difftune/difftune/tensor"

// Conv2d convolves x [n, c, h, w] with the kernels w [out, c·kh·kw] and adds
// b ([out], or nil) as one operation (tensor.Conv2d: one kernel on backends
// that implement tensor.Convolver), giving [n, out, oh, ow].
//
// The rule, for the gradient dy of the output (see tensor.Convolver):
//
//	dx = Col2Im(wᵀ·dy)      (tensor.Conv2dGradInput, the transposed convolution)
//	dw = Σ_n dy[n]·x̂[n]ᵀ    (tensor.Conv2dGradWeight, x̂ the patches of x)
//	db = Σ_{n, oy, ox} dy
//
// Where the forward pass unfolded x (the composed path), the patches are
// kept for dw instead of unfolding x again.
func Conv2d(x, w, b *Var, g tensor.ConvGeom) *Var {
	inputs := []*Var{x, w}
	var bias *tensor.Tensor
	if b != nil {
		bias = b.Value
		inputs = append(inputs, b)
	}
	y, cols := tensor.Conv2dPatches(x.Value, w.Value, bias, g)
	src := x.Value
	if cols != nil {
		src = cols
	}
	return record("conv2d", y, func(dy *tensor.Tensor) []*tensor.Tensor {
		grads := make([]*tensor.Tensor, len(inputs))
		if x.requiresGrad {
			grads[0] = tensor.Conv2dGradInput(dy, w.Value, g)
		}
		if w.requiresGrad {
			grads[1] = tensor.Conv2dGradWeight(dy, src, g)
		}
		if b != nil && b.requiresGrad {
			out := y.Dim(1)
			grads[2] = tensor.SumTo(dy.Reshape(g.N, out, g.OutH*g.OutW), []int{out, 1}).Reshape(out)
		}
		return grads
	}, inputs...)
}
