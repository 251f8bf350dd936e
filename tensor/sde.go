package tensor

import (
	"fmt"
	"slices"
)

// EMCoeffs are the scalar coefficients of one Euler–Maruyama step of the
// generative VP-SDE with a control drift (docs/ALGORITHMS.md §0–1). With β =
// β(s), σ_s the noise scale of the schedule and Δt the step:
//
//	X = 1 + ½βΔt, Eps = −βΔt/σ_s, U = Δt, Noise = √(βΔt), KL = Δt/(2β)
//
// so that x + (f_pre + u)Δt + σ(t)√Δt·ξ = X·x + Eps·ε + U·u + Noise·ξ
// (f_pre = ½βx − β·ε/σ_s, σ(t)² = β) and the path-KL increment
// ‖u‖²Δt/(2σ(t)²) = KL·Σ_j u_j².
type EMCoeffs struct {
	X, Eps, U, Noise, KL float64
}

// EulerMaruyamaStepper is implemented by backends that run a whole
// Euler–Maruyama step (noise included) as one kernel; EulerMaruyamaStep
// composes it from other operations on the others.
//
// EulerMaruyamaStep writes next = c.X·x + c.Eps·eps + c.U·u + c.Noise·ξ,
// ξ element i of the normals that RandNormal(seed, draw) draws for x's
// shape, and klNext[r] = kl[r] + c.KL·Σ_j u[r, j]² per row r (the first
// dimension of x). u, kl and klNext are nil together (no control: no
// u term, no KL). Every tensor is contiguous; next and klNext are freshly
// allocated.
type EulerMaruyamaStepper interface {
	EulerMaruyamaStep(next, klNext, x, eps, u, kl *Tensor, c EMCoeffs, seed, draw uint64)
}

// EulerMaruyamaStep advances the generative SDE dx = (f_pre + u)dt + σ(t)dW
// by one Euler–Maruyama step and adds the step's share of the path KL
// (docs/ALGORITHMS.md §0, the step x_{k+1} = x_k + (f_pre + u)Δt +
// σ√Δt·ξ_k; §1, KL = Σ_k ‖u_k‖²Δt/(2σ²)):
//
//	next = c.X·x + c.Eps·eps + c.U·u + c.Noise·ξ
//	klNext[r] = kl[r] + c.KL·Σ_j u[r, j]²
//
// x is [n, ...] (row r: the elements of x[r]), eps and u have its shape, kl
// is [n]; ξ are the normals of the Philox stream (seed, draw) in x's
// row-major order, exactly those of RandNormal(b, dtype, seed, draw,
// x.Shape()...). u may be nil (a pre-trained rollout): then no u term is
// added and kl (which may be nil too) is returned as it is.
//
// Backends that implement EulerMaruyamaStepper run the step as one kernel
// (one dispatch on a GPU); elsewhere it is composed from Scale, Add, Square,
// Sum and RandNormal, with the same result up to float rounding.
func EulerMaruyamaStep(x, eps, u, kl *Tensor, c EMCoeffs, seed, draw uint64) (next, klNext *Tensor) {
	if x.Rank() < 1 {
		panic("tensor: EulerMaruyamaStep of a 0-d tensor (need rows)")
	}
	sameBackend(x, eps)
	if !slices.Equal(eps.shape, x.shape) {
		panic(fmt.Sprintf("tensor: EulerMaruyamaStep: eps of shape %v for x of shape %v", eps.shape, x.shape))
	}
	if u != nil {
		if kl == nil {
			panic("tensor: EulerMaruyamaStep with a control u and no kl")
		}
		sameBackend(x, u, kl)
		if !slices.Equal(u.shape, x.shape) || kl.Rank() != 1 || kl.shape[0] != x.shape[0] {
			panic(fmt.Sprintf("tensor: EulerMaruyamaStep: x %v, u %v, kl %v (want u like x, kl [%d])", x.shape, u.shape, kl.shape, x.shape[0]))
		}
		u, kl = u.Contiguous(), kl.Contiguous()
	}
	x, eps = x.Contiguous(), eps.Contiguous()
	b := x.Backend()
	st, ok := b.(EulerMaruyamaStepper)
	if !ok {
		return eulerMaruyamaComposed(x, eps, u, kl, c, seed, draw)
	}
	next = New(b, x.DType(), x.shape...)
	klNext = kl
	if u != nil {
		klNext = New(b, x.DType(), x.shape[0])
	} else {
		kl = nil
	}
	if x.Len() == 0 && (u == nil || x.shape[0] == 0) {
		return next, klNext
	}
	var uk *Tensor
	if u != nil {
		uk = klNext
	}
	st.EulerMaruyamaStep(next, uk, x, eps, u, kl, c, seed, draw)
	return next, klNext
}

// eulerMaruyamaComposed is EulerMaruyamaStep from the elementwise
// operations, in the order the rollout used before the step was fused: the
// fallback of backends without EulerMaruyamaStepper and what the gonum
// reference backend runs, so that the suite checks the fused kernels
// against it.
func eulerMaruyamaComposed(x, eps, u, kl *Tensor, c EMCoeffs, seed, draw uint64) (next, klNext *Tensor) {
	next = Add(Scale(x, c.X), Scale(eps, c.Eps))
	klNext = kl
	if u != nil {
		next = Add(next, Scale(u, c.U))
		rows := x.shape[0]
		width := 0
		if rows > 0 {
			width = x.Len() / rows
		}
		klNext = Add(kl, Scale(Sum(Square(u).Reshape(rows, width), 1, false), c.KL))
	}
	xi := RandNormal(x.Backend(), x.DType(), seed, draw, x.shape...)
	return Add(next, Scale(xi, c.Noise)), klNext
}
