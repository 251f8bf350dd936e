package tensor_test

import (
	"testing"

	"github.com/difftune/difftune/tensor"
	"github.com/difftune/difftune/tensor/backendtest"
)

// TestCPUBackends runs the backend suite on both CPU variants: the fast
// kernels and the gonum reference. New buffers are filled with NaN, as
// recycled ones hold old values: an operation must write all of its output.
func TestCPUBackends(t *testing.T) {
	tensor.SetPoisonAllocs(true)
	defer tensor.SetPoisonAllocs(false)
	for _, b := range []tensor.Backend{tensor.CPU(), tensor.CPUReference()} {
		t.Run(b.Name(), func(t *testing.T) {
			backendtest.Run(t, b, map[tensor.DType]backendtest.Tolerances{
				tensor.Float32: backendtest.Float32Tol,
				tensor.Float64: backendtest.Float64Tol,
			})
		})
	}
}
