package autograd

import (
	"github.com/difftune/difftune/tensor"
)

// EulerMaruyamaStep advances the generative SDE by one fused Euler–Maruyama
// step and accumulates the path KL of the control (docs/ALGORITHMS.md §0–1;
// see tensor.EulerMaruyamaStep for the shapes and the noise):
//
//	next = c.X·x + c.Eps·eps + c.U·u + c.Noise·ξ
//	klNext[r] = kl[r] + c.KL·Σ_j u[r, j]²
//
// The noise ξ is a constant (the Philox stream (seed, draw)), so the rule is
// linear in the incoming gradients g (of next) and g_kl (of klNext):
//
//	dx = c.X·g, deps = c.Eps·g, du = c.U·g + 2·c.KL·u·g_kl, dkl = g_kl
//
// u may be nil (a pre-trained rollout): then klNext is kl, untouched, and
// only x and eps are inputs.
func EulerMaruyamaStep(x, eps, u, kl *Var, c tensor.EMCoeffs, seed, draw uint64) (next, klNext *Var) {
	var uv, klv *tensor.Tensor
	if u != nil {
		uv, klv = u.Value, kl.Value
	}
	nv, kv := tensor.EulerMaruyamaStep(x.Value, eps.Value, uv, klv, c, seed, draw)
	grads := func(g *tensor.Tensor) (dx, deps *tensor.Tensor) {
		if g == nil {
			return nil, nil
		}
		if x.requiresGrad {
			dx = tensor.Scale(g, c.X)
		}
		if eps.requiresGrad {
			deps = tensor.Scale(g, c.Eps)
		}
		return dx, deps
	}
	if u == nil {
		return record("em_step", nv, func(g *tensor.Tensor) []*tensor.Tensor {
			dx, deps := grads(g)
			return []*tensor.Tensor{dx, deps}
		}, x, eps), kl
	}
	outs := recordMulti("em_step", []*tensor.Tensor{nv, kv}, func(gs []*tensor.Tensor) []*tensor.Tensor {
		g, gkl := gs[0], gs[1]
		dx, deps := grads(g)
		var du *tensor.Tensor
		if u.requiresGrad {
			if g != nil {
				du = tensor.Scale(g, c.U)
			}
			if gkl != nil {
				// 2·KL·u·g_kl, g_kl broadcast along each row.
				shape := make([]int, u.Value.Rank())
				for i := range shape {
					shape[i] = 1
				}
				shape[0] = gkl.Dim(0)
				t := tensor.Mul(u.Value, tensor.Scale(gkl, 2*c.KL).Reshape(shape...))
				if du == nil {
					du = t
				} else {
					du = tensor.Add(du, t)
				}
			}
		}
		return []*tensor.Tensor{dx, deps, du, gkl}
	}, x, eps, u, kl)
	return outs[0], outs[1]
}
