package tensor

import (
	"runtime"
	"sync"

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
// So kw copies of an image (kw·c planes, tapPlanes) replace the kh·kw·c
// rows of its patches. The input gradient of such a convolution is one too
// (the channels swapped, the kernel flipped: δ_{taps−1−s} = −δ_s), and the
// weight gradient is one GEMM per tap with A the shifted copies read in
// place. Each worker takes whole images.

// convTapsMinImages, if positive, replaces GOMAXPROCS as the fewest images
// for which convTaps holds (a test hook: see export_conv_test.go).
var convTapsMinImages = 0

// convTaps reports whether the convolutions of g run as shifted taps: stride
// 1, an output as large as the image, and at least an image per worker
// (fewer run blockwise, cpu_conv.go, with the products threaded).
func convTaps(g ConvGeom) bool {
	minImages := convTapsMinImages
	if minImages <= 0 {
		minImages = runtime.GOMAXPROCS(0)
	}
	return g.Stride == 1 && g.OutH == g.H && g.OutW == g.W && g.N >= max(minImages, 1)
}

// tapLayout is where tapPlanes writes the kw shifted copies of an image of
// c channels: copy kx of channel ch at (kx·c + ch)·stride, its pixel (y, x)
// at base + y·w + x, zeros around; offs[s] is where B_s of tap s begins.
// After the planes, size leaves room that the GEMMs may read and never
// use: gemm.TapsSlack values past a row of B_s, and tapRowsSlack planes
// past the last channel of a copy read as A (gemm reads the last, partial
// micro-panel of rows in place when the slice holds all its rows).
type tapLayout struct {
	c, stride, base, size int
	offs                  []int
}

// tapRowsSlack is at least the micro-kernels' largest row count less one.
const tapRowsSlack = 8

func newTapLayout(g ConvGeom, c int) tapLayout {
	base := g.Pad*g.W + g.Pad
	l := tapLayout{c: c, base: base, stride: max(g.H*g.W+2*base, gemm.TapsSlack)}
	l.size = (g.KW*c+tapRowsSlack)*l.stride + gemm.TapsSlack
	l.offs = make([]int, g.KH*g.KW)
	for ky := range g.KH {
		for kx := range g.KW {
			l.offs[ky*g.KW+kx] = kx*c*l.stride + base + (ky-g.Pad)*g.W + kx - g.Pad
		}
	}
	return l
}

// tapPlanes writes the shifted copies of img ([c, h, w]) into dst (l.size
// values), as the comment at the top of this file describes; the room
// after the planes keeps whatever it held.
func tapPlanes(dst, img []float32, g ConvGeom, l tapLayout) {
	hw := g.H * g.W
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
			clear(p[:l.base])
			data := p[l.base : l.base+hw]
			copy(data, img[ch*hw:(ch+1)*hw])
			clear(p[l.base+hw:])
			if lo < hi {
				for y := 0; y < hw; y += g.W {
					clear(data[y+lo : y+hi])
				}
			}
		}
	}
}

// tapWeights writes the kernels w [out, c·taps] in the layout of
// gemm.SgemmTaps's A: taps outermost, dst[o][s·c + ch] = w[o][ch·taps + s]
// for the convolution; for its input gradient (flip) the transpose with
// the kernel flipped, dst[ch][s·out + o] = w[o][ch·taps + taps−1−s].
func tapWeights(dst, w []float32, out, c, taps int, flip bool) {
	for o := range out {
		for ch := range c {
			src := w[(o*c+ch)*taps:][:taps]
			for s, v := range src {
				if flip {
					dst[ch*taps*out+(taps-1-s)*out+o] = v
				} else {
					dst[o*taps*c+s*c+ch] = v
				}
			}
		}
	}
}

// conv2dTaps is Conv2d for convTaps(g): per image, y[n] = Σ_s
// w_s·shift_s(x[n]) + bias, the bias added by the micro-kernel.
func conv2dTaps(ys, xs, ws, bs []float32, out int, g ConvGeom) {
	taps, hw := g.KH*g.KW, g.H*g.W
	wt, wh := getConvScratch(out * taps * g.C)
	tapWeights(wt, ws, out, g.C, taps, false)
	a := gemm.PackTaps(out, taps*g.C, wt, taps*g.C, bs)
	putConvScratch(wh)
	l := newTapLayout(g, g.C)
	parallelFor(g.N, 1, func(lo, hi int) {
		buf, h := getConvScratch(l.size)
		defer putConvScratch(h)
		for n := lo; n < hi; n++ {
			tapPlanes(buf, xs[n*g.C*hw:], g, l)
			gemm.SgemmTaps(a, hw, g.C, buf, l.stride, l.offs, 0, ys[n*out*hw:][:out*hw], hw)
		}
	})
}

// conv2dGradInputTaps is Conv2dGradInput for convTaps(g): per image, the
// convolution of dy[n] with the flipped kernels, channels swapped.
func conv2dGradInputTaps(dxs, dys, ws []float32, out int, g ConvGeom) {
	taps, hw := g.KH*g.KW, g.H*g.W
	wt, wh := getConvScratch(g.C * taps * out)
	tapWeights(wt, ws, out, g.C, taps, true)
	a := gemm.PackTaps(g.C, taps*out, wt, taps*out, nil)
	putConvScratch(wh)
	l := newTapLayout(g, out)
	parallelFor(g.N, 1, func(lo, hi int) {
		buf, h := getConvScratch(l.size)
		defer putConvScratch(h)
		for n := lo; n < hi; n++ {
			tapPlanes(buf, dys[n*out*hw:], g, l)
			gemm.SgemmTaps(a, hw, out, buf, l.stride, l.offs, 0, dxs[n*g.C*hw:][:g.C*hw], hw)
		}
	})
}

// conv2dGradWeightTaps is Conv2dGradWeight for convTaps(g): per image and
// tap, dw_sᵀ += shift_s(x[n])·dy[n]ᵀ, with the shifted copies read in place
// as A and dy[n] transposed once as B, each worker into a partial sum of
// its own [taps, c, out]; then the partial sums are added and laid out as
// dw [out, c·taps].
func conv2dGradWeightTaps(dws, dys, xs []float32, out int, g ConvGeom) {
	taps, hw := g.KH*g.KW, g.H*g.W
	l := newTapLayout(g, g.C)
	part := taps * g.C * out
	sum, sh := getConvScratch(part)
	defer putConvScratch(sh)
	clear(sum)
	var mu sync.Mutex
	parallelFor(g.N, 1, func(lo, hi int) {
		if lo >= hi {
			return
		}
		buf, h := getConvScratch(l.size + hw*out + part)
		defer putConvScratch(h)
		planes, dyt, acc := buf[:l.size], buf[l.size:l.size+hw*out], buf[l.size+hw*out:]
		for n := lo; n < hi; n++ {
			tapPlanes(planes, xs[n*g.C*hw:], g, l)
			transpose(dyt, dys[n*out*hw:(n+1)*out*hw], out, hw)
			var beta float32
			if n > lo {
				beta = 1
			}
			for s, off := range l.offs {
				gemm.SgemmSerial(false, false, g.C, out, hw, 1, planes[off:], l.stride, dyt, out, beta, acc[s*g.C*out:(s+1)*g.C*out], out)
			}
		}
		mu.Lock()
		for i, v := range acc {
			sum[i] += v
		}
		mu.Unlock()
	})
	for s := range taps {
		for ch := range g.C {
			for o, v := range sum[(s*g.C+ch)*out:][:out] {
				dws[(o*g.C+ch)*taps+s] = v
			}
		}
	}
}
