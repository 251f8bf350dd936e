package nn

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// MultiHeadAttention is softmax(QKᵀ/√d)V over heads, with input and output
// projections.
type MultiHeadAttention struct {
	Heads      int
	Q, K, V, O *Linear
}

// NewMultiHeadAttention makes self-attention of the given width and heads.
func NewMultiHeadAttention(init *Init, width, heads int) *MultiHeadAttention {
	if width%heads != 0 {
		panic(fmt.Sprintf("nn: width %d not divisible by %d heads", width, heads))
	}
	return &MultiHeadAttention{Heads: heads,
		Q: NewLinear(init, width, width), K: NewLinear(init, width, width),
		V: NewLinear(init, width, width), O: NewLinear(init, width, width)}
}

// Params implements Module.
func (a *MultiHeadAttention) Params() []Param {
	var ps []Param
	for _, c := range []struct {
		name string
		l    *Linear
	}{{"q", a.Q}, {"k", a.K}, {"v", a.V}, {"o", a.O}} {
		ps = append(ps, prefixed(c.name, c.l)...)
	}
	return ps
}

// Forward attends over the tokens of x [batch, tokens, width], the heads
// in one fused operation (autograd.Attention).
func (a *MultiHeadAttention) Forward(x *autograd.Var) *autograd.Var {
	b, n, w := x.Value.Dim(0), x.Value.Dim(1), x.Value.Dim(2)
	dh := w / a.Heads
	heads := func(l *Linear) *autograd.Var { // [b, n, w] → [b, h, n, dh]
		return autograd.Permute(autograd.Reshape(l.Forward(x, tensor.ActNone), b, n, a.Heads, dh), 0, 2, 1, 3)
	}
	ctx := autograd.Attention(heads(a.Q), heads(a.K), heads(a.V), 1/math.Sqrt(float64(dh)))
	ctx = autograd.Permute(ctx, 0, 2, 1, 3) // [b, n, h, dh]
	return a.O.Forward(autograd.Reshape(ctx, b, n, w), tensor.ActNone)
}

// TransformerBlock is a pre-norm encoder block:
// x + Attn(LN(x)), then h + MLP(LN(h)).
type TransformerBlock struct {
	LN1, LN2 *LayerNorm
	Attn     *MultiHeadAttention
	FF       *MLP
}

// NewTransformerBlock makes a block of the given width, heads and hidden
// width of its feed-forward network (SiLU).
func NewTransformerBlock(init *Init, width, heads, hidden int) *TransformerBlock {
	return &TransformerBlock{LN1: NewLayerNorm(init, width), LN2: NewLayerNorm(init, width),
		Attn: NewMultiHeadAttention(init, width, heads), FF: NewMLP(init, tensor.ActSiLU, width, hidden, width)}
}

// Params implements Module.
func (t *TransformerBlock) Params() []Param {
	ps := prefixed("ln1", t.LN1)
	ps = append(ps, prefixed("ln2", t.LN2)...)
	ps = append(ps, prefixed("attn", t.Attn)...)
	return append(ps, prefixed("ff", t.FF)...)
}

// Forward transforms x [batch, tokens, width].
func (t *TransformerBlock) Forward(x *autograd.Var) *autograd.Var {
	h := autograd.Add(x, t.Attn.Forward(t.LN1.Forward(x)))
	return autograd.Add(h, t.FF.Forward(t.LN2.Forward(h)))
}
