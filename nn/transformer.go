package nn

import (
	"fmt"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// SeqTransformer is a network of a flattened sequence and a time: the input
// [n, Tokens·In] is read as Tokens tokens of width In, each embedded to the
// model width; a learned positional embedding and an MLP of the sinusoidal
// time embedding are added to every token; pre-norm transformer blocks follow,
// then a layer norm and a linear map of each token back to width In. It is
// the noise predictor of sequence diffusion models (one-hot tokens relaxed to
// reals).
type SeqTransformer struct {
	Tokens, In, EmbDim int
	Embed              *Linear
	Pos                *autograd.Var // [Tokens, width]
	Time               *MLP          // EmbDim → width → width
	Blocks             []*TransformerBlock
	Final              *LayerNorm
	Out                *Linear
}

// NewSeqTransformer makes a transformer over tokens tokens of width in, with
// model width width, depth blocks of heads heads (feed-forward width 2·width)
// and a time embedding of width embDim.
func NewSeqTransformer(init *Init, tokens, in, width, depth, heads, embDim int) *SeqTransformer {
	if tokens < 1 || in < 1 || width < 1 || depth < 0 || embDim < 2 {
		panic(fmt.Sprintf("nn: SeqTransformer with %d tokens of %d, width %d, depth %d, embedding %d", tokens, in, width, depth, embDim))
	}
	m := &SeqTransformer{Tokens: tokens, In: in, EmbDim: embDim,
		Embed: NewLinear(init, in, width),
		Pos:   init.Uniform(-0.1, 0.1, tokens, width),
		Time:  NewMLP(init, tensor.ActSiLU, embDim, width, width)}
	for range depth {
		m.Blocks = append(m.Blocks, NewTransformerBlock(init, width, heads, 2*width))
	}
	m.Final = NewLayerNorm(init, width)
	m.Out = NewLinear(init, width, in)
	return m
}

// Params implements Module.
func (m *SeqTransformer) Params() []Param {
	ps := prefixed("embed", m.Embed)
	ps = append(ps, Param{Name: "pos", Var: m.Pos})
	ps = append(ps, prefixed("time", m.Time)...)
	for i, b := range m.Blocks {
		ps = append(ps, prefixed(fmt.Sprintf("blocks.%d", i), b)...)
	}
	ps = append(ps, prefixed("final", m.Final)...)
	return append(ps, prefixed("out", m.Out)...)
}

// ZeroOutput sets the output layer to zero, so that the network starts as the
// zero function (a control that starts at "no change").
func (m *SeqTransformer) ZeroOutput() {
	m.Out.W.Value = tensor.ZerosLike(m.Out.W.Value)
	m.Out.B.Value = tensor.ZerosLike(m.Out.B.Value)
}

// Forward evaluates the network at x [n, Tokens·In] and times: one shared by
// all rows (len 1) or one per row. The result has x's shape.
func (m *SeqTransformer) Forward(x *autograd.Var, times []float64) *autograd.Var {
	n := x.Value.Dim(0)
	if x.Value.Dim(1) != m.Tokens*m.In {
		panic(fmt.Sprintf("nn: SeqTransformer of %d×%d applied to shape %v", m.Tokens, m.In, x.Shape()))
	}
	width := m.Pos.Value.Dim(1)
	emb := SinusoidalEmbedding(x.Value.Backend(), x.Value.DType(), times, m.EmbDim)
	t := m.Time.Forward(autograd.Const(emb)) // [1 or n, width]
	t = autograd.Reshape(t, len(times), 1, width)
	h := m.Embed.Forward(autograd.Reshape(x, n, m.Tokens, m.In), tensor.ActNone)
	h = autograd.Add(autograd.Add(h, m.Pos), t)
	for _, b := range m.Blocks {
		h = b.Forward(h)
	}
	out := m.Out.Forward(m.Final.Forward(h), tensor.ActNone)
	return autograd.Reshape(out, n, m.Tokens*m.In)
}
