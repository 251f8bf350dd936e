package sde

import (
	"fmt"
	"math"
	"slices"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// TimeNet is a network of a state and a time: ε_θ(x, s) of a pre-trained model
// (times are diffusion times s) or a control u(t, x) (indexed the same way).
// x is a batch of states [n, ...] of any rank ≥ 2 with the batch on axis 0
// ([n, d] points, [n, c, h, w] images), passed in its own shape; the result
// has x's shape. times has one entry shared by all rows, or one per row.
type TimeNet interface {
	Forward(x *autograd.Var, times []float64) *autograd.Var
}

// Streams hands out Philox draws so that no two uses of one seed share
// numbers: each call of Next reserves 2³² consecutive draws (base + k for step
// k of a rollout). A run that calls Next in the same order replays exactly,
// on every backend; a checkpointed rollout replays its steps' noise.
type Streams struct {
	Seed uint64
	used uint64
}

// Next reserves a block of draws and returns its base.
func (s *Streams) Next() uint64 {
	s.used++
	return s.used << 32
}

// Used is the number of blocks reserved so far: the stream's position, for
// a checkpoint.
func (s *Streams) Used() uint64 { return s.used }

// Seek sets the position to one that Used returned: the draws that follow
// are those that followed it.
func (s *Streams) Seek(used uint64) { s.used = used }

// Rollout integrates the generative SDE dx = (f_pre + u)dt + σ(t)dW of a VP
// model by Euler–Maruyama (ALGORITHMS.md §0) and accumulates the path KL
// Σ_k ‖u_k‖²/(2σ²(t_k))·Δt (§1) per sample. States are [n, ...] (rank ≥ 2,
// the batch on axis 0): ‖u_k‖² sums over every non-batch axis and the noise
// has the state's shape, so a rollout of [n, c, h, w] states gives exactly
// the numbers of the same rollout flattened to [n, c·h·w].
type Rollout struct {
	VP   VP
	Grid Grid
	// Eps is the pre-trained noise predictor (its parameters frozen or not).
	Eps TimeNet
	// Control is the extra drift u; nil rolls out the pre-trained model.
	Control TimeNet
	// Ref, if set with a Control, is a reference control u_ref (a previous
	// model's, frozen): Result.KLRef accumulates the path KL against the
	// process with drift f_pre + u_ref, Σ_k ‖u_k − u_ref,k‖²/(2σ²(t_k))·Δt
	// (ALGORITHMS.md §2). nil: no such term, and the rollout is exactly the
	// one without the field.
	Ref TimeNet
	// Guidance, if set, returns an extra drift term at step k (classifier or
	// reward guidance); it is added like the control but not counted in the KL.
	Guidance func(x *autograd.Var, k int) *autograd.Var
	// DetachBefore runs steps k < DetachBefore without recording, so that
	// gradients flow only through the last steps (DRaFT-K truncation).
	DetachBefore int
	// Segment > 0 checkpoints the rollout in segments of that many steps:
	// intermediate activations are recomputed in the backward pass.
	Segment int
	// Trace, if set, sees the state at the start of every step k (again
	// when a checkpointed segment is recomputed); x_T is the result.
	Trace func(k int, x *autograd.Var)
}

// Result is the end of a rollout.
type Result struct {
	X  *autograd.Var // x_T, in the shape of x0
	KL *autograd.Var // per-sample path KL of the control, [n] (zeros without control)
	// KLRef is the per-sample path KL against the reference control, [n]
	// (nil without Ref or without Control).
	KLRef *autograd.Var
}

// Run rolls out from x0 [n, ...] (rank ≥ 2, the batch on axis 0) with noise
// streams starting at draw.
func (r Rollout) Run(x0 *autograd.Var, seed, draw uint64) Result {
	if r.Grid.Steps < 1 {
		panic(fmt.Sprintf("sde: rollout with %d steps", r.Grid.Steps))
	}
	shape := slices.Clone(x0.Shape())
	n, d := batchDims("Rollout.Run", shape)
	x := x0
	zeros := func() *autograd.Var { return autograd.Const(tensor.Zeros(x0.Value.Backend(), x0.Value.DType(), n)) }
	kl := zeros()
	var klRef *autograd.Var // nil without a reference: no term at all
	if r.Ref != nil && r.Control != nil {
		klRef = zeros()
	}
	k := 0
	autograd.NoGrad(func() {
		for ; k < min(r.DetachBefore, r.Grid.Steps); k++ {
			x, kl, klRef = r.step(x, kl, klRef, k, seed, draw)
		}
	})
	for k < r.Grid.Steps {
		if r.Segment <= 0 || !autograd.Recording() {
			x, kl, klRef = r.step(x, kl, klRef, k, seed, draw)
			k++
			continue
		}
		k0, k1 := k, min(k+r.Segment, r.Grid.Steps)
		in := []*autograd.Var{x, kl}
		if klRef != nil {
			in = append(in, klRef)
		}
		packed := autograd.Checkpoint(func(in []*autograd.Var) *autograd.Var {
			x, kl, klRef := in[0], in[1], (*autograd.Var)(nil)
			if len(in) > 2 {
				klRef = in[2]
			}
			for j := k0; j < k1; j++ {
				x, kl, klRef = r.step(x, kl, klRef, j, seed, draw)
			}
			// One checkpoint node carries x and the KLs: pack them as
			// [x, kl(, klRef)] with x viewed as rows [n, d].
			cols := []*autograd.Var{flatRows(x, n, d), autograd.Reshape(kl, n, 1)}
			if klRef != nil {
				cols = append(cols, autograd.Reshape(klRef, n, 1))
			}
			return autograd.Concat(1, cols...)
		}, in, r.trainable())
		x = unflatRows(autograd.Slice(packed, 1, 0, d), shape)
		kl = autograd.Reshape(autograd.Slice(packed, 1, d, d+1), n)
		if klRef != nil {
			klRef = autograd.Reshape(autograd.Slice(packed, 1, d+1, d+2), n)
		}
		k = k1
	}
	return Result{X: x, KL: kl, KLRef: klRef}
}

// batchDims checks that shape is a batch of states [n, ...] of rank ≥ 2 and
// returns n and the number of elements of one state.
func batchDims(op string, shape []int) (n, d int) {
	if len(shape) < 2 {
		panic(fmt.Sprintf("sde: %s of a state of shape %v: want a batch [n, ...] of rank ≥ 2 with the batch on axis 0 ([n, d] points, [n, c, h, w] images)", op, shape))
	}
	d = 1
	for _, s := range shape[1:] {
		d *= s
	}
	return shape[0], d
}

// flatRows views a batch x [n, ...] as rows [n, d]; [n, d] passes unchanged.
func flatRows(x *autograd.Var, n, d int) *autograd.Var {
	if x.Value.Rank() == 2 {
		return x
	}
	return autograd.Reshape(x, n, d)
}

// unflatRows gives rows x [n, d] the batch's shape back; for a shape of rank
// 2 x passes unchanged.
func unflatRows(x *autograd.Var, shape []int) *autograd.Var {
	if len(shape) == 2 {
		return x
	}
	return autograd.Reshape(x, shape...)
}

// sumRows is Σ_j v[r, j] per row r of a batch v [n, ...], summed over every
// non-batch axis (as the rows of v viewed as [n, d]).
func sumRows(v *autograd.Var) *autograd.Var {
	n, d := batchDims("sum over a sample", v.Shape())
	return autograd.Sum(flatRows(v, n, d), 1, false)
}

// trainable lists the parameters of the networks that require gradients, which
// a checkpointed segment captures.
func (r Rollout) trainable() []*autograd.Var {
	var out []*autograd.Var
	for _, net := range []TimeNet{r.Eps, r.Control} {
		if m, ok := net.(interface{ Params() []nn.Param }); ok {
			for _, p := range m.Params() {
				if p.RequiresGrad() {
					out = append(out, p.Var)
				}
			}
		}
	}
	return out
}

// step advances one Euler–Maruyama step k:
// x ← x + (½βx − β·ε/σ_s + u)Δt + √(βΔt)·ξ, kl ← kl + ‖u‖²Δt/(2β),
// fused into one operation (one dispatch on a GPU) with the noise ξ_k drawn
// from the Philox stream (seed, draw + k); with a reference (klRef not nil)
// also klRef ← klRef + ‖u − u_ref‖²Δt/(2β). A guidance drift is added
// after, outside the KL.
func (r Rollout) step(x, kl, klRef *autograd.Var, k int, seed, draw uint64) (*autograd.Var, *autograd.Var, *autograd.Var) {
	s := r.Grid.S(k)
	beta := r.VP.Beta(s)
	dt := r.Grid.Dt
	sv := []float64{s}
	if r.Trace != nil {
		r.Trace(k, x)
	}
	eps := r.Eps.Forward(x, sv)
	c := tensor.EMCoeffs{X: 1 + 0.5*beta*dt, Eps: -beta * dt / r.VP.SigmaS(s), U: dt, Noise: math.Sqrt(beta * dt), KL: dt / (2 * beta)}
	var next *autograd.Var
	if r.Control != nil {
		u := r.Control.Forward(x, sv)
		next, kl = autograd.EulerMaruyamaStep(x, eps, u, kl, c, seed, draw+uint64(k))
		if klRef != nil { // ‖u − u_ref‖²Δt/(2β)
			klRef = autograd.Add(klRef, autograd.Scale(sumRows(autograd.Square(autograd.Sub(u, r.Ref.Forward(x, sv)))), c.KL))
		}
	} else {
		next, _ = autograd.EulerMaruyamaStep(x, eps, nil, nil, c, seed, draw+uint64(k))
	}
	if r.Guidance != nil {
		g := r.Guidance(x, k)
		if !slices.Equal(g.Shape(), x.Shape()) {
			panic(fmt.Sprintf("sde: guidance drift of shape %v for a state of shape %v", g.Shape(), x.Shape()))
		}
		next = autograd.Add(next, autograd.Scale(g, dt))
	}
	return next, kl, klRef
}
