package algos

import (
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// Sampler draws samples (rows of Pre.Dim) with their per-sample path-KL
// estimates against the pre-trained process: of the initial law and of the
// drift.
type Sampler interface {
	Sample(b tensor.Backend, n int, rng *sde.Streams) (x, klInit, klDrift []float64)
}

// FineTuned is a fine-tuned sampler: an initial law (nil control: N(0, I))
// followed by the pre-trained SDE with the control drift.
type FineTuned struct {
	Pre     *Pretrained
	Init    sde.InitialLaw
	Control Net
	// Value is step 1's fit of v*₀ (nil unless ELEGANT).
	Value *nn.MLP
	// DivergedAt is the drift iteration at which the loss stopped being finite
	// (−1 if it never did); the control holds the last finite parameters.
	DivergedAt int
	// ckpt checkpoints the drift fit (nil: none).
	ckpt *fitCheckpoint
}

// Sample draws n points with their path-KL estimates: of the initial law
// (Σ‖ū‖²/2·Δτ) and of the drift (Σ‖u‖²/(2σ²)·Δt).
func (f *FineTuned) Sample(b tensor.Backend, n int, rng *sde.Streams) (x, klInit, klDrift []float64) {
	x = sampleChunks(n, func(m int) []float64 {
		var out []float64
		autograd.NoGrad(func() {
			x0, ci := f.Init.Sample(b, tensor.Float32, m, f.Pre.Dim, rng.Seed, rng.Next())
			res := f.rollout(0).Run(x0, rng.Seed, rng.Next())
			out = res.X.Value.Float64s()
			klInit = append(klInit, ci.Value.Float64s()...)
			klDrift = append(klDrift, res.KL.Value.Float64s()...)
		})
		return out
	})
	return x, klInit, klDrift
}

func (f *FineTuned) rollout(segment int) sde.Rollout {
	r := sde.Rollout{VP: f.Pre.VP, Grid: f.Pre.Grid(), Eps: f.Pre.Eps, Segment: segment}
	if f.Control != nil {
		r.Control = f.Control
	}
	return r
}

// fitted wraps the sampler with its networks for checkpoints.
func (f *FineTuned) fitted() *Fitted {
	fit := &Fitted{Sampler: f, Modules: map[string]nn.Module{}, DivergedAt: f.DivergedAt}
	if f.Control != nil {
		fit.Modules["control"] = f.Control
	}
	if ctrl, ok := f.Init.Control.(nn.Module); ok {
		fit.Modules["initial_law"] = ctrl
	}
	return fit
}

// sampleChunk is the largest batch rolled out at once when sampling.
const sampleChunk = 2048

// sampleChunks concatenates f(m) over chunks of at most sampleChunk rows that
// add up to n.
func sampleChunks(n int, f func(m int) []float64) []float64 {
	var out []float64
	for lo := 0; lo < n; lo += sampleChunk {
		out = append(out, f(min(sampleChunk, n-lo))...)
	}
	return out
}
