// Package bench defines named throughput workloads and times them on any
// backend: the go test benchmarks and cmd/bench both run them.
package bench

import (
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// GMM2DIteration is one gmm2d fine-tuning iteration, the workload of
// bench/torch/torch_gmm2d_iter.py: batch rollouts of steps Euler–Maruyama
// steps of the VP-SDE with a frozen noise network and a trained control, both
// MLP [x, 32-dim embedding] → width ×3 (SiLU) → 2; loss mean(−x_T[0] + α·KL);
// full backprop through the rollout; one Adam step.
type GMM2DIteration struct {
	Batch, Steps, Width int
	eps, ctrl           *nn.TimeMLP
	opt                 *nn.Adam
	rng                 *sde.Streams
	b                   tensor.Backend
}

// NewGMM2DIteration builds the networks on backend b.
func NewGMM2DIteration(b tensor.Backend, batch, steps, width int) *GMM2DIteration {
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 1}
	w := &GMM2DIteration{Batch: batch, Steps: steps, Width: width, b: b, rng: &sde.Streams{Seed: 1},
		eps:  nn.NewTimeMLP(init, 2, 32, 2, tensor.ActSiLU, width, width, width),
		ctrl: nn.NewTimeMLP(init, 2, 32, 2, tensor.ActSiLU, width, width, width)}
	nn.SetTrainable(w.eps, false)
	w.opt = nn.NewAdam(nn.Vars(w.ctrl), nn.ConstantLR(1e-4))
	return w
}

// Run performs one iteration and returns its loss.
func (w *GMM2DIteration) Run() float64 {
	l := w.backward()
	w.opt.Step()
	return l
}

// Gradients runs the forward and backward passes of one iteration, without
// the Adam step, and returns the loss and the control network's gradients on
// the host (then clears them): for comparing backends.
func (w *GMM2DIteration) Gradients() (float64, [][]float32) {
	l := w.backward()
	var grads [][]float32
	for _, p := range nn.Vars(w.ctrl) {
		grads = append(grads, p.Grad.Float32s())
	}
	nn.ZeroGrad(w.ctrl)
	return l, grads
}

// backward rolls out, evaluates the loss mean(−x_T[0] + KL) and
// back-propagates it into the control.
func (w *GMM2DIteration) backward() float64 {
	vp := sde.DefaultVP
	roll := sde.Rollout{VP: vp, Grid: vp.NewGrid(w.Steps), Eps: w.eps, Control: w.ctrl}
	x0 := tensor.RandNormal(w.b, tensor.Float32, w.rng.Seed, w.rng.Next(), w.Batch, 2)
	res := roll.Run(autograd.Const(x0), w.rng.Seed, w.rng.Next())
	first := autograd.Reshape(autograd.Slice(res.X, 1, 0, 1), w.Batch)
	loss := autograd.MeanAll(autograd.Sub(res.KL, first))
	l := loss.Value.Item()
	loss.Backward()
	return l
}

// FLOPs counts the matrix-product work of one iteration the way the PyTorch
// script does: per network, sample and step 2(34W + 2W² + 2W); the control
// 3× (forward, input and weight gradients), the frozen network 2×.
func (w *GMM2DIteration) FLOPs() float64 {
	W := float64(w.Width)
	return float64(w.Batch*w.Steps) * 2 * (34*W + 2*W*W + 2*W) * 5
}
