package gemm

import (
	"fmt"

	"github.com/difftune/difftune/tensor/internal/workers"
)

// TapsSlack is the number of values SgemmTaps may read past the last one
// of each B_s it uses, and the smallest ldb it accepts: the widest
// micro-tile of any implementation (the kernels read whole tiles of B and
// write only the valid part of C).
const TapsSlack = 32

// tapsBlock is the number of columns of C that SgemmTaps computes against
// one micro-panel of A before it moves to the next: 4 tiles of 16, whose B
// rows (with the shifts of a 3×3 convolution of a 28-wide image) stay in L1.
const tapsBlock = 64

// TapsA is the A operand of [SgemmTaps], packed once for the products of
// many images: an m×(taps·k) row-major matrix whose column block
// [s·k, (s+1)·k) is the A_s of tap s, and a bias per row.
type TapsA struct {
	im       *impl
	m, width int
	data     []float32
	bias     []float32 // nil, or one value per row padded with zeros to whole panels
}

// PackTaps packs the row-major m×width matrix a (row stride lda) and the
// row bias (m values, or nil for none) for [SgemmTaps]. It panics when a
// dimension is negative or a or bias is too short.
func PackTaps(m, width int, a []float32, lda int, bias []float32) *TapsA {
	if m < 0 || width < 0 {
		panic(fmt.Sprintf("gemm: PackTaps with m, width = %d, %d", m, width))
	}
	checkMatrix("A", m, width, a, lda)
	return packTaps(active, m, 1, width, a, 0, lda, 1, 0, bias)
}

// PackTapsStrided packs for [SgemmTaps] the m×(taps·k) matrix A whose
// element (i, s·k + p) is w[off + i·rs + p·ps + s·ss], and the row bias (m
// values, or nil): the kernels of a convolution read where they lie,
// without laying them out first (ss = −1 flips them). It panics when a
// dimension is negative or an element or the bias lies outside its slice.
func PackTapsStrided(m, taps, k int, w []float32, off, rs, ps, ss int, bias []float32) *TapsA {
	if m < 0 || taps < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: PackTapsStrided with m, taps, k = %d, %d, %d", m, taps, k))
	}
	if m > 0 && taps > 0 && k > 0 {
		// The index is affine in (i, p, s): its extremes are at corners.
		lo, hi := off, off
		for _, d := range [3]int{(m - 1) * rs, (k - 1) * ps, (taps - 1) * ss} {
			lo, hi = lo+min(d, 0), hi+max(d, 0)
		}
		if lo < 0 || hi >= len(w) {
			panic(fmt.Sprintf("gemm: PackTapsStrided reads w[%d..%d], len(w) = %d", lo, hi, len(w)))
		}
	}
	return packTaps(active, m, taps, k, w, off, rs, ps, ss, bias)
}

// packMinValues is the size of A above which packTaps packs its panels in
// parallel.
const packMinValues = 1 << 15

func packTaps(im *impl, m, taps, k int, w []float32, off, rs, ps, ss int, bias []float32) *TapsA {
	// mr-row micro-panels in the kernel's layout (the last one's missing
	// rows zero): tap s of panel ip starts at data[ip·mr·width + s·k·mr].
	mr, width := im.mr, taps*k
	rows := (m + mr - 1) / mr * mr
	pa := &TapsA{im: im, m: m, width: width, data: make([]float32, rows*width+pad)}
	if width > 0 {
		span := max(1, packMinValues/(mr*width)) // panels per part
		workers.For(rows/mr, span, Threads()-1, func(lo, hi int) {
			for ip := lo; ip < hi; ip++ {
				panel := pa.data[ip*mr*width : (ip+1)*mr*width]
				for r := range min(mr, m-ip*mr) {
					row := off + (ip*mr+r)*rs
					for s := range taps {
						d, src := panel[s*k*mr+r:], row+s*ss
						for p := range k {
							d[p*mr] = w[src+p*ps]
						}
					}
				}
			}
		})
	}
	if bias != nil {
		if len(bias) < m {
			panic(fmt.Sprintf("gemm: PackTaps: len(bias) = %d < m = %d", len(bias), m))
		}
		pa.bias = make([]float32, rows)
		copy(pa.bias, bias[:m])
	}
	return pa
}

// SgemmTaps computes, on the calling goroutine,
//
//	C = beta·C + Σ_s A_s·B_s + bias   for s < len(offs),
//
// (bias per row, see [PackTaps]) where A_s is the m×k block of columns [s·k, (s+1)·k) of a (m×(len(offs)·k),
// see [PackTaps]) and B_s is the row-major k×n matrix at b[offs[s]:] (row
// stride ldb). The B_s are read in place: they are the taps of a
// convolution whose patches are shifts of one image
// (tensor/cpu_conv_taps.go), multiplied without unfolding them. beta is 0
// or 1 (C is not read when beta is 0 and it may hold NaN).
//
// SgemmTaps panics when n is negative, a is not m×(len(offs)·k), beta is
// neither 0 nor 1, ldb < TapsSlack, or b does not hold TapsSlack values of
// slack past each B_s (offs[s] + (k−1)·ldb + n + TapsSlack ≤ len(b)). C
// must not overlap b. It is safe for concurrent use.
func SgemmTaps(a *TapsA, n, k int, b []float32, ldb int, offs []int, beta float32, c []float32, ldc int) {
	m, taps := a.m, len(offs)
	switch {
	case n < 0 || k < 0 || taps*k != a.width:
		panic(fmt.Sprintf("gemm: SgemmTaps with n, k = %d, %d and %d taps of an A %d wide", n, k, taps, a.width))
	case beta != 0 && beta != 1:
		panic(fmt.Sprintf("gemm: SgemmTaps with beta = %g, want 0 or 1", beta))
	case ldb < TapsSlack:
		panic(fmt.Sprintf("gemm: SgemmTaps with ldb = %d < %d", ldb, TapsSlack))
	}
	if m == 0 || n == 0 {
		return
	}
	checkMatrix("C", m, n, c, ldc)
	if k == 0 || taps == 0 {
		for i := range m {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			}
			if a.bias != nil {
				for j := range row {
					row[j] += a.bias[i]
				}
			}
		}
		return
	}
	for s, off := range offs {
		if off < 0 || off+(k-1)*ldb+n+TapsSlack > len(b) {
			panic(fmt.Sprintf("gemm: SgemmTaps: B_%d at offset %d (k = %d, n = %d, ldb = %d) with slack needs %d values, len(b) = %d",
				s, off, k, n, ldb, off+(k-1)*ldb+n+TapsSlack, len(b)))
		}
	}
	im := a.im
	mr, nr := im.mr, im.nr
	panels := (m + mr - 1) / mr
	for j0 := 0; j0 < n; j0 += tapsBlock {
		j1 := min(j0+tapsBlock, n)
		for ip := range panels {
			i := ip * mr
			panel := a.data[ip*mr*a.width:]
			for j := j0; j < j1; j += nr {
				out := tileOut{c: c[i*ldc+j:], ldc: ldc, add: beta == 1, rows: min(mr, m-i), cols: min(nr, j1-j)}
				if a.bias != nil {
					out.rowBias = a.bias[i : i+mr]
				}
				im.kernelTaps(k, panel, 1, mr, b[j:], ldb, offs, &out)
			}
		}
	}
}

// kernelEachTap is kernelTaps from one kernel call per tap, the tile
// accumulated in C after the first, the row bias added last.
func kernelEachTap(im *impl, kc int, a []float32, rsa, csa int, b []float32, sb int, offs []int, o *tileOut) {
	out := *o
	out.rowBias = nil
	for t, off := range offs {
		if t > 0 {
			out.add = true
		}
		im.kernel(kc, a[t*kc*csa:], rsa, csa, b[off:], sb, &out)
	}
	if o.rowBias != nil {
		for r, v := range o.rowBias[:o.rows] {
			row := o.c[r*o.ldc : r*o.ldc+o.cols]
			for j := range row {
				row[j] += v
			}
		}
	}
}
