// Package sde holds the diffusion processes: the VP noise schedule, denoising
// score matching, and Euler–Maruyama rollouts of the generative SDE with an
// extra control drift whose path KL is accumulated (docs/ALGORITHMS.md §0–1).
//
// Time conventions follow ALGORITHMS.md §0: diffusion time s runs from data
// (s = 0) to noise (s = 1); generative time t = 1 − s runs from noise to data.
package sde

import (
	"fmt"
	"math"
)

// VP is the variance-preserving schedule β(s) = β_min + (β_max − β_min)·s.
type VP struct {
	BetaMin, BetaMax float64
	// SMin is the smallest diffusion time: training draws s ~ U(SMin, 1) and
	// sampling stops at t = 1 − SMin.
	SMin float64
}

// DefaultVP is β ∈ [0.1, 20], s_min = 1e-3.
var DefaultVP = VP{BetaMin: 0.1, BetaMax: 20, SMin: 1e-3}

// Validate reports a schedule that cannot be used.
func (v VP) Validate() error {
	if !(v.BetaMin > 0 && v.BetaMax >= v.BetaMin && v.SMin > 0 && v.SMin < 1) {
		return fmt.Errorf("bad VP schedule: need 0 < beta-min ≤ beta-max and 0 < s-min < 1, got %+v", v)
	}
	return nil
}

// Beta is β(s).
func (v VP) Beta(s float64) float64 { return v.BetaMin + (v.BetaMax-v.BetaMin)*s }

// LogAlphaBar is log ᾱ(s) = −∫₀ˢβ.
func (v VP) LogAlphaBar(s float64) float64 {
	return -(v.BetaMin*s + 0.5*(v.BetaMax-v.BetaMin)*s*s)
}

// SqrtAlphaBar is √ᾱ(s), the scale of the data in x_s.
func (v VP) SqrtAlphaBar(s float64) float64 { return math.Exp(0.5 * v.LogAlphaBar(s)) }

// SigmaS is σ_s = √(1 − ᾱ(s)), the scale of the noise in x_s (computed with
// expm1, accurate for small s).
func (v VP) SigmaS(s float64) float64 { return math.Sqrt(-math.Expm1(v.LogAlphaBar(s))) }

// Grid is the Euler–Maruyama grid of a generative rollout: steps of Δt from
// t = 0 to t = 1 − SMin.
type Grid struct {
	Steps int
	Dt    float64
}

// NewGrid divides [0, 1 − s_min] into n steps.
func (v VP) NewGrid(n int) Grid { return Grid{Steps: n, Dt: (1 - v.SMin) / float64(n)} }

// S is the diffusion time at the start of step k: s = 1 − k·Δt.
func (g Grid) S(k int) float64 { return 1 - float64(k)*g.Dt }
