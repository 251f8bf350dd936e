//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"math"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// TestConvTranspose2dMatchesCPU checks the transposed convolution on the
// device against the CPU reference: its output (the grad-input kernel plus
// the bias) and the gradients of its input (the forward kernel), weight
// (the grad-weight kernel with the roles swapped) and bias, for the UNet's
// 4×4 stride-2 upsampling, a 3×3 stride-1 one and a non-square kernel.
func TestConvTranspose2dMatchesCPU(t *testing.T) {
	b := testBackend(t)
	fusedKernels(t, b)
	cpu := tensor.CPUReference()
	type geom struct{ n, in, out, h, w, kh, kw, stride, pad int }
	for i, s := range []geom{
		{2, 16, 8, 7, 7, 4, 4, 2, 1},
		{1, 5, 3, 6, 5, 3, 3, 1, 1},
		{3, 4, 6, 4, 3, 3, 2, 2, 0},
	} {
		g := tensor.NewConvTransposeGeom(s.n, s.out, s.h, s.w, s.kh, s.kw, s.stride, s.pad)
		xv := randn(uint64(10*i+1), s.n*s.in*s.h*s.w)
		wv := randn(uint64(10*i+2), s.in*s.out*s.kh*s.kw)
		bv := randn(uint64(10*i+3), s.out)
		dyv := randn(uint64(10*i+4), g.N*g.C*g.H*g.W)
		run := func(be tensor.Backend) [][]float32 {
			x := autograd.Param(tensor.FromFloat32(be, xv, s.n, s.in, s.h, s.w))
			w := autograd.Param(tensor.FromFloat32(be, wv, s.in, s.out*s.kh*s.kw))
			bias := autograd.Param(tensor.FromFloat32(be, bv, s.out))
			y := autograd.ConvTranspose2d(x, w, bias, g)
			y.BackwardWith(tensor.FromFloat32(be, dyv, y.Shape()...))
			return [][]float32{y.Value.Float32s(), x.Grad.Float32s(), w.Grad.Float32s(), bias.Grad.Float32s()}
		}
		want, got := run(cpu), run(b)
		tol := func(k int) float64 { return 1e-5 * math.Sqrt(float64(k+1)) }
		for j, c := range []struct {
			name string
			k    int // products summed per element
		}{{"output", s.in * s.kh * s.kw}, {"grad input", s.out * s.kh * s.kw}, {"grad weight", g.N * s.h * s.w}, {"grad bias", g.N * g.H * g.W}} {
			closeTo(t, fmt.Sprintf("%+v %s", s, c.name), got[j], want[j], tol(c.k))
		}
	}
}

// unetGrads runs a small UNet (1×28×28 images, widths 8, 16, 16, 4 groups,
// 2 heads) forward and backward on be for two images at two times, the loss
// a fixed weighting of the output, and returns the output and every
// parameter's gradient (in Params order), on the host.
func unetGrads(be tensor.Backend) (y []float32, grads [][]float32, names []string) {
	cfg := nn.UNetConfig{Channels: 1, Height: 28, Width: 28, C1: 8, C2: 16, C3: 16, Groups: 4, Heads: 2, EmbDim: 32, TimeDim: 64}
	u := nn.NewUNet(&nn.Init{Backend: be, DType: tensor.Float32, Seed: 6}, cfg)
	x := autograd.Const(tensor.FromFloat32(be, randn(31, 2*784), 2, 784))
	out := u.Forward(x, []float64{0.05, 0.8})
	w := autograd.Const(tensor.FromFloat32(be, randn(32, out.Value.Len()), out.Shape()...))
	autograd.SumAll(autograd.Mul(out, w)).Backward()
	for _, p := range u.Params() {
		grads = append(grads, p.Grad.Float32s())
		names = append(names, p.Name)
	}
	return out.Value.Float32s(), grads, names
}

// TestUNetMatchesCPU checks a small UNet's forward and backward pass on the
// device against the CPU: the output within 1e-4·(1 + |y|) and every
// parameter's gradient within 1e-4 of its largest entry (or of 1 if that is
// smaller: the key bias's gradient is zero but for rounding). On lavapipe
// the largest differences are about 3e-6 of that scale: float32 sums
// through some twenty layers, in different orders.
func TestUNetMatchesCPU(t *testing.T) {
	b := testBackend(t)
	fusedKernels(t, b)
	yc, gc, names := unetGrads(tensor.CPU())
	yg, gg, _ := unetGrads(b)
	closeTo(t, "output", yg, yc, 1e-4)
	for i, name := range names {
		scale := 1.0
		for _, v := range gc[i] {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for j := range gc[i] {
			if d := math.Abs(float64(gg[i][j] - gc[i][j])); !(d <= 1e-4*scale) {
				t.Fatalf("gradient of %s, element %d: %v on the device, %v on the CPU (largest %v)", name, j, gg[i][j], gc[i][j], scale)
			}
		}
	}
}
