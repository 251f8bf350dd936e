package nn

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// Conv2d is a 2-D convolution over [n, c, h, w] images (autograd.Conv2d: an
// implicit GEMM of the flattened kernels and the image's patches).
type Conv2d struct {
	W, B        *autograd.Var // W [out, in·k·k], B [out]
	In, Out, K  int
	Stride, Pad int
}

// NewConv2d makes a k×k convolution, initialized like PyTorch (±1/√(in·k·k)).
func NewConv2d(init *Init, in, out, k, stride, pad int) *Conv2d {
	bound := 1 / math.Sqrt(float64(in*k*k))
	return &Conv2d{W: init.Uniform(-bound, bound, out, in*k*k), B: init.Uniform(-bound, bound, out),
		In: in, Out: out, K: k, Stride: stride, Pad: pad}
}

// Params implements Module.
func (c *Conv2d) Params() []Param { return []Param{{"weight", c.W}, {"bias", c.B}} }

// Forward convolves x [n, in, h, w] into [n, out, oh, ow].
func (c *Conv2d) Forward(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 || s[1] != c.In {
		panic(fmt.Sprintf("nn: Conv2d with %d input channels applied to shape %v", c.In, s))
	}
	return autograd.Conv2d(x, c.W, c.B, tensor.NewConvGeom(s[0], s[1], s[2], s[3], c.K, c.K, c.Stride, c.Pad))
}

// ConvTranspose2d is a 2-D transposed convolution over [n, c, h, w] images
// (autograd.ConvTranspose2d, PyTorch's ConvTranspose2d without output
// padding): [n, in, h, w] → [n, out, (h−1)·stride − 2·pad + k, likewise w].
type ConvTranspose2d struct {
	W, B        *autograd.Var // W [in, out·k·k], B [out]
	In, Out, K  int
	Stride, Pad int
}

// NewConvTranspose2d makes a k×k transposed convolution, initialized like
// PyTorch (±1/√(out·k·k): its fan-in is computed from the weight's second
// axis).
func NewConvTranspose2d(init *Init, in, out, k, stride, pad int) *ConvTranspose2d {
	bound := 1 / math.Sqrt(float64(out*k*k))
	return &ConvTranspose2d{W: init.Uniform(-bound, bound, in, out*k*k), B: init.Uniform(-bound, bound, out),
		In: in, Out: out, K: k, Stride: stride, Pad: pad}
}

// Params implements Module.
func (c *ConvTranspose2d) Params() []Param { return []Param{{"weight", c.W}, {"bias", c.B}} }

// Forward upsamples x [n, in, h, w] into [n, out, oh, ow].
func (c *ConvTranspose2d) Forward(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 || s[1] != c.In {
		panic(fmt.Sprintf("nn: ConvTranspose2d with %d input channels applied to shape %v", c.In, s))
	}
	return autograd.ConvTranspose2d(x, c.W, c.B, tensor.NewConvTransposeGeom(s[0], c.Out, s[2], s[3], c.K, c.K, c.Stride, c.Pad))
}

// GroupNorm normalizes [n, c, h, w] over groups of channels, then scales and
// shifts each channel: one fused operation over the rows of [n, groups,
// c/groups·h·w] with γ and β per channel (autograd.NormalizeRowsAffine with
// inner = h·w).
type GroupNorm struct {
	Groups      int
	Gamma, Beta *autograd.Var
	Eps         float64
}

// NewGroupNorm makes a group norm of channels split into groups.
func NewGroupNorm(init *Init, groups, channels int) *GroupNorm {
	if channels%groups != 0 {
		panic(fmt.Sprintf("nn: %d channels in %d groups", channels, groups))
	}
	return &GroupNorm{Groups: groups, Gamma: init.Constant(1, channels), Beta: init.Constant(0, channels), Eps: 1e-5}
}

// Params implements Module.
func (g *GroupNorm) Params() []Param { return []Param{{"weight", g.Gamma}, {"bias", g.Beta}} }

// Forward normalizes x [n, c, h, w].
func (g *GroupNorm) Forward(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	c := g.Gamma.Value.Dim(0)
	if len(s) != 4 || s[1] != c {
		panic(fmt.Sprintf("nn: GroupNorm of %d channels applied to shape %v", c, s))
	}
	h := autograd.Reshape(x, s[0], g.Groups, -1)
	return autograd.Reshape(autograd.NormalizeRowsAffine(h, g.Gamma, g.Beta, s[2]*s[3], g.Eps), s...)
}
