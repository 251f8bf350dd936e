// Package nn holds the layers, optimizers and checkpoints that models are built
// from: modules own named parameters (autograd leaves) and compute with the
// primitives of package autograd.
package nn

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// Param is a named trainable tensor.
type Param struct {
	Name string
	*autograd.Var
}

// Module is anything with parameters.
type Module interface {
	// Params lists the parameters in a fixed order with unique names.
	Params() []Param
}

// prefixed names the parameters of a child module.
func prefixed(prefix string, m Module) []Param {
	ps := m.Params()
	out := make([]Param, len(ps))
	for i, p := range ps {
		out[i] = Param{Name: prefix + "." + p.Name, Var: p.Var}
	}
	return out
}

// Vars returns the Vars of a module's parameters.
func Vars(m Module) []*autograd.Var {
	ps := m.Params()
	vs := make([]*autograd.Var, len(ps))
	for i, p := range ps {
		vs[i] = p.Var
	}
	return vs
}

// ZeroGrad clears the gradients of every parameter.
func ZeroGrad(m Module) {
	for _, p := range m.Params() {
		p.ZeroGrad()
	}
}

// SetTrainable turns gradient tracking of every parameter on or off (a frozen
// pre-trained network still passes gradients to its inputs).
func SetTrainable(m Module, on bool) {
	for _, p := range m.Params() {
		p.SetRequiresGrad(on)
	}
}

// Init creates parameters on one backend and dtype, drawing their initial
// values from Philox streams of one seed, so that a seed gives the same model
// on every backend.
type Init struct {
	Backend tensor.Backend
	DType   tensor.DType
	Seed    uint64
	draw    uint64
}

// Uniform returns a parameter with entries uniform in [lo, hi).
func (in *Init) Uniform(lo, hi float64, shape ...int) *autograd.Var {
	in.draw++
	u := tensor.RandUniform(in.Backend, in.DType, in.Seed, in.draw, shape...)
	return autograd.Param(tensor.Shift(tensor.Scale(u, hi-lo), lo))
}

// Constant returns a parameter filled with v.
func (in *Init) Constant(v float64, shape ...int) *autograd.Var {
	return autograd.Param(tensor.Full(in.Backend, in.DType, v, shape...))
}

// Linear is y = x·W + b with W of shape [in, out].
type Linear struct {
	W, B *autograd.Var
}

// NewLinear initializes like PyTorch: W and b uniform in ±1/√in.
func NewLinear(init *Init, in, out int) *Linear {
	bound := 1 / math.Sqrt(float64(in))
	return &Linear{W: init.Uniform(-bound, bound, in, out), B: init.Uniform(-bound, bound, out)}
}

// Params implements Module.
func (l *Linear) Params() []Param { return []Param{{"weight", l.W}, {"bias", l.B}} }

// Forward computes act(x·W + b) for x of shape [..., in].
func (l *Linear) Forward(x *autograd.Var, act tensor.Activation) *autograd.Var {
	return autograd.Linear(x, l.W, l.B, act)
}

// In and Out are the layer's widths.
func (l *Linear) In() int  { return l.W.Value.Dim(0) }
func (l *Linear) Out() int { return l.W.Value.Dim(1) }

// MLP is a stack of Linear layers with one activation between them (none after
// the last).
type MLP struct {
	Layers []*Linear
	Act    tensor.Activation
}

// NewMLP builds layers of the given widths: widths[0] inputs, widths[len−1] outputs.
func NewMLP(init *Init, act tensor.Activation, widths ...int) *MLP {
	if len(widths) < 2 {
		panic(fmt.Sprintf("nn: MLP needs at least two widths, got %v", widths))
	}
	m := &MLP{Act: act}
	for i := 0; i+1 < len(widths); i++ {
		m.Layers = append(m.Layers, NewLinear(init, widths[i], widths[i+1]))
	}
	return m
}

// Params implements Module.
func (m *MLP) Params() []Param {
	var ps []Param
	for i, l := range m.Layers {
		ps = append(ps, prefixed(fmt.Sprintf("layers.%d", i), l)...)
	}
	return ps
}

// ZeroLastLayer sets the last layer's weights and bias to zero, so that the
// network starts as the zero function (a control that starts at "no change").
func (m *MLP) ZeroLastLayer() {
	last := m.Layers[len(m.Layers)-1]
	last.W.Value = tensor.ZerosLike(last.W.Value)
	last.B.Value = tensor.ZerosLike(last.B.Value)
}

// Forward applies the network to x of shape [..., in].
func (m *MLP) Forward(x *autograd.Var) *autograd.Var {
	return m.ForwardCond(x, nil)
}

// ForwardCond applies the network to the concatenation [x, cond] without
// forming it: the first layer splits its weight into the rows for x and for
// cond. cond is either [rows, c] like x or a single row [1, c] shared by the
// batch (a time embedding), whose product with its weight rows is computed
// once and folded into the bias.
func (m *MLP) ForwardCond(x, cond *autograd.Var) *autograd.Var {
	h := x
	for i, l := range m.Layers {
		act := m.Act
		if i == len(m.Layers)-1 {
			act = tensor.ActNone
		}
		if i == 0 && cond != nil {
			h = linearCond(l, h, cond, act)
			continue
		}
		h = l.Forward(h, act)
	}
	return h
}

func linearCond(l *Linear, x, cond *autograd.Var, act tensor.Activation) *autograd.Var {
	dx := x.Value.Dim(-1)
	if dx+cond.Value.Dim(-1) != l.In() {
		panic(fmt.Sprintf("nn: inputs of widths %d + %d for a layer with %d inputs", dx, cond.Value.Dim(-1), l.In()))
	}
	wx := autograd.Slice(l.W, 0, 0, dx)
	wc := autograd.Slice(l.W, 0, dx, l.In())
	if cond.Value.Rank() == 2 && cond.Value.Dim(0) == 1 {
		bias := autograd.Reshape(autograd.Linear(cond, wc, l.B, tensor.ActNone), l.Out())
		return autograd.Linear(x, wx, bias, act)
	}
	return autograd.Activate(autograd.Add(autograd.Linear(x, wx, l.B, tensor.ActNone), autograd.Linear(cond, wc, nil, tensor.ActNone)), act)
}

// SinusoidalEmbedding maps times s (shape [n]) to [n, dim] features
// [sin(1000·s·f_i), cos(1000·s·f_i)] with f_i = 10000^(−i/(dim/2)).
func SinusoidalEmbedding(b tensor.Backend, dt tensor.DType, s []float64, dim int) *tensor.Tensor {
	if dim%2 != 0 {
		panic(fmt.Sprintf("nn: sinusoidal embedding of odd width %d", dim))
	}
	half := dim / 2
	out := make([]float64, len(s)*dim)
	for r, t := range s {
		for i := range half {
			f := math.Exp(-math.Log(10000) * float64(i) / float64(half))
			out[r*dim+i] = math.Sin(1000 * t * f)
			out[r*dim+half+i] = math.Cos(1000 * t * f)
		}
	}
	return tensor.FromFloat64As(b, dt, out, len(s), dim)
}
