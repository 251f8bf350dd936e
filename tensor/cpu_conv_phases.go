package tensor

import "github.com/difftune/difftune/tensor/internal/gemm"

// The convolutions of stride 2 and pad 1 with a 3×3 or 4×4 kernel on an
// image of even height and width (the UNet's downsampling convolutions and
// its transposed convolutions, whose forward pass is such a convolution's
// input gradient) run as shifted taps too, of the image's four phases
// P_ab[i, j] = x[2i + a, 2j + b], each as large as the output. Tap (ky, kx)
// of output (oy, ox) reads x[2oy + ky − 1, 2ox + kx − 1] = P_ab[oy + di,
// ox + dj] with (a, di) = phaseOf(ky − 1) and (b, dj) = phaseOf(kx − 1):
// shifts di, dj in {−1, 0} for 3×3 and {−1, 0, 1} for 4×4. As for stride
// 1, copy kx of channel ch (phasePlanes) holds the planes of phases (0, b)
// and (1, b), each between zero rows (and a value) that the vertical
// shifts find, with its last column zeroed where dj = −1 and its first
// where dj = 1: the columns a read that wraps around a row's end finds.
// The copies hold 1.5 (3×3) or 2 (4×4) images, where the unfolded patches
// were 2.25 or 4.
//
// The input gradient gathers, for each phase of dx, the taps of that phase:
// dP_ab[c, i, j] = Σ_s w_sᵀ·dy[·, i − di, j − dj] (1, 2 or 4 taps for 3×3,
// 4 for 4×4), a shifted-taps product with dy copied three times (plain, and
// with the last or the first column zeroed), and the rows of dx are
// interleaved from the planes of phases (a, 0) and (a, 1).

// convPhases reports whether the convolutions of g run on phases: stride
// 2, pad 1, a 3×3 or 4×4 kernel, an even image whose output is half its
// size, at least an image per worker.
func convPhases(g ConvGeom) bool {
	return g.Stride == 2 && g.Pad == 1 && g.KH == g.KW && (g.KH == 3 || g.KH == 4) &&
		g.H%2 == 0 && g.W%2 == 0 && g.OutH == g.H/2 && g.OutW == g.W/2 && convTapsImages(g)
}

// phaseOf returns d mod 2 and ⌊d/2⌋.
func phaseOf(d int) (p, shift int) { return d & 1, d >> 1 }

// phasePlane is the layout of one plane of an output's size in the phase
// copies: the plane at base, after a zero row and value, before another;
// sub values in all.
func phasePlane(g ConvGeom) (base, sub int) {
	return g.OutW + 1, (g.OutH+2)*g.OutW + 2
}

// newPhaseLayout returns the layout of phasePlanes for images of c
// channels (whole images).
func newPhaseLayout(g ConvGeom, c int) tapLayout {
	base, sub := phasePlane(g)
	l := tapLayout{c: c, rows: g.OutH, stride: max(2*sub, gemm.TapsSlack), phases: true}
	l.size = (g.KW*c+tapRowsSlack)*l.stride + gemm.TapsSlack
	l.offs = make([]int, g.KH*g.KW)
	for ky := range g.KH {
		a, di := phaseOf(ky - g.Pad)
		for kx := range g.KW {
			_, dj := phaseOf(kx - g.Pad)
			l.offs[ky*g.KW+kx] = kx*c*l.stride + a*sub + base + di*g.OutW + dj
		}
	}
	return l
}

// phasePlanes writes the phase copies of the image img ([c, h, w]) into dst
// as newPhaseLayout lays them out; the room after the planes keeps
// whatever it held. Copies 1 and 2 (dj = 0, pad 1) take the even and the
// odd columns of each image row in one pass; the others are copied from
// them, their wrapped column zeroed.
func phasePlanes(dst, img []float32, g ConvGeom, l tapLayout) {
	oh, ow, hw := g.OutH, g.OutW, g.H*g.W
	base, sub := phasePlane(g)
	for ch := range l.c {
		region := func(kx int) []float32 { return dst[(kx*l.c+ch)*l.stride:][:l.stride] }
		for a := range 2 {
			for kx := range g.KW {
				p := region(kx)[a*sub:][:sub]
				clear(p[:base])
				clear(p[base+oh*ow:])
			}
			even, odd := region(1)[a*sub+base:][:oh*ow], region(2)[a*sub+base:][:oh*ow]
			for i := range oh {
				e, o := even[i*ow:][:ow], odd[i*ow:][:ow]
				deinterleave(e, o, img[ch*hw+(2*i+a)*g.W:][:2*ow])
			}
			for kx := range g.KW {
				b, dj := phaseOf(kx - g.Pad)
				if dj == 0 {
					continue
				}
				src := even
				if b == 1 {
					src = odd
				}
				p := region(kx)[a*sub+base:][:oh*ow]
				copy(p, src)
				zeroColumn(p, ow, dj)
			}
		}
		for kx := range g.KW {
			clear(region(kx)[2*sub:])
		}
	}
}

// zeroColumn zeroes the last column of the rows of ow values in p where
// d < 0, the first where d > 0.
func zeroColumn(p []float32, ow, d int) {
	j := 0
	if d < 0 {
		j = ow - 1
	}
	for ; j < len(p); j += ow {
		p[j] = 0
	}
}

// conv2dGradInputPhases is Conv2dGradInput for convPhases(g): see the top
// of this file.
func conv2dGradInputPhases(dxs, dys, ws []float32, out int, g ConvGeom) {
	taps, hw, oh, ow := g.KH*g.KW, g.H*g.W, g.OutH, g.OutW
	ohw := oh * ow
	base, sub := phasePlane(g)
	stride := max(sub, gemm.TapsSlack)
	size := (3*out+tapRowsSlack)*stride + gemm.TapsSlack
	// Phase ab's taps s, A = [c, taps·out] (tap t's block w_sᵀ), and the
	// offsets of dy shifted by (−di, −dj) in copy 1 − dj.
	var as [4]*gemm.TapsA
	var offs [4][]int
	for ab := range 4 {
		var sel []int
		for ky := range g.KH {
			for kx := range g.KW {
				a, di := phaseOf(ky - g.Pad)
				b, dj := phaseOf(kx - g.Pad)
				if a != ab>>1 || b != ab&1 {
					continue
				}
				sel = append(sel, ky*g.KW+kx)
				offs[ab] = append(offs[ab], (1-dj)*out*stride+base-di*ow-dj)
			}
		}
		k := len(sel) * out
		wt, wh := getConvScratch(g.C * k) // every value written below
		for t, st := range sel {
			for o := range out {
				for ch := range g.C {
					wt[ch*k+t*out+o] = ws[(o*g.C+ch)*taps+st]
				}
			}
		}
		as[ab] = gemm.PackTaps(g.C, k, wt, k, nil)
		putConvScratch(wh)
	}
	parallelFor(g.N, 1, func(lo, hi int) {
		buf, h := getConvScratch(size + 2*g.C*ohw)
		defer putConvScratch(h)
		planes, dp := buf[:size], buf[size:size+2*g.C*ohw]
		for n := lo; n < hi; n++ {
			// Copy cp of dy[n], read by the taps of dj = 1 − cp: its
			// last column zeroed for cp = 0 (reads at j − 1), its first
			// for cp = 2 (reads at j + 1).
			for cp := range 3 {
				for o := range out {
					p := planes[(cp*out+o)*stride:][:stride]
					clear(p[:base])
					copy(p[base:base+ohw], dys[(n*out+o)*ohw:][:ohw])
					clear(p[base+ohw:])
					if cp != 1 {
						zeroColumn(p[base:base+ohw], ow, cp-1)
					}
				}
			}
			for a := range 2 {
				gemm.SgemmTaps(as[2*a], ohw, out, planes, stride, offs[2*a], 0, dp[:g.C*ohw], ohw)
				gemm.SgemmTaps(as[2*a+1], ohw, out, planes, stride, offs[2*a+1], 0, dp[g.C*ohw:], ohw)
				for ch := range g.C {
					for i := range oh {
						even, odd := dp[ch*ohw+i*ow:][:ow], dp[(g.C+ch)*ohw+i*ow:][:ow]
						interleave(dxs[(n*g.C+ch)*hw+(2*i+a)*g.W:][:2*ow], even, odd)
					}
				}
			}
		}
	})
}
