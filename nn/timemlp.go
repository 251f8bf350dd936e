package nn

import (
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// TimeMLP is an MLP on [x, sinusoidal embedding of a time]: the noise-prediction
// network of a diffusion model and the control networks of fine-tuning.
type TimeMLP struct {
	Net    *MLP
	EmbDim int
}

// NewTimeMLP makes an MLP [x (dim), embedding (embDim)] → hidden… → out.
func NewTimeMLP(init *Init, dim, embDim, out int, act tensor.Activation, hidden ...int) *TimeMLP {
	widths := append(append([]int{dim + embDim}, hidden...), out)
	return &TimeMLP{Net: NewMLP(init, act, widths...), EmbDim: embDim}
}

// Params implements Module.
func (m *TimeMLP) Params() []Param { return m.Net.Params() }

// Forward evaluates the network at x [n, dim] and times: one time shared by all
// rows (len 1), or one per row.
func (m *TimeMLP) Forward(x *autograd.Var, times []float64) *autograd.Var {
	emb := SinusoidalEmbedding(x.Value.Backend(), x.Value.DType(), times, m.EmbDim)
	return m.Net.ForwardCond(x, autograd.Const(emb))
}
