package sde

import (
	"math"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
	"github.com/difftune/difftune/tensor/philox"
)

// DSMLoss is the denoising score matching loss of ALGORITHMS.md §0 on a batch
// x0 [n, d]: s ~ U(s_min, 1) per row, x_s = √ᾱ(s)·x0 + σ_s·ε, loss = mean over
// rows of ‖ε_θ(x_s, s) − ε‖². Times and noise come from the Philox streams
// (seed, draw) and (seed, draw+1).
func (v VP) DSMLoss(eps TimeNet, x0 *tensor.Tensor, seed, draw uint64) *autograd.Var {
	xs, noise, s := v.Perturb(x0, seed, draw)
	pred := eps.Forward(autograd.Const(xs), s)
	return autograd.Scale(autograd.SumAll(autograd.Square(autograd.Sub(pred, autograd.Const(noise)))), 1/float64(x0.Dim(0)))
}

// Perturb runs the forward process on a batch x0 [n, d] to random times:
// s ~ U(s_min, 1) per row, x_s = √ᾱ(s)·x0 + σ_s·ε. Times and noise come from
// the Philox streams (seed, draw) and (seed, draw+1).
func (v VP) Perturb(x0 *tensor.Tensor, seed, draw uint64) (xs, noise *tensor.Tensor, s []float64) {
	n, d := x0.Dim(0), x0.Dim(1)
	b, dt := x0.Backend(), x0.DType()
	u := make([]float64, n)
	philox.Uniform64(seed, draw, u)
	s = make([]float64, n)
	scale := make([]float64, n)
	sigma := make([]float64, n)
	for i, ui := range u {
		s[i] = v.SMin + (1-v.SMin)*ui
		scale[i], sigma[i] = v.SqrtAlphaBar(s[i]), v.SigmaS(s[i])
	}
	noise = tensor.RandNormal(b, dt, seed, draw+1, n, d)
	xs = tensor.Add(tensor.Mul(x0, tensor.FromFloat64As(b, dt, scale, n, 1)),
		tensor.Mul(noise, tensor.FromFloat64As(b, dt, sigma, n, 1)))
	return xs, noise, s
}

// Denoise is the estimate x̂₀ = (x_s − σ_s·ε_θ(x_s, s))/√ᾱ(s) of the clean sample.
func (v VP) Denoise(eps TimeNet, x *autograd.Var, s float64) *autograd.Var {
	e := eps.Forward(x, []float64{s})
	return autograd.Scale(autograd.Sub(x, autograd.Scale(e, v.SigmaS(s))), 1/v.SqrtAlphaBar(s))
}

// InitialLaw is step 2 of ELEGANT (ALGORITHMS.md §1): the reference SDE
// dz = dW on τ ∈ [0, 1] from z₀ = 0, whose end is N(0, I), steered by a
// control ū(τ, z); the end z₁ is the initial point of the generative rollout.
type InitialLaw struct {
	Steps   int
	Control TimeNet // nil gives N(0, I) exactly
}

// Sample runs the controlled SDE for n points of dimension d and returns z₁ and
// the per-sample control cost Σ‖ū‖²/2·Δτ (its KL to N(0, I) along the path).
func (l InitialLaw) Sample(b tensor.Backend, dt tensor.DType, n, d int, seed, draw uint64) (z, cost *autograd.Var) {
	dtau := 1 / float64(l.Steps)
	z = autograd.Const(tensor.Zeros(b, dt, n, d))
	cost = autograd.Const(tensor.Zeros(b, dt, n))
	for k := range l.Steps {
		if l.Control != nil {
			u := l.Control.Forward(z, []float64{float64(k) * dtau})
			z = autograd.Add(z, autograd.Scale(u, dtau))
			cost = autograd.Add(cost, autograd.Scale(autograd.Sum(autograd.Square(u), 1, false), dtau/2))
		}
		xi := tensor.RandNormal(b, dt, seed, draw+uint64(k), n, d)
		z = autograd.Add(z, autograd.Const(tensor.Scale(xi, math.Sqrt(dtau))))
	}
	return z, cost
}
