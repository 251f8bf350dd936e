package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
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
					func() { SgemmTaps(packTaps(im, m, taps*k, a, lda, bias), n, k, b, ldb, offs, beta, c, ldc) },
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
		{"short c", func() { SgemmTaps(PackTaps(2, 2, x, 2, nil), 4, 2, x, 32, []int{0}, 0, x[:5], 4) }},
	})
}
