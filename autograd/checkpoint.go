package autograd

import "github.com/difftune/difftune/tensor"

// Checkpoint computes fn(inputs) without keeping its intermediate values and
// records a single node whose backward rule runs fn again, this time recording,
// to back-propagate through it. Memory for a long chain (an SDE rollout) drops
// from every intermediate to the segment boundaries, for one more forward pass.
//
// fn must be deterministic (draw randomness from fixed Philox streams). The
// leaves it captures rather than receives (a network's parameters) must be
// listed in params: they decide whether the result needs a gradient, and
// their gradients accumulate during the recompute.
func Checkpoint(fn func(in []*Var) *Var, inputs, params []*Var) *Var {
	var out *Var
	NoGrad(func() { out = fn(inputs) })
	return record("checkpoint", out.Value, func(g *tensor.Tensor) []*tensor.Tensor {
		fresh := make([]*Var, len(inputs))
		for i, in := range inputs {
			fresh[i] = &Var{Value: in.Value, requiresGrad: in.requiresGrad}
		}
		// Gradients for inputs come from their fresh copies; params receive
		// theirs directly during re.BackwardWith, so theirs stay nil here.
		grads := make([]*tensor.Tensor, len(inputs)+len(params))
		// The recompute records even when Backward runs inside NoGrad; only
		// this goroutine's scopes are lifted.
		withRecording(func() {
			re := fn(fresh)
			if re.requiresGrad {
				re.BackwardWith(g)
				for i, f := range fresh {
					grads[i] = f.Grad
				}
			}
		})
		return grads
	}, append(append([]*Var(nil), inputs...), params...)...)
}
