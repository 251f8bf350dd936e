package tensor

import (
	"fmt"
	"slices"
)

// Convolver is implemented by backends that run the 2-D convolution and its
// two backward convolutions as kernels of their own (implicit GEMMs: one
// dispatch each on a GPU, and no unfolded patches in memory); Conv2d,
// Conv2dGradInput and Conv2dGradWeight compose them from Im2Col, Col2Im and
// MatMul on the others.
//
// With x [N, C, H, W], w [O, C·KH·KW], y and dy [N, O, OH, OW] and the
// patches x̂ = Im2Col(x) [N, C·KH·KW, OH·OW] (k = (c, ky, kx) row-major, q =
// (oy, ox), x̂[n, k, q] = x[n, c, oy·s − p + ky, ox·s − p + kx], 0 in the
// padding):
//
//	Conv2d:           y[n, o, q]  = Σ_k w[o, k]·x̂[n, k, q] + bias[o]
//	Conv2dGradInput:  dx[n]       = Col2Im(wᵀ·dy[n]), i.e. dx[n, c, iy, ix] =
//	                  Σ_{o, ky, kx} w[o, (c, ky, kx)]·dy[n, o, oy, ox] over
//	                  oy·s − p + ky = iy, ox·s − p + kx = ix
//	Conv2dGradWeight: dw[o, k]    = Σ_{n, q} dy[n, o, q]·x̂[n, k, q]
//
// bias ([O]) may be nil. Every input is contiguous, every output freshly
// allocated and contiguous, and g matches the shapes. A method that returns
// false declined (its output is untouched): the operation is then composed.
type Convolver interface {
	Conv2d(y, x, w, bias *Tensor, g ConvGeom) bool
	Conv2dGradInput(dx, dy, w *Tensor, g ConvGeom) bool
	Conv2dGradWeight(dw, dy, x *Tensor, g ConvGeom) bool
}

// Conv2d convolves x [n, c, h, w] with the kernels w [out, c·kh·kw] (row o:
// output channel o's kernel, (c, ky, kx) row-major, as PyTorch's weight
// [out, c, kh, kw] flattened) and adds bias ([out], or nil): the result is
// [n, out, oh, ow] (see Convolver for the sums).
//
// Backends that implement Convolver run it as one kernel; elsewhere it is
// Im2Col followed by MatMul, with the same result up to float rounding.
func Conv2d(x, w, bias *Tensor, g ConvGeom) *Tensor {
	y, _ := Conv2dPatches(x, w, bias, g)
	return y
}

// Conv2dPatches is Conv2d that also returns what the weight gradient can be
// computed from without unfolding x again: its patches Im2Col(x) where the
// convolution is composed (float64 on the CPU, cpu-ref), nil where the backend
// convolves directly and never materializes them. Pass the patches, or x
// where they are nil, to Conv2dGradWeight.
func Conv2dPatches(x, w, bias *Tensor, g ConvGeom) (y, cols *Tensor) {
	checkConv("Conv2d", x, []int{g.N, g.C, g.H, g.W}, g)
	out := convOut(w, g)
	sameBackend(x, w)
	if bias != nil {
		sameBackend(x, bias)
		if !slices.Equal(bias.shape, []int{out}) {
			panic(fmt.Sprintf("tensor: Conv2d bias of shape %v for %d output channels", bias.shape, out))
		}
		bias = bias.Contiguous()
	}
	b := x.Backend()
	if cv, ok := b.(Convolver); ok && g.N*out*g.OutH*g.OutW > 0 {
		y = New(b, x.DType(), g.N, out, g.OutH, g.OutW)
		if cv.Conv2d(y, x.Contiguous(), w.Contiguous(), bias, g) {
			return y, nil
		}
		Free(y)
	}
	cols = Im2Col(x, g) // [n, c·kh·kw, oh·ow]
	y = MatMul(w, cols) // [n, out, oh·ow]
	if bias != nil {
		y = Add(y, bias.Reshape(out, 1))
	}
	return y.Reshape(g.N, out, g.OutH, g.OutW), cols
}

// Conv2dGradInput is the gradient of Conv2d with respect to x, given the
// gradient dy [n, out, oh, ow] of its output and the kernels w [out,
// c·kh·kw]: the transposed convolution dx = Col2Im(wᵀ·dy), [n, c, h, w].
// Backends that implement Convolver run it as one kernel; elsewhere it is
// MatMul followed by Col2Im.
func Conv2dGradInput(dy, w *Tensor, g ConvGeom) *Tensor {
	out := convOut(w, g)
	checkConv("Conv2dGradInput", dy, []int{g.N, out, g.OutH, g.OutW}, g)
	sameBackend(dy, w)
	b := dy.Backend()
	if cv, ok := b.(Convolver); ok && g.N*g.C*g.H*g.W > 0 {
		dx := New(b, dy.DType(), g.N, g.C, g.H, g.W)
		if cv.Conv2dGradInput(dx, dy.Contiguous(), w.Contiguous(), g) {
			return dx
		}
		Free(dx)
	}
	// dcols[n] = wᵀ·dy[n], folded back onto the image.
	return Col2Im(MatMulT(w, dy.Reshape(g.N, out, g.OutH*g.OutW), true, false), g)
}

// Conv2dGradWeight is the gradient of Conv2d with respect to w, [out,
// c·kh·kw], given the gradient dy [n, out, oh, ow] of its output and either
// its input x [n, c, h, w] or the patches Im2Col(x) [n, c·kh·kw, oh·ow] that
// Conv2dPatches returned. Backends that implement Convolver run it from x as
// one kernel; elsewhere (or given the patches) it is the batch of products
// dy[n]·x̂[n]ᵀ summed over n.
func Conv2dGradWeight(dy, x *Tensor, g ConvGeom) *Tensor {
	if x.Rank() != 3 {
		checkConv("Conv2dGradWeight", x, []int{g.N, g.C, g.H, g.W}, g)
	} else if !slices.Equal(x.shape, []int{g.N, g.C * g.KH * g.KW, g.OutH * g.OutW}) {
		panic(fmt.Sprintf("tensor: Conv2dGradWeight: patches of shape %v with geometry %+v", x.shape, g))
	}
	if dy.Rank() != 4 || dy.shape[0] != g.N || dy.shape[2] != g.OutH || dy.shape[3] != g.OutW {
		panic(fmt.Sprintf("tensor: Conv2dGradWeight: dy of shape %v with geometry %+v", dy.shape, g))
	}
	sameBackend(dy, x)
	out, rows := dy.shape[1], g.C*g.KH*g.KW
	b := dy.Backend()
	if cv, ok := b.(Convolver); ok && x.Rank() == 4 && out*rows > 0 {
		dw := New(b, dy.DType(), out, rows)
		if cv.Conv2dGradWeight(dw, dy.Contiguous(), x.Contiguous(), g) {
			return dw
		}
		Free(dw)
	}
	cols := x
	if x.Rank() == 4 {
		cols = Im2Col(x, g)
	}
	return SumTo(MatMulT(dy.Reshape(g.N, out, g.OutH*g.OutW), cols, false, true), []int{out, rows})
}

// checkConv panics unless t has the shape want of an operand of op with
// geometry g.
func checkConv(op string, t *Tensor, want []int, g ConvGeom) {
	if !slices.Equal(t.shape, want) {
		panic(fmt.Sprintf("tensor: %s: operand of shape %v with geometry %+v (want %v)", op, t.shape, g, want))
	}
}

// convOut returns the number of output channels of the kernels w, which
// must be [out, c·kh·kw] for geometry g.
func convOut(w *Tensor, g ConvGeom) int {
	if w.Rank() != 2 || w.shape[1] != g.C*g.KH*g.KW {
		panic(fmt.Sprintf("tensor: convolution kernels of shape %v with geometry %+v (want [out %d])", w.shape, g, g.C*g.KH*g.KW))
	}
	return w.shape[0]
}

// NewConvTransposeGeom returns the geometry of a transposed convolution
// (PyTorch's ConvTranspose2d, no output padding) of [n, ·, h, w] images into
// out channels with kh×kw kernels: the geometry of the convolution whose
// input gradient it is. That convolution's input is the transposed one's
// result, [n, out, (h−1)·stride − 2·pad + kh, (w−1)·stride − 2·pad + kw],
// and its output size OutH×OutW is h×w.
func NewConvTransposeGeom(n, out, h, w, kh, kw, stride, pad int) ConvGeom {
	oh, ow := (h-1)*stride-2*pad+kh, (w-1)*stride-2*pad+kw
	if h < 1 || w < 1 || oh < 1 || ow < 1 {
		panic(fmt.Sprintf("tensor: transposed convolution of %dx%d images with kernel %dx%d stride=%d pad=%d", h, w, kh, kw, stride, pad))
	}
	return NewConvGeom(n, out, oh, ow, kh, kw, stride, pad)
}

// ConvTranspose2d is the transposed convolution of x [n, in, g.OutH, g.OutW]
// with the kernels w [in, g.C·kh·kw] (PyTorch's ConvTranspose2d weight [in,
// out, kh, kw] flattened) plus bias ([g.C], or nil): the input gradient of
// the convolution of geometry g (see NewConvTransposeGeom) at dy = x,
// [n, g.C, g.H, g.W]. Its own gradients are convolutions of that geometry
// too: for the gradient dy of its output, dx = Conv2d(dy, w) and dw =
// Conv2dGradWeight(x, dy) (x in the role of the output gradient, dy in that
// of the image).
func ConvTranspose2d(x, w, bias *Tensor, g ConvGeom) *Tensor {
	y := Conv2dGradInput(x, w, g)
	if bias == nil {
		return y
	}
	sameBackend(x, bias)
	if !slices.Equal(bias.shape, []int{g.C}) {
		panic(fmt.Sprintf("tensor: ConvTranspose2d bias of shape %v for %d output channels", bias.shape, g.C))
	}
	out := Add(y, bias.Contiguous().Reshape(g.C, 1, 1))
	Free(y)
	return out
}
