package autograd

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/tensor"
)

// CheckGradients compares the gradients that Backward computes for the scalar
// f(inputs) with central finite differences of step eps, perturbing every
// element of every input (float64 inputs recommended). It returns an error
// describing the worst element when |analytic − numeric| > tol·(1 + |numeric|).
func CheckGradients(f func(in []*Var) *Var, inputs []*Var, eps, tol float64) error {
	for _, in := range inputs {
		in.ZeroGrad()
	}
	out := f(inputs)
	if out.Value.Len() != 1 {
		return fmt.Errorf("CheckGradients: f returned shape %v, need a scalar", out.Shape())
	}
	out.Backward()
	for k, in := range inputs {
		if !in.requiresGrad {
			continue
		}
		if in.Grad == nil {
			return fmt.Errorf("input %d: no gradient reached it", k)
		}
		analytic := in.Grad.Float64s()
		orig := in.Value
		base := orig.Float64s()
		for i := range base {
			eval := func(delta float64) float64 {
				p := append([]float64(nil), base...)
				p[i] += delta
				in.Value = tensor.FromFloat64As(orig.Backend(), orig.DType(), p, orig.Shape()...)
				var v float64
				NoGrad(func() { v = f(inputs).Value.Item() })
				return v
			}
			numeric := (eval(eps) - eval(-eps)) / (2 * eps)
			in.Value = orig
			if d := math.Abs(analytic[i] - numeric); !(d <= tol*(1+math.Abs(numeric))) {
				return fmt.Errorf("input %d %v, element %d: analytic %.9g, numeric %.9g", k, orig.Shape(), i, analytic[i], numeric)
			}
		}
	}
	return nil
}
