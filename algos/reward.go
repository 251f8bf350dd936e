package algos

import "github.com/difftune/difftune/autograd"

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
