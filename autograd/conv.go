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

// ConvTranspose2d is the transposed convolution of x [n, in, g.OutH,
// g.OutW] with the kernels w [in, g.C·kh·kw] (PyTorch's ConvTranspose2d
// weight flattened) plus b ([g.C], or nil), giving [n, g.C, g.H, g.W]
// (tensor.ConvTranspose2d; g is the geometry of the convolution whose input
// gradient it is, tensor.NewConvTransposeGeom). No kernel of its own: every
// part is one of the convolution's. For the gradient dy of the output:
//
//	dx = Conv2d(dy, w)               (no bias)
//	dw = Conv2dGradWeight(x, dy)     (x as the output gradient, dy as the image)
//	db = Σ_{n, y, x} dy
//
// Where dx's convolution unfolded dy (the composed path), dw reuses its
// patches.
func ConvTranspose2d(x, w, b *Var, g tensor.ConvGeom) *Var {
	inputs := []*Var{x, w}
	var bias *tensor.Tensor
	if b != nil {
		bias = b.Value
		inputs = append(inputs, b)
	}
	y := tensor.ConvTranspose2d(x.Value, w.Value, bias, g)
	return record("convtranspose2d", y, func(dy *tensor.Tensor) []*tensor.Tensor {
		grads := make([]*tensor.Tensor, len(inputs))
		src := dy
		if x.requiresGrad {
			var cols *tensor.Tensor
			grads[0], cols = tensor.Conv2dPatches(dy, w.Value, nil, g)
			if cols != nil {
				src = cols
			}
		}
		if w.requiresGrad {
			grads[1] = tensor.Conv2dGradWeight(x.Value, src, g)
		}
		if src != dy {
			tensor.Free(src)
		}
		if b != nil && b.requiresGrad {
			grads[2] = tensor.SumTo(dy.Reshape(g.N, g.C, g.H*g.W), []int{g.C, 1}).Reshape(g.C)
		}
		return grads
	}, inputs...)
}
