package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSgemmTaps checks SgemmTaps against the sum of products computed in
// float64, on every implementation, with edge tiles in both dimensions,
// overlapping taps (B_s that share rows, as a convolution's shifts do),
// beta 0 (C poisoned with NaN) and 1, and strides wider than the matrices.
func TestSgemmTaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, im := range implementations() {
		for _, sh := range [][4]int{{1, 1, 1, 1}, {6, 16, 4, 9}, {7, 17, 3, 9}, {16, 784, 16, 9}, {13, 49, 21, 5}, {5, 130, 1, 1}, {33, 70, 8, 3}, {2, 3, 0, 9}} {
			for _, beta := range []float32{0, 1} {
				m, n, k, taps := sh[0], sh[1], sh[2], sh[3]
				name := fmt.Sprintf("%s %v beta %g", im.name, sh, beta)
				lda := max(1, taps*k) + rng.IntN(3)
				a := make([]float32, max(0, (m-1)*lda+taps*k))
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				ldb := max(TapsSlack, n+rng.IntN(5))
				offs := make([]int, taps)
				for s := range offs {
					offs[s] = rng.IntN(2 * ldb)
				}
				b := make([]float32, 2*ldb+max(0, k-1)*ldb+n+TapsSlack)
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				var bias []float32 // about half the cases with a row bias
				if rng.IntN(2) == 0 {
					bias = make([]float32, m)
					for i := range bias {
						bias[i] = float32(rng.NormFloat64())
					}
				}
				ldc := n + rng.IntN(3)
				c0 := make([]float32, (m-1)*ldc+n)
				for i := range c0 {
					c0[i] = float32(rng.NormFloat64())
				}
				c := make([]float32, len(c0))
				for _, f := range []func(){
					func() { SgemmTaps(PackTaps(m, taps*k, a, lda, bias), n, k, b, ldb, offs, beta, c, ldc) }, // the active one
					func() { SgemmTaps(packTaps(im, m, 1, taps*k, a, 0, lda, 1, 0, bias), n, k, b, ldb, offs, beta, c, ldc) },
					func() { SgemmTaps(packTaps(im, m, taps, k, a, 0, lda, 1, k, bias), n, k, b, ldb, offs, beta, c, ldc) }, // as taps
				} {
					copy(c, c0)
					if beta == 0 {
						fill(c, float32(math.NaN()))
					}
					f()
					checkTaps(t, name, m, n, k, a, lda, b, ldb, offs, beta, bias, c0, c, ldc)
				}
			}
		}
	}
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

// checkTaps checks c (row stride ldc) against beta·c0 + Σ_s A_s·B_s + bias
// computed in float64 (a nil bias is 0).
func checkTaps(t *testing.T, name string, m, n, k int, a []float32, lda int, b []float32, ldb int, offs []int, beta float32, bias, c0, c []float32, ldc int) {
	t.Helper()
	for i := range m {
		for j := range n {
			want := 0.0
			if beta == 1 {
				want = float64(c0[i*ldc+j])
			}
			if bias != nil {
				want += float64(bias[i])
			}
			bound := math.Abs(want)
			for s, off := range offs {
				for p := range k {
					v := float64(a[i*lda+s*k+p]) * float64(b[off+p*ldb+j])
					want += v
					bound += math.Abs(v)
				}
			}
			if got := float64(c[i*ldc+j]); !(math.Abs(got-want) <= 1e-5*(1+bound)) {
				t.Fatalf("%s: C[%d][%d] = %g, want %g", name, i, j, got, want)
			}
		}
	}
}

// TestPackTapsStrided checks PackTapsStrided against PackTaps of the matrix
// laid out explicitly, for a convolution's kernels [out, c·taps] read as
// they are (A(o, s·c + ch) = w[o·c·taps + ch·taps + s]) and flipped for its
// input gradient (A(ch, s·out + o) = w[o·c·taps + ch·taps + taps−1−s]),
// with sizes that leave partial panels and the parallel path.
func TestPackTapsStrided(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sh := range [][3]int{{1, 1, 1}, {5, 3, 9}, {13, 7, 9}, {128, 128, 9}, {64, 32, 16}} {
		out, c, taps := sh[0], sh[1], sh[2]
		w := make([]float32, out*c*taps)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		bias := w[:out]
		for _, flip := range []bool{false, true} {
			m, k := out, c
			if flip {
				m, k = c, out
			}
			a := make([]float32, m*taps*k)
			for o := range out {
				for ch := range c {
					for s := range taps {
						if flip {
							a[ch*taps*out+(taps-1-s)*out+o] = w[(o*c+ch)*taps+s]
						} else {
							a[o*taps*c+s*c+ch] = w[(o*c+ch)*taps+s]
						}
					}
				}
			}
			want := PackTaps(m, taps*k, a, taps*k, bias[:min(m, out)])
			var got *TapsA
			if flip {
				got = PackTapsStrided(m, taps, k, w, taps-1, taps, c*taps, -1, bias[:min(m, out)])
			} else {
				got = PackTapsStrided(m, taps, k, w, 0, c*taps, taps, 1, bias)
			}
			if !slices.Equal(got.data, want.data) || !slices.Equal(got.bias, want.bias) || got.m != want.m || got.width != want.width {
				t.Errorf("%v flip %v: PackTapsStrided differs from PackTaps of the laid-out kernels", sh, flip)
			}
		}
	}
}

// TestSgemmTapsPanics checks the argument checks of SgemmTaps.
func TestSgemmTapsPanics(t *testing.T) {
	x := make([]float32, 400)
	checkPanics(t, []panicCase{
		{"negative k", func() { SgemmTaps(PackTaps(2, 2, x, 2, nil), 2, -1, x, 32, []int{0}, 0, x, 2) }},
		{"k against A", func() { SgemmTaps(PackTaps(2, 4, x, 4, nil), 2, 3, x, 32, []int{0}, 0, x, 2) }},
		{"beta", func() { SgemmTaps(PackTaps(2, 2, x, 2, nil), 2, 2, x, 32, []int{0}, 0.5, x, 2) }},
		{"small ldb", func() { SgemmTaps(PackTaps(2, 2, x, 2, nil), 2, 2, x, 16, []int{0}, 0, x, 2) }},
		{"no slack", func() { SgemmTaps(PackTaps(2, 2, x, 2, nil), 2, 2, x[:40], 32, []int{0}, 0, x, 2) }},
		{"negative offset", func() { SgemmTaps(PackTaps(2, 2, x, 2, nil), 2, 2, x, 32, []int{-1}, 0, x, 2) }},
		{"short a", func() { PackTaps(2, 4, x[:5], 4, nil) }},
		{"short bias", func() { PackTaps(2, 2, x, 2, x[:1]) }},
		{"strided past the end", func() { PackTapsStrided(2, 3, 4, x[:20], 0, 12, 1, 4, nil) }},
		{"strided before the start", func() { PackTapsStrided(2, 3, 4, x, 1, 12, 1, -1, nil) }},
		{"strided negative taps", func() { PackTapsStrided(2, -1, 4, x, 0, 12, 1, 4, nil) }},
		{"short c", func() { SgemmTaps(PackTaps(2, 2, x, 2, nil), 4, 2, x, 32, []int{0}, 0, x[:5], 4) }},
	})
}
