package nn

import (
	"fmt"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// UNetConfig sizes a UNet: images of Channels×Height×Width (both sides
// multiples of 4), widths C1, C2, C3 at full, half and quarter resolution,
// GroupNorm groups (dividing every width), attention heads (dividing C3),
// the sinusoidal embedding's width EmbDim and the time features' width
// TimeDim.
type UNetConfig struct {
	Channels, Height, Width int
	C1, C2, C3              int
	Groups, Heads           int
	EmbDim, TimeDim         int
}

// DefaultUNet is the UNet of Fashion-MNIST's 1×28×28 images: widths 32, 64,
// 64, 8 groups, 4 heads, the time embedded in 32 and 64 features (the
// PyTorch twin in bench/torch/torch_workloads.py).
var DefaultUNet = UNetConfig{Channels: 1, Height: 28, Width: 28, C1: 32, C2: 64, C3: 64, Groups: 8, Heads: 4, EmbDim: 32, TimeDim: 64}

// UNet is a noise-prediction network of images and a time: a convolutional
// encoder–decoder with skip connections (28 → 14 → 7 → 14 → 28 for
// Fashion-MNIST), residual blocks that add the time's features per channel,
// and self-attention at the lowest resolution. With c the image channels:
//
//	te  = MLP(sinusoidal(s))                       EmbDim → TimeDim → TimeDim, SiLU
//	h1  = Res(C1→C1)(Conv3×3(x))                   full resolution, C1
//	h2  = Res(C2→C2)(Conv3×3 stride 2(h1))         half, C2
//	h   = Res(Res(C3→C3)(Conv3×3 stride 2(h2)))    quarter, C3, attention between
//	h   = Res(2·C2→C2)([ConvT4×4 stride 2(h), h2]) half
//	h   = Res(2·C1→C1)([ConvT4×4 stride 2(h), h1]) full
//	out = Conv3×3(SiLU(GroupNorm(h)))              c channels
type UNet struct {
	Config       UNetConfig
	Time         *MLP
	In           *Conv2d
	D1, D2       *ResBlock
	Down1, Down2 *Conv2d
	M1, M2       *ResBlock
	Attn         *AttnBlock
	Up2, Up1     *ConvTranspose2d
	U2, U1       *ResBlock
	OutNorm      *GroupNorm
	Out          *Conv2d
}

// NewUNet makes a UNet of the given size, every layer initialized like
// PyTorch's.
func NewUNet(init *Init, c UNetConfig) *UNet {
	if c.Channels < 1 || c.Height < 4 || c.Width < 4 || c.Height%4 != 0 || c.Width%4 != 0 ||
		c.C1 < 1 || c.C2 < 1 || c.C3 < 1 || c.Groups < 1 || c.Heads < 1 || c.EmbDim < 2 || c.TimeDim < 1 {
		panic(fmt.Sprintf("nn: UNet of %+v", c))
	}
	g := c.Groups
	u := &UNet{Config: c, Time: NewMLP(init, tensor.ActSiLU, c.EmbDim, c.TimeDim, c.TimeDim)}
	u.In = NewConv2d(init, c.Channels, c.C1, 3, 1, 1)
	u.D1, u.Down1 = NewResBlock(init, g, c.C1, c.C1, c.TimeDim), NewConv2d(init, c.C1, c.C2, 3, 2, 1)
	u.D2, u.Down2 = NewResBlock(init, g, c.C2, c.C2, c.TimeDim), NewConv2d(init, c.C2, c.C3, 3, 2, 1)
	u.M1, u.Attn, u.M2 = NewResBlock(init, g, c.C3, c.C3, c.TimeDim), NewAttnBlock(init, g, c.C3, c.Heads), NewResBlock(init, g, c.C3, c.C3, c.TimeDim)
	u.Up2, u.U2 = NewConvTranspose2d(init, c.C3, c.C2, 4, 2, 1), NewResBlock(init, g, 2*c.C2, c.C2, c.TimeDim)
	u.Up1, u.U1 = NewConvTranspose2d(init, c.C2, c.C1, 4, 2, 1), NewResBlock(init, g, 2*c.C1, c.C1, c.TimeDim)
	u.OutNorm, u.Out = NewGroupNorm(init, g, c.C1), NewConv2d(init, c.C1, c.Channels, 3, 1, 1)
	return u
}

// Params implements Module: the twin's names (temb, inp, d1, down1, …, out).
func (u *UNet) Params() []Param {
	var ps []Param
	for _, c := range []struct {
		name string
		m    Module
	}{{"temb", u.Time}, {"inp", u.In}, {"d1", u.D1}, {"down1", u.Down1}, {"d2", u.D2}, {"down2", u.Down2},
		{"m1", u.M1}, {"att", u.Attn}, {"m2", u.M2}, {"up2", u.Up2}, {"u2", u.U2}, {"up1", u.Up1}, {"u1", u.U1},
		{"out.norm", u.OutNorm}, {"out.conv", u.Out}} {
		ps = append(ps, prefixed(c.name, c.m)...)
	}
	return ps
}

// Forward evaluates the network at x and times: one time shared by all
// images (len 1), or one per image. x is a batch of images [n, c, h, w] or
// the same flattened to [n, c·h·w] (the states of an SDE); the result has
// x's shape.
func (u *UNet) Forward(x *autograd.Var, times []float64) *autograd.Var {
	c := u.Config
	shape := x.Shape()
	n := shape[0]
	if !(len(shape) == 2 && shape[1] == c.Channels*c.Height*c.Width ||
		len(shape) == 4 && shape[1] == c.Channels && shape[2] == c.Height && shape[3] == c.Width) {
		panic(fmt.Sprintf("nn: UNet of %d×%d×%d images applied to shape %v", c.Channels, c.Height, c.Width, shape))
	}
	if len(times) != 1 && len(times) != n {
		panic(fmt.Sprintf("nn: UNet given %d times for %d images", len(times), n))
	}
	emb := SinusoidalEmbedding(x.Value.Backend(), x.Value.DType(), times, c.EmbDim)
	te := u.Time.Forward(autograd.Const(emb)) // [1 or n, TimeDim]
	// Each intermediate is released (outside recording) once consumed.
	in := u.In.Forward(autograd.Reshape(x, n, c.Channels, c.Height, c.Width))
	h1 := u.D1.Forward(in, te)
	release(in)
	d1 := u.Down1.Forward(h1)
	h2 := u.D2.Forward(d1, te)
	release(d1)
	d2 := u.Down2.Forward(h2)
	m1 := u.M1.Forward(d2, te)
	release(d2)
	at := u.Attn.Forward(m1)
	release(m1)
	h := u.M2.Forward(at, te)
	release(at)
	up := u.Up2.Forward(h)
	release(h)
	cat := autograd.Concat(1, up, h2)
	release(up, h2)
	h = u.U2.Forward(cat, te)
	release(cat)
	up = u.Up1.Forward(h)
	release(h)
	cat = autograd.Concat(1, up, h1)
	release(up, h1)
	h = u.U1.Forward(cat, te)
	release(cat)
	norm := u.OutNorm.Forward(h)
	release(h)
	act := autograd.SiLU(norm)
	release(norm)
	out := u.Out.Forward(act)
	release(act)
	return autograd.Reshape(out, shape...)
}

// ResBlock is a residual block of a UNet with the time's features added per
// channel: h = Conv3×3(SiLU(GroupNorm(x))) + Linear(te), out =
// Conv3×3(SiLU(GroupNorm(h))) + skip(x), the skip a 1×1 convolution where
// the widths differ and x itself elsewhere.
type ResBlock struct {
	N1, N2 *GroupNorm
	C1, C2 *Conv2d
	T      *Linear // time features → one shift per output channel
	Skip   *Conv2d // nil where in = out
}

// NewResBlock makes a residual block from in to out channels (groups
// dividing both) taking time features of width timeDim.
func NewResBlock(init *Init, groups, in, out, timeDim int) *ResBlock {
	r := &ResBlock{N1: NewGroupNorm(init, groups, in), C1: NewConv2d(init, in, out, 3, 1, 1), T: NewLinear(init, timeDim, out),
		N2: NewGroupNorm(init, groups, out), C2: NewConv2d(init, out, out, 3, 1, 1)}
	if in != out {
		r.Skip = NewConv2d(init, in, out, 1, 1, 0)
	}
	return r
}

// Params implements Module.
func (r *ResBlock) Params() []Param {
	ps := prefixed("n1", r.N1)
	ps = append(ps, prefixed("c1", r.C1)...)
	ps = append(ps, prefixed("t", r.T)...)
	ps = append(ps, prefixed("n2", r.N2)...)
	ps = append(ps, prefixed("c2", r.C2)...)
	if r.Skip != nil {
		ps = append(ps, prefixed("skip", r.Skip)...)
	}
	return ps
}

// Forward transforms x [n, in, h, w] given the time features te [n or 1,
// timeDim].
func (r *ResBlock) Forward(x, te *autograd.Var) *autograd.Var {
	n1 := r.N1.Forward(x)
	a1 := autograd.SiLU(n1)
	release(n1)
	c1 := r.C1.Forward(a1)
	release(a1)
	t := r.T.Forward(te, tensor.ActNone)
	h := autograd.Add(c1, autograd.Reshape(t, t.Value.Dim(0), r.C1.Out, 1, 1))
	release(c1, t)
	n2 := r.N2.Forward(h)
	release(h)
	a2 := autograd.SiLU(n2)
	release(n2)
	c2 := r.C2.Forward(a2)
	release(a2)
	if r.Skip == nil {
		out := autograd.Add(c2, x)
		release(c2)
		return out
	}
	skip := r.Skip.Forward(x)
	out := autograd.Add(c2, skip)
	release(c2, skip)
	return out
}

// releaseTemporaries turns release on; its test turns it off to compare.
var releaseTemporaries = true

// release gives the storage of a block's or the network's temporaries back to the backend
// (tensor.Free) outside recording scopes, as in sampling: the CPU backend
// then hands it out again to the next block instead of zeroing fresh
// pages (a tenth of a sampling step went there). While recording, the
// tape holds them for the backward pass and release does nothing. Each v
// must be a temporary of the caller alone, no view of its input.
func release(vs ...*autograd.Var) {
	if !releaseTemporaries || autograd.Recording() {
		return
	}
	for _, v := range vs {
		tensor.Free(v.Value)
	}
}

// AttnBlock is self-attention over the positions of an image with a
// residual: x + Attn(GroupNorm(x)), the h·w pixels the tokens and the
// channels their features (the 1×1 convolutions to queries, keys, values
// and back are MultiHeadAttention's projections).
type AttnBlock struct {
	Norm *GroupNorm
	Attn *MultiHeadAttention
}

// NewAttnBlock makes self-attention of c channels (groups and heads
// dividing c).
func NewAttnBlock(init *Init, groups, c, heads int) *AttnBlock {
	return &AttnBlock{Norm: NewGroupNorm(init, groups, c), Attn: NewMultiHeadAttention(init, c, heads)}
}

// Params implements Module.
func (a *AttnBlock) Params() []Param {
	return append(prefixed("n", a.Norm), prefixed("attn", a.Attn)...)
}

// Forward transforms x [n, c, h, w].
func (a *AttnBlock) Forward(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	tokens := autograd.Permute(autograd.Reshape(a.Norm.Forward(x), s[0], s[1], s[2]*s[3]), 0, 2, 1) // [n, h·w, c]
	y := autograd.Permute(a.Attn.Forward(tokens), 0, 2, 1)                                          // [n, c, h·w]
	return autograd.Add(x, autograd.Reshape(y, s...))
}
