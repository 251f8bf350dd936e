// Package tasks holds the fine-tuning tasks, each an algos.Task in one file
// that registers itself: gmm2d (a 2-D Gaussian mixture whose tilted targets
// are known in closed form) and tfbind8 (DNA 8-mers scored by a binding
// landscape), with their data, nominal rewards r̂, genuine rewards and, where
// known, exact answers (docs/ALGORITHMS.md §5). Importing the package
// registers them. For the image task to come (fmnist) it holds Fashion-MNIST's
// reader (idx.go, fmnist_data.go) and the classifiers behind its rewards
// (fmnist_classifier.go).
package tasks

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// QuadraticReward is r(x) = w·x − Σ_i c_i·(x_i − m_i)², which covers the
// command-line rewards `linear:w1,w2` (c = 0), `quadratic:c1,c2` (w = 0,
// m = 0) and the centred `quadratic:c1,c2,m1,m2` (w = 0).
type QuadraticReward struct {
	Spec string
	W, C []float64
	// M is the centre of the quadratic part (nil: the origin, and then every
	// value is computed exactly as without the field).
	M []float64 `json:",omitempty"`
}

// ParseReward reads `linear:w1,…,wd`, `quadratic:c1,…,cd` or
// `quadratic:c1,…,cd,m1,…,md` (−Σ c_i·(x_i − m_i)²) for points of dimension
// dim. Quadratic coefficients must be ≥ 0 (the tilted target is then
// normalizable).
func ParseReward(spec string, dim int) (QuadraticReward, error) {
	kind, args, ok := strings.Cut(spec, ":")
	if !ok {
		return QuadraticReward{}, fmt.Errorf("reward %q: want linear:w1,w2, quadratic:c1,c2 or quadratic:c1,c2,m1,m2", spec)
	}
	fields := strings.Split(args, ",")
	if len(fields) != dim && !(kind == "quadratic" && len(fields) == 2*dim) {
		want := fmt.Sprint(dim)
		if kind == "quadratic" {
			want = fmt.Sprintf("%d or %d (with the centre)", dim, 2*dim)
		}
		return QuadraticReward{}, fmt.Errorf("reward %q: %d coefficients for dimension %d, want %s", spec, len(fields), dim, want)
	}
	vals := make([]float64, len(fields))
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
		for _, c := range vals[:dim] {
			if c < 0 {
				return QuadraticReward{}, fmt.Errorf("reward %q: quadratic coefficients must be ≥ 0", spec)
			}
		}
		r.C = vals[:dim:dim]
		if len(vals) == 2*dim {
			r.M = vals[dim:]
		}
	default:
		return QuadraticReward{}, fmt.Errorf("reward %q: unknown kind %q (want linear or quadratic)", spec, kind)
	}
	return r, nil
}

// centre is m_j (0 without a centre).
func (r QuadraticReward) centre(j int) float64 {
	if r.M == nil {
		return 0
	}
	return r.M[j]
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
	if r.M == nil {
		// Σ_i (w_i·x_i − c_i·x_i²) = Σ_i x_i·(w_i − c_i·x_i)
		return autograd.Sum(autograd.Mul(x, autograd.Add(w, autograd.Mul(c, x))), 1, false)
	}
	// Σ_i (w_i·x_i − c_i·(x_i − m_i)²)
	negM := make([]float64, d)
	for i, m := range r.M {
		negM[i] = -m
	}
	dx := autograd.Add(x, autograd.Const(tensor.FromFloat64As(b, dt, negM, d)))
	return autograd.Sum(autograd.Add(autograd.Mul(x, w), autograd.Mul(dx, autograd.Mul(c, dx))), 1, false)
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
		dv := v - r.centre(i)
		s += r.W[i]*v - r.C[i]*dv*dv
	}
	return s
}
