package sde

import (
	"fmt"
	"math"
	"slices"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
	"github.com/difftune/difftune/tensor/philox"
)

// DSMLoss is the denoising score matching loss of ALGORITHMS.md §0 on a batch
// x0 [n, ...] (rank ≥ 2, the batch on axis 0: [n, d] points, [n, c, h, w]
// images): s ~ U(s_min, 1) per sample, x_s = √ᾱ(s)·x0 + σ_s·ε, loss = mean
// over the batch of ‖ε_θ(x_s, s) − ε‖², the squared norm summed over every
// non-batch axis (the sum over all elements divided by n, so that a batch
// of images gives exactly the loss of the same batch flattened to [n, c·h·w]).
// ε_θ receives x_s in x0's shape. Times and noise come from the Philox
// streams (seed, draw) and (seed, draw+1).
func (v VP) DSMLoss(eps TimeNet, x0 *tensor.Tensor, seed, draw uint64) *autograd.Var {
	xs, noise, s := v.Perturb(x0, seed, draw)
	pred := eps.Forward(autograd.Const(xs), s)
	if !slices.Equal(pred.Shape(), x0.Shape()) {
		panic(fmt.Sprintf("sde: DSMLoss: ε_θ returned shape %v for x of shape %v", pred.Shape(), x0.Shape()))
	}
	return autograd.Scale(autograd.SumAll(autograd.Square(autograd.Sub(pred, autograd.Const(noise)))), 1/float64(x0.Dim(0)))
}

// Perturb runs the forward process on a batch x0 [n, ...] (rank ≥ 2, the
// batch on axis 0) to random times: s ~ U(s_min, 1) per sample, x_s =
// √ᾱ(s)·x0 + σ_s·ε; xs and noise have x0's shape. Times and noise come from
// the Philox streams (seed, draw) and (seed, draw+1), the noise in x0's
// row-major order, so a batch of images gets exactly the numbers of the same
// batch flattened to [n, d].
func (v VP) Perturb(x0 *tensor.Tensor, seed, draw uint64) (xs, noise *tensor.Tensor, s []float64) {
	shape := slices.Clone(x0.Shape())
	n, d := batchDims("Perturb", shape)
	if len(shape) > 2 {
		// The rows [n, d] (a view of a contiguous x0), then x0's shape back.
		xs, noise, s = v.Perturb(x0.Reshape(n, d), seed, draw)
		return xs.Reshape(shape...), noise.Reshape(shape...), s
	}
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

// Sample runs the controlled SDE for n points of dimension d and returns z₁
// [n, d] and the per-sample control cost Σ‖ū‖²/2·Δτ (its KL to N(0, I) along
// the path): SampleShape of [n, d].
func (l InitialLaw) Sample(b tensor.Backend, dt tensor.DType, n, d int, seed, draw uint64) (z, cost *autograd.Var) {
	return l.SampleShape(b, dt, []int{n, d}, seed, draw)
}

// SampleShape runs the controlled SDE for a batch of states of shape [n, ...]
// (rank ≥ 2, the batch on axis 0: [n, d] points, [n, c, h, w] images) and
// returns z₁ of that shape and the per-sample control cost Σ‖ū‖²/2·Δτ [n],
// ‖ū‖² summed over every non-batch axis. The control receives z in its
// shape; the noise of step k is the Philox stream (seed, draw + k) in
// row-major order, so a batch of images gets exactly the numbers of the same
// batch flattened to [n, d].
func (l InitialLaw) SampleShape(b tensor.Backend, dt tensor.DType, shape []int, seed, draw uint64) (z, cost *autograd.Var) {
	shape = slices.Clone(shape)
	n, _ := batchDims("InitialLaw.Sample", shape)
	dtau := 1 / float64(l.Steps)
	z = autograd.Const(tensor.Zeros(b, dt, shape...))
	cost = autograd.Const(tensor.Zeros(b, dt, n))
	for k := range l.Steps {
		if l.Control != nil {
			u := l.Control.Forward(z, []float64{float64(k) * dtau})
			if !slices.Equal(u.Shape(), shape) {
				panic(fmt.Sprintf("sde: InitialLaw: control of shape %v for a state of shape %v", u.Shape(), shape))
			}
			z = autograd.Add(z, autograd.Scale(u, dtau))
			cost = autograd.Add(cost, autograd.Scale(sumRows(autograd.Square(u)), dtau/2))
		}
		xi := tensor.RandNormal(b, dt, seed, draw+uint64(k), shape...)
		z = autograd.Add(z, autograd.Const(tensor.Scale(xi, math.Sqrt(dtau))))
	}
	return z, cost
}
