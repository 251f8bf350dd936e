//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"testing"

	"github.com/difftune/difftune/tensor"
)

// TestEulerMaruyamaStepOneDispatch checks that a fused Euler–Maruyama step
// (update, Philox noise and path-KL increment) records exactly one
// dispatch, with and without a control, and agrees with the CPU.
func TestEulerMaruyamaStepOneDispatch(t *testing.T) {
	b := testBackend(t)
	cpu := tensor.CPU()
	const rows, d = 512, 2
	c := tensor.EMCoeffs{X: 1.1, Eps: -0.9, U: 0.01, Noise: 0.44, KL: 0.0005}
	host := [4][]float32{randn(1, rows*d), randn(2, rows*d), randn(3, rows*d), randn(4, rows)}
	var on [2][4]*tensor.Tensor
	for k, be := range []tensor.Backend{b, cpu} {
		for i, v := range host {
			shape := []int{rows, d}
			if i == 3 {
				shape = []int{rows}
			}
			on[k][i] = tensor.FromFloat32(be, v, shape...)
		}
	}
	for _, control := range []bool{true, false} {
		g, h := on[0], on[1]
		if !control {
			g[2], g[3], h[2], h[3] = nil, nil, nil, nil
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		before := b.Dispatches()
		next, kl := tensor.EulerMaruyamaStep(g[0], g[1], g[2], g[3], c, 9, 7<<32+3)
		if n := b.Dispatches() - before; n != 1 {
			t.Errorf("control %v: a fused step recorded %d dispatches, want 1", control, n)
		}
		wantNext, wantKL := tensor.EulerMaruyamaStep(h[0], h[1], h[2], h[3], c, 9, 7<<32+3)
		closeTo(t, "next", next.Float32s(), wantNext.Float32s(), 1e-5)
		if control {
			closeTo(t, "kl", kl.Float32s(), wantKL.Float32s(), 1e-5)
		}
	}
}
