package tensor

import (
	"runtime"

	"github.com/difftune/difftune/tensor/internal/gemm"
)

// The stride-1 convolutions that keep the image's size (odd kernels, pad =
// (k−1)/2: the UNet's 3×3 and 1×1 convolutions) run without unfolding
// patches. Tap s = (ky, kx) of output position q = oy·w + ox reads the
// image at q + δ_s, δ_s = (ky−pad)·w + (kx−pad): the patches of a tap are
// the image shifted, and the product with them is a GEMM whose B is the
// image read in place at offset δ_s (gemm.SgemmTaps sums the taps'
// products in one pass over C). Two things make the shifted reads right at
// the borders:
//
//   - rows: each channel plane is stored between pad zero rows (and pad
//     zeros) above and below, so vertical shifts read zeros;
//   - columns: a horizontal shift dx ≠ 0 wraps around a row's end into the
//     neighbouring row. In the copy of the image that the taps of column kx
//     read, the |dx| columns that a wrapped read reaches (the last |dx| when
//     dx < 0, the first dx when dx > 0) are zero, and no read that does not
//     wrap reaches them.
//
// So kw copies of an image (kw·c planes, tapPlanes; for large images, of a
// band of its rows at a time) replace the kh·kw·c rows of its patches. The
// input gradient of such a convolution is one too (the channels swapped,
// the kernel flipped: δ_{taps−1−s} = −δ_s), and the weight gradient is one
// GEMM per tap with A the shifted copies read in place. Each worker takes
// whole images. README "Shifted taps" has the measurements.

// convTapsMinImages, if positive, replaces GOMAXPROCS as the fewest images
// for which convTaps holds (a test hook: see export_conv_test.go).
var convTapsMinImages = 0

// convTaps reports whether the convolutions of g run as shifted taps: stride
// 1, an output as large as the image, and at least an image per worker
// (fewer run blockwise, cpu_conv.go, with the products threaded).
func convTaps(g ConvGeom) bool {
	return g.Stride == 1 && g.OutH == g.H && g.OutW == g.W && convTapsImages(g)
}

// convTapsImages reports whether g has at least an image per worker.
func convTapsImages(g ConvGeom) bool {
	minImages := convTapsMinImages
	if minImages <= 0 {
		minImages = runtime.GOMAXPROCS(0)
	}
	return g.N >= max(minImages, 1)
}

// tapLayout is where tapPlanes writes the kw shifted copies of a band of
// rows of an image of c channels: copy kx of channel ch at (kx·c +
// ch)·stride, the band's pixel (y, x) at base + y·w + x, with the pad rows
// above and below it (image rows, or zeros outside the image) and pad
// zeros around; offs[s] is where B_s of tap s begins. A band holds rows
// output rows (the last band of an image may hold fewer), so that the
// copies stay in L2 (tapBandBytes) while every A panel sweeps them; the
// weight gradient, whose A they are, takes whole images (bands cut its k
// into short products). After the planes, size leaves room that
// the GEMMs may read and never use: gemm.TapsSlack values past a row of
// B_s, and tapRowsSlack planes past the last channel of a copy read as A
// (gemm reads the last, partial micro-panel of rows in place when the
// slice holds all its rows).
type tapLayout struct {
	c, rows, stride, base, size int
	offs                        []int
	phases                      bool // the layout of phasePlanes
}

// write writes the copies of rows [y0, y1) of img into dst: tapPlanes, or
// phasePlanes (whole images).
func (l tapLayout) write(dst, img []float32, g ConvGeom, y0, y1 int) {
	if l.phases {
		phasePlanes(dst, img, g, l)
		return
	}
	tapPlanes(dst, img, g, l, y0, y1)
}

// layoutFor returns the layout of the copies of images of c channels for
// the convolutions of g: shifted copies (banded or whole) or, for stride
// 2, the phases.
func layoutFor(g ConvGeom, c int, banded bool) tapLayout {
	if g.Stride == 2 {
		return newPhaseLayout(g, c)
	}
	return newTapLayout(g, c, banded)
}

// tapRowsSlack is at least the micro-kernels' largest row count less one.
const tapRowsSlack = 8

// tapBandBytes bounds the shifted copies of a band: with the band of the
// output and of its gradient, well inside a 512 KiB L2. (A variable for
// the tests: export_conv_test.go.)
var tapBandBytes = 192 << 10

// newTapLayout returns the layout of the copies of images of c channels,
// in bands of rows (banded) or whole.
func newTapLayout(g ConvGeom, c int, banded bool) tapLayout {
	rows := g.H
	if banded {
		perRow := 4 * g.KW * c * g.W
		rows = min(g.H, max(1, tapBandBytes/perRow-2*g.Pad))
		rows = (g.H + (g.H+rows-1)/rows - 1) / ((g.H + rows - 1) / rows) // near-equal bands
	}
	base := g.Pad*g.W + g.Pad
	l := tapLayout{c: c, rows: rows, base: base, stride: max(rows*g.W+2*base, gemm.TapsSlack)}
	l.size = (g.KW*c+tapRowsSlack)*l.stride + gemm.TapsSlack
	l.offs = make([]int, g.KH*g.KW)
	for ky := range g.KH {
		for kx := range g.KW {
			l.offs[ky*g.KW+kx] = kx*c*l.stride + base + (ky-g.Pad)*g.W + kx - g.Pad
		}
	}
	return l
}

// tapPlanes writes the shifted copies of rows [y0, y1) of img ([c, h, w])
// into dst (l.size values), as the comment at the top of this file
// describes; the room after the planes keeps whatever it held.
func tapPlanes(dst, img []float32, g ConvGeom, l tapLayout, y0, y1 int) {
	hw := g.H * g.W
	// The image rows [r0, r1) of the band and its halo; the halo rows
	// outside the image are zeros.
	r0, r1 := max(y0-g.Pad, 0), min(y1+g.Pad, g.H)
	at := l.base + (r0-y0)*g.W // where row r0 goes
	n := (r1 - r0) * g.W
	for kx := range g.KW {
		// The columns [lo, hi) that a read shifted by dx wraps into.
		lo, hi := 0, 0
		if dx := kx - g.Pad; dx < 0 {
			lo, hi = max(g.W+dx, 0), g.W
		} else if dx > 0 {
			hi = min(dx, g.W)
		}
		for ch := range l.c {
			p := dst[(kx*l.c+ch)*l.stride:][:l.stride]
			clear(p[:at])
			data := p[at : at+n]
			copy(data, img[ch*hw+r0*g.W:][:n])
			clear(p[at+n:])
			if lo < hi {
				for y := 0; y < n; y += g.W {
					clear(data[y+lo : y+hi])
				}
			}
		}
	}
}

// conv2dTaps is Conv2d for convTaps(g) or convPhases(g): per image, y[n] =
// Σ_s w_s·shift_s(x[n]) + bias, the bias added by the micro-kernel. A_s is
// the kernels w [out, c·taps] read at tap s: A(o, s·c + ch) = w[o][ch·taps
// + s].
func conv2dTaps(ys, xs, ws, bs []float32, out int, g ConvGeom) {
	taps := g.KH * g.KW
	a := gemm.PackTapsStrided(out, taps, g.C, ws, 0, g.C*taps, taps, 1, bs)
	tapConvolve(ys, xs, a, g.C, out, g)
}

// conv2dGradInputTaps is Conv2dGradInput for convTaps(g): per image, the
// convolution of dy[n] with the flipped kernels, channels swapped:
// A(ch, s·out + o) = w[o][ch·taps + taps−1−s].
func conv2dGradInputTaps(dxs, dys, ws []float32, out int, g ConvGeom) {
	taps := g.KH * g.KW
	a := gemm.PackTapsStrided(g.C, taps, out, ws, taps-1, taps, g.C*taps, -1, nil)
	tapConvolve(dxs, dys, a, out, g.C, g)
}

// tapConvolve writes dst[n] ([cout, h, w]) = Σ_s A_s·shift_s(src[n]) (plus
// a's bias) for every image src[n] ([cin, h, w]) of the batch of g, band
// by band, each worker taking whole images.
func tapConvolve(dst, src []float32, a *gemm.TapsA, cin, cout int, g ConvGeom) {
	hw, ohw, ow := g.H*g.W, g.OutH*g.OutW, g.OutW
	l := layoutFor(g, cin, true)
	parallelFor(g.N, 1, func(lo, hi int) {
		buf, h := getConvScratch(l.size)
		defer putConvScratch(h)
		for n := lo; n < hi; n++ {
			for y0 := 0; y0 < g.OutH; y0 += l.rows {
				y1 := min(y0+l.rows, g.OutH)
				l.write(buf, src[n*cin*hw:], g, y0, y1)
				band := dst[n*cout*ohw+y0*ow:][:(cout-1)*ohw+(y1-y0)*ow]
				gemm.SgemmTaps(a, (y1-y0)*ow, cin, buf, l.stride, l.offs, 0, band, ohw)
			}
		}
	})
}

// conv2dGradWeightTaps is Conv2dGradWeight for convTaps(g) or
// convPhases(g): per image and
// tap, dw_sᵀ += shift_s(x[n])·dy[n]ᵀ, with the shifted copies read in place
// as A and dy[n] transposed once as B, each chunk of images into a partial
// sum of its own [taps, c, out]; then the partial sums are added in order
// and laid out as dw [out, c·taps].
func conv2dGradWeightTaps(dws, dys, xs []float32, out int, g ConvGeom) {
	taps, hw, ohw, ow := g.KH*g.KW, g.H*g.W, g.OutH*g.OutW, g.OutW
	l := layoutFor(g, g.C, false)
	part := taps * g.C * out
	sum, sh := getConvScratch(part)
	defer putConvScratch(sh)
	var parts partialSums
	parallelFor(g.N, 1, func(lo, hi int) {
		if lo >= hi {
			return
		}
		buf, h := getConvScratch(l.size + ohw*out + part)
		planes, dyt, acc := buf[:l.size], buf[l.size:l.size+ohw*out], buf[l.size+ohw*out:]
		var beta float32
		for n := lo; n < hi; n++ {
			transpose(dyt, dys[n*out*ohw:(n+1)*out*ohw], out, ohw)
			for y0 := 0; y0 < g.OutH; y0 += l.rows {
				y1 := min(y0+l.rows, g.OutH)
				l.write(planes, xs[n*g.C*hw:], g, y0, y1)
				for s, off := range l.offs {
					gemm.SgemmSerial(false, false, g.C, out, (y1-y0)*ow, 1, planes[off:], l.stride, dyt[y0*ow*out:], out, beta, acc[s*g.C*out:(s+1)*g.C*out], out)
				}
				beta = 1
			}
		}
		parts.add(lo, acc, h)
	})
	parts.sumInto(sum)
	for s := range taps {
		for ch := range g.C {
			for o, v := range sum[(s*g.C+ch)*out:][:out] {
				dws[(o*g.C+ch)*taps+s] = v
			}
		}
	}
}
