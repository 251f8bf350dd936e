package autograd

import "github.com/difftune/difftune/tensor"

// Checkpoint computes fn(inputs) without keeping its intermediate values and
// records a single node whose backward rule runs fn again, this time recording,
// to back-propagate through it. Memory for a long chain (an SDE rollout) drops
// from every intermediate to the segment boundaries, for one more forward pass.
//
// fn must be deterministic (draw randomness from fixed Philox streams) and may
// use parameters it captures: their gradients accumulate during the recompute.
func Checkpoint(fn func(in []*Var) *Var, inputs ...*Var) *Var {
	var out *Var
	NoGrad(func() { out = fn(inputs) })
	return record("checkpoint", out.Value, func(g *tensor.Tensor) []*tensor.Tensor {
		fresh := make([]*Var, len(inputs))
		for i, in := range inputs {
			fresh[i] = &Var{Value: in.Value, requiresGrad: in.requiresGrad}
		}
		saved := noGradDepth
		noGradDepth = 0
		defer func() { noGradDepth = saved }()
		re := fn(fresh)
		grads := make([]*tensor.Tensor, len(inputs))
		if re.requiresGrad {
			re.BackwardWith(g)
			for i, f := range fresh {
				grads[i] = f.Grad
			}
		}
		return grads
	}, inputs...)
}
