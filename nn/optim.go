package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// Schedule maps a step (from 0) to a learning rate.
type Schedule func(step int) float64

// ConstantLR is a fixed learning rate.
func ConstantLR(lr float64) Schedule { return func(int) float64 { return lr } }

// CosineLR decays from lr to minLR over total steps along half a cosine, after
// an optional linear warm-up.
func CosineLR(lr, minLR float64, total, warmup int) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return lr * float64(step+1) / float64(warmup)
		}
		if total <= warmup {
			return lr
		}
		p := math.Min(1, float64(step-warmup)/float64(total-warmup))
		return minLR + 0.5*(lr-minLR)*(1+math.Cos(math.Pi*p))
	}
}

// Adam is the Adam optimizer (AdamW when WeightDecay ≠ 0, decoupled decay).
type Adam struct {
	LR                Schedule
	Beta1, Beta2, Eps float64
	WeightDecay       float64
	params            []*autograd.Var
	m, v              []*tensor.Tensor
	step              int
}

// NewAdam returns Adam over params with the usual moments (0.9, 0.999, 1e-8).
func NewAdam(params []*autograd.Var, lr Schedule) *Adam {
	a := &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, params: params}
	for _, p := range params {
		a.m = append(a.m, tensor.ZerosLike(p.Value))
		a.v = append(a.v, tensor.ZerosLike(p.Value))
	}
	return a
}

// AdamState is what an Adam optimizer has learned besides the parameters:
// its first and second moments (one per parameter, in order) and the number
// of steps taken, for a checkpoint.
type AdamState struct {
	M, V []*tensor.Tensor
	Step int
}

// State returns the optimizer's moments (clones) and step count.
func (a *Adam) State() AdamState {
	s := AdamState{Step: a.step}
	for i := range a.m {
		s.M = append(s.M, a.m[i].Clone())
		s.V = append(s.V, a.v[i].Clone())
	}
	return s
}

// SetState restores a state from State of an optimizer over parameters of
// the same shapes: the steps that follow are those that followed it.
func (a *Adam) SetState(s AdamState) error {
	if len(s.M) != len(a.m) || len(s.V) != len(a.v) || s.Step < 0 {
		return fmt.Errorf("nn: Adam state of %d/%d moments at step %d for %d parameters", len(s.M), len(s.V), s.Step, len(a.m))
	}
	for i := range a.m {
		for _, t := range []*tensor.Tensor{s.M[i], s.V[i]} {
			if !slices.Equal(t.Shape(), a.m[i].Shape()) || t.DType() != a.m[i].DType() {
				return fmt.Errorf("nn: Adam moment %d has shape %v (%v), the parameter %v (%v)", i, t.Shape(), t.DType(), a.m[i].Shape(), a.m[i].DType())
			}
		}
	}
	for i := range a.m {
		a.m[i], a.v[i] = s.M[i].Clone(), s.V[i].Clone()
	}
	a.step = s.Step
	return nil
}

// Step updates every parameter that has a gradient, then clears the gradients.
func (a *Adam) Step() {
	h := tensor.AdamHyper{LR: a.LR(a.step), Beta1: a.Beta1, Beta2: a.Beta2, Eps: a.Eps, WeightDecay: a.WeightDecay, Step: a.step + 1}
	a.step++
	for i, p := range a.params {
		if p.Grad == nil {
			continue
		}
		if !p.Value.IsContiguous() {
			p.Value = p.Value.Clone()
		}
		tensor.AdamStep(p.Value, p.Grad, a.m[i], a.v[i], h)
		p.ZeroGrad()
	}
}

// ClipGradNorm scales the gradients of params so that their joint L2 norm is at
// most maxNorm, and returns the norm before clipping. A non-finite norm is
// returned as is, with the gradients untouched, for the caller to stop on.
func ClipGradNorm(params []*autograd.Var, maxNorm float64) float64 {
	var sq float64
	for _, p := range params {
		if p.Grad != nil {
			sq += tensor.SumAll(tensor.Square(p.Grad)).Item()
		}
	}
	norm := math.Sqrt(sq)
	if math.IsNaN(norm) || math.IsInf(norm, 0) || maxNorm <= 0 || norm <= maxNorm {
		return norm
	}
	for _, p := range params {
		if p.Grad != nil {
			p.Grad = tensor.Scale(p.Grad, maxNorm/norm)
		}
	}
	return norm
}

// EMA keeps an exponential moving average of a module's parameters.
type EMA struct {
	Decay  float64
	shadow []*tensor.Tensor
	params []*autograd.Var
}

// NewEMA starts an average at the current parameter values.
func NewEMA(params []*autograd.Var, decay float64) *EMA {
	e := &EMA{Decay: decay, params: params}
	for _, p := range params {
		e.shadow = append(e.shadow, p.Value.Clone())
	}
	return e
}

// Update moves the average toward the current parameters.
func (e *EMA) Update() {
	for i, p := range e.params {
		e.shadow[i] = tensor.Add(tensor.Scale(e.shadow[i], e.Decay), tensor.Scale(p.Value, 1-e.Decay))
	}
}

// CopyTo writes the averaged values into the parameters.
func (e *EMA) CopyTo() {
	for i, p := range e.params {
		p.Value = e.shadow[i].Clone()
	}
}

// LayerNorm normalizes the last dimension to zero mean and unit variance, then
// scales and shifts it: γ·(x − mean)/√(var + eps) + β per feature, one fused
// operation (autograd.NormalizeRowsAffine).
type LayerNorm struct {
	Gamma, Beta *autograd.Var
	Eps         float64
}

// NewLayerNorm makes a layer norm over width features (γ = 1, β = 0).
func NewLayerNorm(init *Init, width int) *LayerNorm {
	return &LayerNorm{Gamma: init.Constant(1, width), Beta: init.Constant(0, width), Eps: 1e-5}
}

// Params implements Module.
func (l *LayerNorm) Params() []Param { return []Param{{"weight", l.Gamma}, {"bias", l.Beta}} }

// Forward normalizes x [..., width].
func (l *LayerNorm) Forward(x *autograd.Var) *autograd.Var {
	if x.Value.Dim(-1) != l.Gamma.Value.Dim(0) {
		panic(fmt.Sprintf("nn: LayerNorm of width %d applied to shape %v", l.Gamma.Value.Dim(0), x.Shape()))
	}
	return autograd.NormalizeRowsAffine(x, l.Gamma, l.Beta, 1, l.Eps)
}
