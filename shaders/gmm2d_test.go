//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"testing"

	"github.com/difftune/difftune/bench"
	"github.com/difftune/difftune/tensor"
)

// TestGMM2DIterationMatchesCPU runs one gmm2d fine-tuning iteration (rollout
// with control and path KL, full backprop) with the same seed on Vulkan and on
// the CPU: the networks are initialized from the same Philox streams and the
// rollouts draw the same noise, so loss and gradients must agree to float32
// accuracy. It also reports how many command buffers the iteration submits.
// It runs with pushed descriptors and with cached descriptor sets.
func TestGMM2DIterationMatchesCPU(t *testing.T) {
	b := testBackend(t)
	descriptorModes(t, b, func(t *testing.T, push bool) { testGMM2DIteration(t, b, push) })
}

func testGMM2DIteration(t *testing.T, b *Backend, push bool) {
	const batch, steps, width = 64, 12, 32
	b.mu.Lock()
	allocs := b.sets.allocs
	b.mu.Unlock()
	lossCPU, gradsCPU := bench.NewGMM2DIteration(tensor.CPUReference(), batch, steps, width).Gradients()
	before, dispatchesBefore := b.Submits(), b.Dispatches()
	lossGPU, gradsGPU := bench.NewGMM2DIteration(b, batch, steps, width).Gradients()
	submits, dispatches := b.Submits()-before, b.Dispatches()-dispatchesBefore
	t.Logf("one iteration (batch %d, %d steps) recorded %d dispatches in %d command buffers", batch, steps, dispatches, submits)
	closeTo(t, "loss", []float32{float32(lossGPU)}, []float32{float32(lossCPU)}, 1e-4)
	for i := range gradsCPU {
		closeTo(t, "gradient", gradsGPU[i], gradsCPU[i], 1e-4)
	}
	// Batching: the host reads the loss once and the gradients once per
	// parameter; everything else is recorded, so the count is bounded by a
	// small multiple of the host reads, not by the ~600 dispatches.
	if submits > 40 {
		t.Errorf("%d submits for one iteration: dispatches are not batched", submits)
	}
	b.mu.Lock()
	allocs = b.sets.allocs - allocs
	b.mu.Unlock()
	t.Logf("%d descriptor sets allocated", allocs)
	if push && allocs != 0 {
		t.Errorf("%d descriptor sets allocated with push descriptors", allocs)
	}
}
