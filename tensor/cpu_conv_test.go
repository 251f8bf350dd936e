package tensor_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/difftune/difftune/tensor"
)

// TestCPUConvBlocks checks the float32 convolutions of the fast CPU backend,
// which unfold blocks of output positions per worker, against the composed
// ones of the reference backend, with blocks small enough that images are
// cut into several (of unequal sizes) and the weight gradient's blocks run
// across images, and with the default blocks; stride 1 with and without
// the width kept (the shifted copies of unfoldPlane), stride 2, 1×1 and
// non-square kernels, padding wider than the kernel; and the stride-1
// "same" convolutions both as shifted taps (cpu_conv_taps.go: images
// narrower than the padding, a single row or column; whole images, bands
// of one row and of a few) and blockwise.
func TestCPUConvBlocks(t *testing.T) {
	type tc struct{ n, c, h, w, kh, kw, stride, pad, out int }
	cases := []tc{
		{3, 3, 17, 13, 3, 3, 1, 1, 6},
		{5, 2, 19, 21, 3, 3, 2, 1, 35},
		{2, 4, 12, 12, 1, 1, 1, 0, 3},
		{7, 5, 9, 11, 3, 3, 1, 0, 4},
		{2, 3, 10, 7, 5, 5, 1, 2, 4},
		{2, 2, 5, 6, 1, 3, 1, 1, 3},
		{3, 2, 6, 5, 3, 1, 1, 2, 3},
		{2, 3, 4, 1, 3, 3, 1, 1, 5},
		{3, 2, 2, 2, 5, 5, 1, 2, 3},
		{2, 7, 1, 9, 3, 3, 1, 1, 17},
		{4, 33, 7, 7, 3, 3, 1, 1, 20},
		{2, 16, 28, 28, 3, 3, 1, 1, 16},
		{3, 3, 8, 6, 3, 3, 2, 1, 7},
		{2, 5, 14, 14, 3, 3, 2, 1, 9},
		{2, 2, 2, 2, 3, 3, 2, 1, 3},
		{3, 33, 28, 28, 3, 3, 2, 1, 6},
		{2, 3, 8, 6, 4, 4, 2, 1, 5},
		{3, 16, 14, 14, 4, 4, 2, 1, 8},
		{2, 2, 2, 2, 4, 4, 2, 1, 3},
	}
	for _, setting := range []struct{ scratch, taps, band int }{{0, 1 << 30, 0}, {1 << 17, 1 << 30, 0}, {1 << 17, 1, 192 << 10}, {1 << 17, 1, 1}, {1 << 17, 1, 3000}} {
		restore := tensor.SetConvScratch(setting.scratch)
		restoreTaps := tensor.SetConvTapsMinImages(setting.taps)
		restoreBand := tensor.SetConvTapBand(setting.band)
		scratch := setting.scratch
		for _, c := range cases {
			g := tensor.NewConvGeom(c.n, c.c, c.h, c.w, c.kh, c.kw, c.stride, c.pad)
			name := fmt.Sprintf("scratch %d, taps from %d images, bands of %d bytes: %+v", scratch, setting.taps, setting.band, c)
			fast, ref := tensor.CPU(), tensor.CPUReference()
			x := tensor.RandNormal(fast, tensor.Float32, 1, 1, g.N, g.C, g.H, g.W)
			w := tensor.RandNormal(fast, tensor.Float32, 1, 2, c.out, g.C*g.KH*g.KW)
			bias := tensor.RandNormal(fast, tensor.Float32, 1, 3, c.out)
			dy := tensor.RandNormal(fast, tensor.Float32, 1, 4, g.N, c.out, g.OutH, g.OutW)
			on := func(b tensor.Backend, t *tensor.Tensor) *tensor.Tensor {
				return tensor.FromFloat32(b, t.Float32s(), t.Shape()...)
			}
			xr, wr, br, dyr := on(ref, x), on(ref, w), on(ref, bias), on(ref, dy)
			y, cols := tensor.Conv2dPatches(x, w, bias, g)
			if cols != nil {
				t.Errorf("%s: the fast backend unfolded the whole batch", name)
			}
			k := g.C * g.KH * g.KW
			closeTo(t, name+" conv2d", y, tensor.Conv2d(xr, wr, br, g), k)
			closeTo(t, name+" grad input", tensor.Conv2dGradInput(dy, w, g), tensor.Conv2dGradInput(dyr, wr, g), c.out*g.KH*g.KW)
			closeTo(t, name+" grad weight", tensor.Conv2dGradWeight(dy, x, g), tensor.Conv2dGradWeight(dyr, xr, g), g.N*g.OutH*g.OutW)
		}
		restoreBand()
		restoreTaps()
		restore()
	}
}

// TestCPUConvEmptyBatch checks that the weight gradient of an empty batch
// is zero.
func TestCPUConvEmptyBatch(t *testing.T) {
	tensor.SetPoisonAllocs(true)
	defer tensor.SetPoisonAllocs(false)
	g := tensor.NewConvGeom(0, 2, 5, 5, 3, 3, 1, 1)
	x := tensor.Zeros(tensor.CPU(), tensor.Float32, 0, 2, 5, 5)
	dy := tensor.Zeros(tensor.CPU(), tensor.Float32, 0, 3, 5, 5)
	for i, v := range tensor.Conv2dGradWeight(dy, x, g).Float32s() {
		if v != 0 {
			t.Fatalf("dw[%d] = %g, want 0", i, v)
		}
	}
}

// closeTo checks got against want, sums of k float32 products each.
func closeTo(t *testing.T, name string, got, want *tensor.Tensor, k int) {
	t.Helper()
	g, w := got.Float32s(), want.Float32s()
	if len(g) != len(w) {
		t.Fatalf("%s: %d values, want %d", name, len(g), len(w))
	}
	tol := 1e-5 * math.Sqrt(float64(k+1))
	for i := range g {
		if d := math.Abs(float64(g[i] - w[i])); !(d <= tol*(1+math.Abs(float64(w[i])))) {
			t.Fatalf("%s: [%d] = %g, want %g", name, i, g[i], w[i])
		}
	}
}

// TestTranspose checks the CPU backend's transpose on shapes with and
// without whole groups of four rows and blocks of columns.
func TestTranspose(t *testing.T) {
	for _, sh := range [][2]int{{1, 1}, {4, 64}, {5, 3}, {16, 784}, {7, 130}, {3, 65}} {
		r, c := sh[0], sh[1]
		src := make([]float32, r*c)
		for i := range src {
			src[i] = float32(i)
		}
		dst := make([]float32, r*c)
		tensor.Transpose(dst, src, r, c)
		for i := range r {
			for j := range c {
				if dst[j*r+i] != src[i*c+j] {
					t.Fatalf("%v: dst[%d][%d] = %g, want %g", sh, j, i, dst[j*r+i], src[i*c+j])
				}
			}
		}
	}
}

// TestCPUConvGradWeightDeterministic checks that the weight gradient, a
// sum of the workers' partial sums, is the same to the bit from call to
// call, blockwise and as taps (the partial sums are added in a fixed
// order, not as the workers finish).
func TestCPUConvGradWeightDeterministic(t *testing.T) {
	g := tensor.NewConvGeom(24, 5, 9, 9, 3, 3, 1, 1)
	x := tensor.RandNormal(tensor.CPU(), tensor.Float32, 1, 1, g.N, g.C, g.H, g.W)
	dy := tensor.RandNormal(tensor.CPU(), tensor.Float32, 1, 2, g.N, 7, g.OutH, g.OutW)
	for _, taps := range []int{1 << 30, 1} {
		restore := tensor.SetConvTapsMinImages(taps)
		restoreScratch := tensor.SetConvScratch(0) // the smallest blocks: many partial sums
		want := tensor.Conv2dGradWeight(dy, x, g).Float32s()
		for i := range 30 {
			got := tensor.Conv2dGradWeight(dy, x, g).Float32s()
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("taps from %d images, call %d: dw[%d] = %g, first call %g", taps, i, j, got[j], want[j])
				}
			}
		}
		restoreScratch()
		restore()
	}
}

// TestDeinterleave checks the even/odd split of the stride-2 convolutions
// and its inverse on lengths with and without whole vectors and tails.
func TestDeinterleave(t *testing.T) {
	for _, n := range []int{0, 1, 7, 14, 15, 16, 17, 31, 32, 40} {
		src := make([]float32, 2*n+1) // one past the end, which must stay
		for i := range src {
			src[i] = float32(i)
		}
		even, odd := make([]float32, n+1), make([]float32, n+1)
		even[n], odd[n] = -1, -1
		tensor.Deinterleave(even[:n], odd[:n], src[:2*n])
		for j := range n {
			if even[j] != float32(2*j) || odd[j] != float32(2*j+1) {
				t.Fatalf("n = %d: even[%d], odd[%d] = %g, %g", n, j, j, even[j], odd[j])
			}
		}
		if even[n] != -1 || odd[n] != -1 {
			t.Fatalf("n = %d: wrote past the end", n)
		}
		dst := make([]float32, 2*n+1)
		dst[2*n] = -1
		tensor.Interleave(dst[:2*n], even[:n], odd[:n])
		for i := range 2 * n {
			if dst[i] != float32(i) {
				t.Fatalf("n = %d: interleaved [%d] = %g", n, i, dst[i])
			}
		}
		if dst[2*n] != -1 {
			t.Fatalf("n = %d: interleave wrote past the end", n)
		}
	}
}
