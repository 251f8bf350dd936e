// Package tasks holds the fine-tuning tasks, each an algos.Task in one file
// that registers itself: gmm2d (a 2-D Gaussian mixture whose tilted targets
// are known in closed form) and tfbind8 (DNA 8-mers scored by a binding
// landscape), with their data, nominal rewards r̂, genuine rewards and, where
// known, exact answers (docs/ALGORITHMS.md §5). Importing the package
// registers them.
package tasks

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// QuadraticReward is r(x) = w·x − Σ_i c_i·x_i², which covers the command-line
// rewards `linear:w1,w2` (c = 0) and `quadratic:c1,c2` (w = 0).
type QuadraticReward struct {
	Spec string
	W, C []float64
}

// ParseReward reads `linear:w1,…,wd` or `quadratic:c1,…,cd` for points of
// dimension dim. Quadratic coefficients must be ≥ 0 (the tilted target is then
// normalizable).
func ParseReward(spec string, dim int) (QuadraticReward, error) {
	kind, args, ok := strings.Cut(spec, ":")
	if !ok {
		return QuadraticReward{}, fmt.Errorf("reward %q: want linear:w1,w2 or quadratic:c1,c2", spec)
	}
	fields := strings.Split(args, ",")
	if len(fields) != dim {
		return QuadraticReward{}, fmt.Errorf("reward %q: %d coefficients for dimension %d", spec, len(fields), dim)
	}
	vals := make([]float64, dim)
	for i, f := range fields {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return QuadraticReward{}, fmt.Errorf("reward %q: coefficient %q is not a finite number", spec, f)
		}
		vals[i] = v
	}
	r := QuadraticReward{Spec: spec, W: make([]float64, dim), C: make([]float64, dim)}
	switch kind {
	case "linear":
		r.W = vals
	case "quadratic":
		for _, c := range vals {
			if c < 0 {
				return QuadraticReward{}, fmt.Errorf("reward %q: quadratic coefficients must be ≥ 0", spec)
			}
		}
		r.C = vals
	default:
		return QuadraticReward{}, fmt.Errorf("reward %q: unknown kind %q (want linear or quadratic)", spec, kind)
	}
	return r, nil
}

func (r QuadraticReward) String() string { return r.Spec }

// Eval implements algos.Reward.
func (r QuadraticReward) Eval(x *autograd.Var) *autograd.Var {
	b, dt := x.Value.Backend(), x.Value.DType()
	d := len(r.W)
	w := autograd.Const(tensor.FromFloat64As(b, dt, r.W, d))
	negC := make([]float64, d)
	for i, c := range r.C {
		negC[i] = -c
	}
	c := autograd.Const(tensor.FromFloat64As(b, dt, negC, d))
	// Σ_i (w_i·x_i − c_i·x_i²) = Σ_i x_i·(w_i − c_i·x_i)
	return autograd.Sum(autograd.Mul(x, autograd.Add(w, autograd.Mul(c, x))), 1, false)
}

// Values implements algos.Reward, in float64 on the host.
func (r QuadraticReward) Values(x []float64) []float64 {
	d := len(r.W)
	out := make([]float64, len(x)/d)
	for i := range out {
		out[i] = r.At(x[i*d : (i+1)*d])
	}
	return out
}

// At is r(x) at one point.
func (r QuadraticReward) At(x []float64) float64 {
	var s float64
	for i, v := range x {
		s += r.W[i]*v - r.C[i]*v*v
	}
	return s
}
