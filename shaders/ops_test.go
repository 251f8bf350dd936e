//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/difftune/difftune/tensor"
	"github.com/difftune/difftune/tensor/backendtest"
	"github.com/difftune/difftune/tensor/philox"
)

// closeTo fails t unless got and want agree to tol·(1 + |want|).
func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) && math.IsNaN(w) || g == w {
			continue
		}
		if !(math.Abs(g-w) <= tol*(1+math.Abs(w))) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, g, w)
		}
	}
}

func randn(seed uint64, n int) []float32 {
	v := make([]float32, n)
	philox.Normal32(seed, 0, v)
	return v
}

// TestMatMulTilings checks every tiling — the shared-memory ones meant for
// GPUs included — on the device in use, against the CPU reference, for
// shapes that leave partial tiles, unaligned operands (the scalar loads),
// views with offsets, batches with a shared operand, and each epilogue.
func TestMatMulTilings(t *testing.T) {
	b := testBackend(t)
	cpu := tensor.CPUReference()
	gpu := gpuMatmulConfig(b.dev)
	configs := map[string]matmulConfig{
		"device":    b.cfg.matmul,
		"gpu large": {large: gpu.large, small: gpu.large},
		"gpu small": {large: gpu.small, small: gpu.small},
	}
	type shape struct{ batch, m, n, k, offA, offB int }
	// {2, 40, 96, 100, 4, 8}: whole aligned tiles of the CPU tiling (vec4
	// fetches) with a k tail, a batch and offsets.
	shapes := []shape{{1, 64, 64, 64, 0, 0}, {2, 130, 67, 33, 0, 0}, {1, 5, 129, 7, 1, 3}, {3, 17, 8, 300, 4, 0}, {1, 1, 1, 1, 0, 0},
		{2, 40, 96, 100, 4, 8}}
	for name, cfg := range configs {
		for _, s := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					act := tensor.ActSiLU // one activation: each is another pipeline to compile
					rowsA, colsA := s.m, s.k
					if ta {
						rowsA, colsA = colsA, rowsA
					}
					rowsB, colsB := s.k, s.n
					if tb {
						rowsB, colsB = colsB, rowsB
					}
					av := randn(1, s.offA+s.batch*rowsA*colsA)
					bv := randn(2, s.offB+rowsB*colsB) // shared by the batch
					biasv := randn(3, s.n)
					mk := func(be tensor.Backend) (a, x, bias, dst, deriv *tensor.Tensor) {
						a = tensor.FromFloat32(be, av, len(av)).Slice(0, s.offA, len(av)).Reshape(s.batch, rowsA, colsA)
						x = tensor.FromFloat32(be, bv, len(bv)).Slice(0, s.offB, len(bv)).Reshape(1, rowsB, colsB).Expand(s.batch, rowsB, colsB)
						bias = tensor.FromFloat32(be, biasv, s.n)
						dst = tensor.New(be, tensor.Float32, s.batch, s.m, s.n)
						deriv = tensor.New(be, tensor.Float32, s.batch, s.m, s.n)
						return
					}
					ca, cx, cbias, cdst, cderiv := mk(cpu)
					cpu.MatMul(cdst, ca, cx, ta, tb, cbias, act, cderiv)
					ga, gx, gbias, gdst, gderiv := mk(b)
					b.mu.Lock()
					b.matmul(cfg, gdst, ga, gx, ta, tb, gbias, act, gderiv)
					b.mu.Unlock()
					what := fmt.Sprintf("%s %+v transA=%v transB=%v act=%v", name, s, ta, tb, act)
					tol := 1e-5 * math.Sqrt(float64(s.k+1))
					closeTo(t, what, gdst.Float32s(), cdst.Float32s(), tol)
					closeTo(t, what+" deriv", gderiv.Float32s(), cderiv.Float32s(), tol)
				}
			}
		}
	}
}

// TestMatMulWithoutTexelViews checks the fallback of the CPU tiling for
// operands that no texel view can cover (buffers past
// maxTexelBufferElements), by pretending that views hold nothing.
func TestMatMulWithoutTexelViews(t *testing.T) {
	b := testBackend(t)
	if !b.mem.texels {
		t.Skip("texel views are not used on this device")
	}
	b.mu.Lock()
	saved := b.mem.maxTexels
	b.mem.maxTexels = 0
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.mem.maxTexels = saved
		b.mu.Unlock()
	}()
	const m, n, k = 40, 96, 100
	av, bv := randn(1, m*k), randn(2, k*n)
	want := tensor.MatMul(tensor.FromFloat32(tensor.CPUReference(), av, m, k), tensor.FromFloat32(tensor.CPUReference(), bv, k, n))
	got := tensor.MatMul(tensor.FromFloat32(b, av, m, k), tensor.FromFloat32(b, bv, k, n))
	closeTo(t, "matmul without texel views", got.Float32s(), want.Float32s(), 1e-5*math.Sqrt(k+1))
}

// TestStaged runs the suite with tensor memory kept unmapped, so that
// uploads and downloads go through staging buffers and transfer commands,
// as on a discrete GPU.
func TestStaged(t *testing.T) {
	b := openAnother(t, Options{staged: true, BatchCommands: 7})
	if b.mem.unified() {
		t.Fatal("staged backend maps its tensors")
	}
	backendtest.Run(t, b, map[tensor.DType]backendtest.Tolerances{tensor.Float32: Float32Tol})
	checkMessages(t, b)
}

// TestBatchingAndBarriers checks results across many small batches, and
// that independent commands are recorded without barriers between them
// while dependent ones get one each.
func TestBatchingAndBarriers(t *testing.T) {
	b := testBackend(t)
	cpu := tensor.CPU()
	xv := randn(4, 1000)
	x, cx := tensor.FromFloat32(b, xv, 1000), tensor.FromFloat32(cpu, xv, 1000)
	// A dependent chain longer than several batches.
	for i := range 2000 {
		x = tensor.Shift(tensor.Scale(x, 0.999), float64(i%3)*1e-3)
		cx = tensor.Shift(tensor.Scale(cx, 0.999), float64(i%3)*1e-3)
	}
	closeTo(t, "chain", x.Float32s(), cx.Float32s(), 1e-5)

	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	before, submits := b.rec.barriers, b.rec.submits
	b.mu.Unlock()
	ins := make([]*tensor.Tensor, 16)
	for i := range ins {
		ins[i] = tensor.FromFloat32(b, randn(uint64(i), 256), 256)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	before = b.rec.barriers
	b.mu.Unlock()
	for _, in := range ins {
		tensor.Exp(in) // independent: no barrier needed
	}
	b.mu.Lock()
	independent := b.rec.barriers - before
	b.mu.Unlock()
	y := ins[0]
	for range 10 {
		y = tensor.Exp(tensor.Neg(y)) // each reads the previous result
	}
	b.mu.Lock()
	dependent := b.rec.barriers - before - independent
	b.mu.Unlock()
	if independent != 0 || dependent != 19 {
		t.Errorf("barriers: %d among independent commands (want 0), %d in a chain of 20 (want 19: the first reads a finished input)", independent, dependent)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	if b.rec.submits == submits {
		t.Error("Sync submitted nothing")
	}
	b.mu.Unlock()
}

// TestUploadAfterUse overwrites a buffer that a recorded, not yet
// submitted command reads: the command must see the old contents.
func TestUploadAfterUse(t *testing.T) {
	b := testBackend(t)
	x := tensor.FromFloat32(b, []float32{1, 2, 3}, 3)
	y := tensor.Scale(x, 2)
	b.Upload(x.Buffer(), []float32{10, 20, 30})
	closeTo(t, "command recorded before the upload", y.Float32s(), []float32{2, 4, 6}, 0)
	closeTo(t, "uploaded", tensor.Scale(x, 2).Float32s(), []float32{20, 40, 60}, 0)
}

// TestRecycling allocates far more device memory than stays live: the
// buffers of collected tensors must come back to the pool.
func TestRecycling(t *testing.T) {
	b := testBackend(t)
	const n = 1 << 18 // 1 MiB
	x := tensor.FromFloat32(b, randn(5, n), n)
	for range 600 { // 600 MiB allocated in all
		x = tensor.Scale(tensor.Shift(x, 1), 0.5)
	}
	x.Float32s()
	runtime.GC()
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	reserved := b.mem.reserved
	b.mu.Unlock()
	if reserved > 400<<20 {
		t.Errorf("%d MiB of device memory reserved for a loop with 2 MiB live", reserved>>20)
	}
}

// TestReductionsLong covers the workgroup-per-row reductions with rows far
// longer than a workgroup, NaNs, ties and an empty sum.
func TestReductionsLong(t *testing.T) {
	b := testBackend(t)
	cpu := tensor.CPUReference()
	v := randn(6, 3*5000)
	v[7] = float32(math.NaN()) // row 0: NaN wins max and argmax
	v[5000+11] = 10            // row 1: ties at 11 and 4000, first wins
	v[5000+4000] = 10          //
	v[2*5000+4999] = -100      // row 2: min at the end
	for axis, shape := range [][]int{{3, 5000}, {5000, 3}} {
		xv := v
		if axis == 1 {
			xv = make([]float32, len(v)) // transposed layout: the axis is the outer one
			for i := range 3 {
				for j := range 5000 {
					xv[j*3+i] = v[i*5000+j]
				}
			}
		}
		g, c := tensor.FromFloat32(b, xv, shape...), tensor.FromFloat32(cpu, xv, shape...)
		ax := 1 - axis
		for _, op := range []tensor.ReduceOp{tensor.ReduceSum, tensor.ReduceMax, tensor.ReduceMin, tensor.ReduceLogSumExp, tensor.ReduceArgMax} {
			closeTo(t, fmt.Sprintf("%v of %v along %d", op, shape, ax), tensor.Reduce(op, g, ax, false).Float32s(), tensor.Reduce(op, c, ax, false).Float32s(), 1e-5)
		}
		closeTo(t, fmt.Sprintf("softmax of %v along %d", shape, ax), tensor.Softmax(g, ax).Float32s(), tensor.Softmax(c, ax).Float32s(), 1e-5)
	}
	empty := tensor.Sum(tensor.New(b, tensor.Float32, 4, 0), 1, false)
	closeTo(t, "empty sum", empty.Float32s(), []float32{0, 0, 0, 0}, 0)
}

// TestHighRank broadcasts views of rank 8, which the kernels take in
// several dispatches of at most six dimensions.
func TestHighRank(t *testing.T) {
	b := testBackend(t)
	cpu := tensor.CPU()
	sa := []int{2, 1, 3, 2, 1, 3, 2, 5}
	sb := []int{1, 2, 1, 2, 3, 1, 2, 1}
	av, bv := randn(7, 360), randn(8, 24)
	ga, gb := tensor.FromFloat32(b, av, sa...).Permute(7, 1, 2, 3, 4, 5, 6, 0), tensor.FromFloat32(b, bv, sb...)
	ca, cb := tensor.FromFloat32(cpu, av, sa...).Permute(7, 1, 2, 3, 4, 5, 6, 0), tensor.FromFloat32(cpu, bv, sb...)
	closeTo(t, "rank-8 broadcast", tensor.Mul(ga, gb).Float32s(), tensor.Mul(ca, cb).Float32s(), 0)
	closeTo(t, "rank-8 copy", ga.Contiguous().Float32s(), ca.Contiguous().Float32s(), 0)
	closeTo(t, "rank-8 reduce", tensor.Sum(ga, 3, false).Float32s(), tensor.Sum(ca, 3, false).Float32s(), 1e-6)
}

// TestRandomOffsets draws into views that do not start at element 0 and
// lengths that are not multiples of four.
func TestRandomOffsets(t *testing.T) {
	b := testBackend(t)
	x := tensor.Zeros(b, tensor.Float32, 23)
	b.RandUniform(x.Slice(0, 3, 16), 9, 2)
	want := make([]float32, 13)
	philox.Uniform32(9, 2, want)
	got := x.Float32s()
	closeTo(t, "uniforms", got[3:16], want, 0)
	closeTo(t, "untouched", append(got[:3:3], got[16:]...), make([]float32, 10), 0)
}
