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

// TestConv2dTilings checks the three convolution kernels with every tiling
// — the GPU ones included — on the device in use against the CPU
// reference (Im2Col and MatMul), for geometries that leave partial tiles
// in each GEMM dimension, strides 1 and 2, padding 0 to 2, 1×1 and
// non-square kernels, operands at offsets in their buffers, with and
// without bias, the grad-weight reduction split across workgroups, column
// tiles folded into z (past a workgroup limit in x lowered to 2); and that
// each convolution records exactly one dispatch.
func TestConv2dTilings(t *testing.T) {
	b := testBackend(t)
	fusedKernels(t, b)
	cpu := tensor.CPUReference()
	gpu := gpuConvConfig()
	split := b.cfg.conv
	split.minGroups, split.minChunk = 1<<20, 16 // the grad-weight reduction in parts of 16 to 48
	configs := []struct {
		name      string
		cfg       convConfig
		maxGroups uint32 // in x, if not 0
	}{
		{"device", b.cfg.conv, 0},
		{"gpu large", convConfig{gpu.large, gpu.large, gpu.large, gpu.minGroups, gpu.minChunk}, 0},
		{"gpu small", convConfig{gpu.small, gpu.small, gpu.small, gpu.minGroups, gpu.minChunk}, 0},
		{"gpu narrow", convConfig{gpu.narrow, gpu.narrow, gpu.narrow, gpu.minGroups, gpu.minChunk}, 0},
		{"device split", split, 0},
		{"gpu small split", convConfig{gpu.small, gpu.small, gpu.small, 1 << 20, 40}, 0},
		{"device split, 2 groups in x", split, 2},
	}
	type geom struct{ n, c, h, w, kh, kw, stride, pad, out int }
	geoms := []geom{
		{2, 3, 9, 7, 3, 3, 1, 1, 5},
		{2, 8, 11, 11, 3, 3, 2, 1, 40},
		{1, 33, 8, 8, 3, 3, 1, 0, 130},
		{3, 4, 6, 5, 1, 1, 1, 0, 7},
		{1, 2, 13, 10, 5, 3, 2, 2, 3},
	}
	saved := b.cfg
	defer func() {
		b.mu.Lock()
		b.cfg = saved
		b.mu.Unlock()
	}()
	for _, c := range configs {
		b.mu.Lock()
		b.cfg.conv, b.cfg.maxGroups = c.cfg, saved.maxGroups
		if c.maxGroups != 0 {
			b.cfg.maxGroups = c.maxGroups
		}
		b.mu.Unlock()
		for i, s := range geoms {
			g := tensor.NewConvGeom(s.n, s.c, s.h, s.w, s.kh, s.kw, s.stride, s.pad)
			rows := g.C * g.KH * g.KW
			const off = 3
			xv := randn(uint64(10*i+1), off+g.N*g.C*g.H*g.W)
			wv := randn(uint64(10*i+2), off+s.out*rows)
			bv := randn(uint64(10*i+3), s.out)
			dyv := randn(uint64(10*i+4), off+g.N*s.out*g.OutH*g.OutW)
			at := func(be tensor.Backend, v []float32, shape ...int) *tensor.Tensor {
				return tensor.FromFloat32(be, v, len(v)).Slice(0, off, len(v)).Reshape(shape...)
			}
			mk := func(be tensor.Backend) (x, w, bias, dy *tensor.Tensor) {
				return at(be, xv, g.N, g.C, g.H, g.W), at(be, wv, s.out, rows), tensor.FromFloat32(be, bv, s.out),
					at(be, dyv, g.N, s.out, g.OutH, g.OutW)
			}
			cx, cw, cbias, cdy := mk(cpu)
			gx, gw, gbias, gdy := mk(b)
			what := fmt.Sprintf("%s %+v", c.name, s)
			one := func(op string, f func() *tensor.Tensor) []float32 {
				t.Helper()
				if err := b.Sync(); err != nil {
					t.Fatal(err)
				}
				before := b.Dispatches()
				r := f()
				if k := b.Dispatches() - before; k != 1 {
					t.Errorf("%s: %s recorded %d dispatches, want 1", what, op, k)
				}
				return r.Float32s()
			}
			tol := func(k int) float64 { return 1e-5 * math.Sqrt(float64(k+1)) }
			closeTo(t, what+" conv2d", one("Conv2d", func() *tensor.Tensor { return tensor.Conv2d(gx, gw, gbias, g) }),
				tensor.Conv2d(cx, cw, cbias, g).Float32s(), tol(rows))
			closeTo(t, what+" conv2d without bias", one("Conv2d", func() *tensor.Tensor { return tensor.Conv2d(gx, gw, nil, g) }),
				tensor.Conv2d(cx, cw, nil, g).Float32s(), tol(rows))
			closeTo(t, what+" grad input", one("Conv2dGradInput", func() *tensor.Tensor { return tensor.Conv2dGradInput(gdy, gw, g) }),
				tensor.Conv2dGradInput(cdy, cw, g).Float32s(), tol(s.out*g.KH*g.KW))
			closeTo(t, what+" grad weight", one("Conv2dGradWeight", func() *tensor.Tensor { return tensor.Conv2dGradWeight(gdy, gx, g) }),
				tensor.Conv2dGradWeight(cdy, cx, g).Float32s(), tol(g.N*g.OutH*g.OutW))
		}
	}
}

// convNetGrads runs Conv2d (3→8, 3×3, stride 1, pad 1) → GroupNorm (4
// groups) → SiLU → Conv2d (8→6, 3×3, stride 2, pad 1) on [2, 3, 9, 9] images
// forward and backward on be, the loss a fixed weighting of the output. It
// returns the output and the gradients of the input and of every parameter,
// on the host.
func convNetGrads(be tensor.Backend) (y []float32, grads [][]float32) {
	init := &nn.Init{Backend: be, DType: tensor.Float32, Seed: 4}
	c1, gn, c2 := nn.NewConv2d(init, 3, 8, 3, 1, 1), nn.NewGroupNorm(init, 4, 8), nn.NewConv2d(init, 8, 6, 3, 2, 1)
	gn.Gamma.Value = tensor.FromFloat32(be, randn(21, 8), 8)
	gn.Beta.Value = tensor.FromFloat32(be, randn(22, 8), 8)
	x := autograd.Param(tensor.FromFloat32(be, randn(23, 2*3*9*9), 2, 3, 9, 9))
	out := c2.Forward(autograd.SiLU(gn.Forward(c1.Forward(x))))
	w := autograd.Const(tensor.FromFloat32(be, randn(24, out.Value.Len()), out.Shape()...))
	autograd.SumAll(autograd.Mul(out, w)).Backward()
	grads = [][]float32{x.Grad.Float32s()}
	for _, p := range []*autograd.Var{c1.W, c1.B, gn.Gamma, gn.Beta, c2.W, c2.B} {
		grads = append(grads, p.Grad.Float32s())
	}
	return out.Value.Float32s(), grads
}

// TestConvNetAutogradMatchesCPU checks a small convolutional network's
// forward and backward pass on the device against the CPU: the output, the
// input's gradient and every parameter's.
func TestConvNetAutogradMatchesCPU(t *testing.T) {
	b := testBackend(t)
	fusedKernels(t, b)
	yc, gc := convNetGrads(tensor.CPU())
	yg, gg := convNetGrads(b)
	closeTo(t, "output", yg, yc, 1e-4)
	for i, name := range []string{"x", "conv1 w", "conv1 b", "γ", "β", "conv2 w", "conv2 b"} {
		closeTo(t, "gradient of "+name, gg[i], gc[i], 1e-4)
	}
}

// BenchmarkConv2d times each convolution kernel alone on the 3×3 (padding
// 1) shapes of bench's conv2d workloads at batch 16, and reports GFLOP/s
// (2·n·out·oh·ow·c·9 per convolution, the stride-2 gather's skipped taps
// not counted).
func BenchmarkConv2d(bm *testing.B) {
	for _, s := range []struct{ c, out, hw, stride int }{{32, 32, 32, 1}, {64, 64, 16, 1}, {128, 128, 8, 1}, {32, 64, 32, 2}} {
		const n = 16
		g := tensor.NewConvGeom(n, s.c, s.hw, s.hw, 3, 3, s.stride, 1)
		for _, op := range []string{"forward", "grad_input", "grad_weight"} {
			bm.Run(fmt.Sprintf("c%dto%d_%dx%d_s%d/%s", s.c, s.out, s.hw, s.hw, s.stride, op), func(bm *testing.B) {
				b := testBackend(bm)
				x := tensor.RandNormal(b, tensor.Float32, 1, 1, n, s.c, s.hw, s.hw)
				w := tensor.RandNormal(b, tensor.Float32, 1, 2, s.out, s.c*9)
				bias := tensor.RandNormal(b, tensor.Float32, 1, 3, s.out)
				dy := tensor.RandNormal(b, tensor.Float32, 1, 4, n, s.out, g.OutH, g.OutW)
				run := map[string]func(){
					"forward":     func() { tensor.Conv2d(x, w, bias, g) },
					"grad_input":  func() { tensor.Conv2dGradInput(dy, w, g) },
					"grad_weight": func() { tensor.Conv2dGradWeight(dy, x, g) },
				}[op]
				run() // warm up: pipeline creation and first compile
				if err := b.Sync(); err != nil {
					bm.Fatal(err)
				}
				bm.ResetTimer()
				for range bm.N {
					run()
				}
				if err := b.Sync(); err != nil {
					bm.Fatal(err)
				}
				bm.ReportMetric(2*float64(n*s.out*g.OutH*g.OutW*s.c*9)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
