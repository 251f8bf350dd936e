//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// mlpGrads runs a small MLP forward and backward on backend be: three fused
// linear layers (SiLU, tanh), a log-softmax cross-entropy against one-hot
// targets, plus a squared penalty. It returns the loss and the gradients of
// every parameter, on the host.
func mlpGrads(be tensor.Backend) (float32, [][]float32) {
	const batch, in, hidden, classes = 32, 5, 48, 7
	param := func(seed uint64, shape ...int) *autograd.Var {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := randn(seed, n)
		for i := range v {
			v[i] *= 0.3
		}
		return autograd.Param(tensor.FromFloat32(be, v, shape...))
	}
	w1, b1 := param(11, in, hidden), param(12, hidden)
	w2, b2 := param(13, hidden, hidden), param(14, hidden)
	w3, b3 := param(15, hidden, classes), param(16, classes)
	x := autograd.Const(tensor.FromFloat32(be, randn(17, batch*in), batch, in))
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = (i * 5) % classes
	}
	onehot := autograd.Const(tensor.OneHot(be, tensor.Float32, labels, classes))

	h := autograd.Linear(x, w1, b1, tensor.ActSiLU)
	h = autograd.Linear(h, w2, b2, tensor.ActTanh)
	logits := autograd.Linear(h, w3, b3, tensor.ActNone)
	nll := autograd.Neg(autograd.MeanAll(autograd.Mul(autograd.LogSoftmax(logits, 1), onehot)))
	loss := autograd.Add(nll, autograd.Scale(autograd.MeanAll(autograd.Square(w2)), 0.1))
	loss.Backward()

	var grads [][]float32
	for _, p := range []*autograd.Var{w1, b1, w2, b2, w3, b3} {
		grads = append(grads, p.Grad.Float32s())
	}
	return loss.Value.Float32s()[0], grads
}

// TestAutogradMatchesCPU checks a forward and backward pass through Vulkan
// tensors against the same computation on the CPU.
func TestAutogradMatchesCPU(t *testing.T) {
	b := testBackend(t)
	lossCPU, gradsCPU := mlpGrads(tensor.CPUReference())
	lossGPU, gradsGPU := mlpGrads(b)
	closeTo(t, "loss", []float32{lossGPU}, []float32{lossCPU}, 1e-5)
	for i := range gradsCPU {
		closeTo(t, "gradient "+string(rune('0'+i)), gradsGPU[i], gradsCPU[i], 1e-5)
	}
}
