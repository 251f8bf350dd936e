package algos

import (
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// Reward is a differentiable reward of a batch of points: the nominal reward
// r̂ that methods optimize.
type Reward interface {
	// Eval returns r(x) [n] for x [n, …], differentiable in x.
	Eval(x *autograd.Var) *autograd.Var
	// Values returns r of every row of x (dim values each) on the host,
	// without recording gradients.
	Values(x []float64) []float64
	// String is the reward's spec, as given on the command line or made by
	// the task.
	String() string
}

// RewardValues evaluates rw on the rows of x (dim values each) as a batch
// on backend b in dtype dt, without recording gradients: the host-side
// Values of a reward that is a network.
func RewardValues(rw Reward, b tensor.Backend, dt tensor.DType, x []float64, dim int) []float64 {
	var out []float64
	autograd.NoGrad(func() {
		out = rw.Eval(autograd.Const(tensor.FromFloat64As(b, dt, x, len(x)/dim, dim))).Value.Float64s()
	})
	return out
}
