package tensor

import (
	"math"

	"github.com/difftune/difftune/tensor/philox"
)

func (c *cpuBackend) IndexSelect(dst, src *Tensor, axis int, idx []int) {
	src = src.Contiguous()
	outer, n, inner := AxisGeometry(src.shape, axis)
	switch dst.DType() {
	case Float32:
		indexSelect(host[float32](dst)[dst.offset:], host[float32](src)[src.offset:], outer, n, inner, idx)
	case Float64:
		indexSelect(host[float64](dst)[dst.offset:], host[float64](src)[src.offset:], outer, n, inner, idx)
	}
}

func indexSelect[T number](d, s []T, outer, n, inner int, idx []int) {
	for o := range outer {
		for j, i := range idx {
			copy(d[(o*len(idx)+j)*inner:(o*len(idx)+j+1)*inner], s[(o*n+i)*inner:(o*n+i+1)*inner])
		}
	}
}

func (c *cpuBackend) IndexAdd(dst, src *Tensor, axis int, idx []int) {
	src = src.Contiguous()
	outer, n, inner := AxisGeometry(dst.shape, axis)
	switch dst.DType() {
	case Float32:
		indexAdd(host[float32](dst)[dst.offset:], host[float32](src)[src.offset:], outer, n, inner, idx)
	case Float64:
		indexAdd(host[float64](dst)[dst.offset:], host[float64](src)[src.offset:], outer, n, inner, idx)
	}
}

func indexAdd[T number](d, s []T, outer, n, inner int, idx []int) {
	for o := range outer {
		for j, i := range idx {
			row := d[(o*n+i)*inner : (o*n+i+1)*inner]
			for k, v := range s[(o*len(idx)+j)*inner : (o*len(idx)+j+1)*inner] {
				row[k] += v
			}
		}
	}
}

func (c *cpuBackend) Im2Col(dst, src *Tensor, g ConvGeom) {
	switch dst.DType() {
	case Float32:
		im2col(host[float32](dst)[dst.offset:], host[float32](src)[src.offset:], g, false)
	case Float64:
		im2col(host[float64](dst)[dst.offset:], host[float64](src)[src.offset:], g, false)
	}
}

func (c *cpuBackend) Col2Im(dst, src *Tensor, g ConvGeom) {
	switch dst.DType() {
	case Float32:
		im2col(host[float32](src)[src.offset:], host[float32](dst)[dst.offset:dst.offset+dst.Len()], g, true)
	case Float64:
		im2col(host[float64](src)[src.offset:], host[float64](dst)[dst.offset:dst.offset+dst.Len()], g, true)
	}
}

// im2col copies image patches into columns, or with fold writes the sums of
// the columns back into the image (the adjoint; the image is overwritten).
// cols is [n, c·kh·kw, oh·ow], img [n, c, h, w]. The planes (n, c) are
// independent and run in parallel.
func im2col[T number](cols, img []T, g ConvGeom, fold bool) {
	kk, hw, spatial := g.KH*g.KW, g.H*g.W, g.OutH*g.OutW
	parallelFor(g.N*g.C, 1, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			col, plane := cols[nc*kk*spatial:], img[nc*hw:(nc+1)*hw]
			if fold {
				clear(plane)
				foldPlane(plane, col, spatial, g, 0, spatial, false)
			} else {
				unfoldPlane(col, spatial, plane, g, 0, spatial)
			}
		}
	})
}

// unfoldPlane writes the kh·kw rows of the patches of one image plane (h×w)
// for the output positions [q0, q1) (q = oy·ow + ox): tap (ky, kx) of
// position q goes to cols[(ky·kw + kx)·ldc + q − q0]. Where the convolution
// keeps the width (stride 1, ow = w), a tap's row is the image shifted by
// (ky − pad)·w + kx − pad: one copy, then zeros where the shift wrapped
// around a row's end (convShiftMask); with stride 2, each run is a copy
// from the even or odd values of an image row (unfoldStride2); otherwise
// each output row is a run copied from a row of the image (every stride-th
// value) between zeros for the padding. None tests each element.
func unfoldPlane[T number](cols []T, ldc int, plane []T, g ConvGeom, q0, q1 int) {
	if g.Stride == 2 {
		unfoldStride2(cols, ldc, plane, g, q0, q1)
		return
	}
	for ky := range g.KH {
		for kx := range g.KW {
			row := cols[(ky*g.KW+kx)*ldc:][:q1-q0]
			if convShifts(g) {
				qa, qb, shift := convShiftRange(g, ky, kx, q0, q1)
				clear(row[:qa-q0])
				clear(row[qb-q0:])
				if qa < qb {
					copy(row[qa-q0:qb-q0], plane[qa+shift:qb+shift])
					convShiftMask(row, g, kx, q0, qa, qb)
				}
				continue
			}
			// Output row by output row: the run [oxa, oxb) of row oy,
			// the whole row but for the first and last.
			stride, w, h, ow := g.Stride, g.W, g.H, g.OutW
			ox0, ox1 := convInside(kx, stride, g.Pad, w, ow)
			oy, oxa := q0/ow, q0%ow
			for q := q0; q < q1; oy, oxa = oy+1, 0 {
				oxb := min(ow, oxa+q1-q)
				seg := row[q-q0 : q-q0+oxb-oxa]
				q += oxb - oxa
				iy := oy*stride - g.Pad + ky
				a, b := max(ox0, oxa), min(ox1, oxb)
				if iy < 0 || iy >= h || a >= b {
					clear(seg)
					continue
				}
				if a > oxa {
					clear(seg[:a-oxa])
				}
				if b < oxb {
					clear(seg[b-oxa:])
				}
				src := plane[iy*w+a*stride-g.Pad+kx:]
				dst := seg[a-oxa : b-oxa]
				if stride == 1 {
					copy(dst, src)
					continue
				}
				src = src[:(len(dst)-1)*stride+1]
				for i := range dst {
					dst[i] = src[i*stride]
				}
			}
		}
	}
}

// unfoldStride2 is unfoldPlane for stride 2. Tap kx of output column ox
// reads image column 2ox + kx − pad = 2(ox + s) + p: value ox + s of phase
// p (the even or odd values of the image row), s = ⌊(kx − pad)/2⌋. So each
// image row is split into its two phases once, each between the zeros of
// the padding, and the run of tap (ky, kx) in output row oy is one copy
// from a phase of image row 2oy − pad + ky: the strided gather runs once
// per image value instead of once per tap (9 times for 3×3), and the
// runs need no clearing. (The gather per tap was 40 % of the UNet's
// downsampling convolution.)
func unfoldStride2[T number](cols []T, ldc int, plane []T, g ConvGeom, q0, q1 int) {
	if q0 >= q1 {
		return
	}
	ow := g.OutW
	// A phase row holds the values [lo, ow+hi) of its phase: those that
	// the taps read.
	lo, hi := floorHalf(-g.Pad), floorHalf(g.KW-1-g.Pad)
	width := ow + hi - lo
	var stack [2048]T
	ph := stack[:0]
	if n := 2 * g.H * width; n <= len(stack) {
		ph = stack[:n]
	} else {
		ph = make([]T, n)
	}
	oyFirst, oyLast := q0/ow, (q1-1)/ow
	iy0, iy1 := max(0, 2*oyFirst-g.Pad), min(g.H, 2*oyLast-g.Pad+g.KH)
	for iy := iy0; iy < iy1; iy++ {
		in := plane[iy*g.W : (iy+1)*g.W]
		for p := range 2 {
			row := ph[(2*iy+p)*width:][:width]
			// Index j holds image column 2(lo + j) + p.
			ja := -lo
			jb := max(ja, min(width, floorHalf(g.W-1-p)-lo+1))
			clear(row[:ja])
			clear(row[jb:])
			if ja < jb {
				gather2(row[ja:jb], in[p:p+2*(jb-ja)-1])
			}
		}
	}
	for ky := range g.KH {
		for kx := range g.KW {
			row := cols[(ky*g.KW+kx)*ldc:][:q1-q0]
			d := kx - g.Pad
			p := d & 1
			off := (d-p)/2 - lo
			oy, oxa := oyFirst, q0%ow
			for q := q0; q < q1; oy, oxa = oy+1, 0 {
				oxb := min(ow, oxa+q1-q)
				seg := row[q-q0 : q-q0+oxb-oxa]
				q += oxb - oxa
				iy := 2*oy - g.Pad + ky
				if iy < 0 || iy >= g.H {
					clear(seg)
					continue
				}
				copy(seg, ph[(2*iy+p)*width+off+oxa:])
			}
		}
	}
}

// floorHalf is ⌊x/2⌋.
func floorHalf(x int) int { return x >> 1 }

// gather2 sets dst[i] = src[2i], four at a time; len(src) = 2·len(dst) − 1.
func gather2[T number](dst, src []T) {
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		s := src[2*i : 2*i+7]
		d := dst[i : i+4]
		d[0], d[1], d[2], d[3] = s[0], s[2], s[4], s[6]
	}
	for ; i < len(dst); i++ {
		dst[i] = src[2*i]
	}
}

// deinterleave sets even[j], odd[j] = src[2j], src[2j+1] for j <
// len(even) (len(src) = 2·len(even), len(odd) = len(even)): the columns
// of an image row split into its two phases (cpu_conv_phases.go), on
// vector lanes where the build and the CPU have them (deinterleaveVec).
func deinterleave(even, odd, src []float32) {
	odd, src = odd[:len(even)], src[:2*len(even)]
	for j := deinterleaveVec(even, odd, src); j < len(even); j++ {
		even[j], odd[j] = src[2*j], src[2*j+1]
	}
}

// interleave sets dst[2j], dst[2j+1] = even[j], odd[j] for j < len(even)
// (len(dst) = 2·len(even)): deinterleave's inverse.
func interleave(dst, even, odd []float32) {
	odd, dst = odd[:len(even)], dst[:2*len(even)]
	for j := interleaveVec(dst, even, odd); j < len(even); j++ {
		dst[2*j], dst[2*j+1] = even[j], odd[j]
	}
}

// foldPlane is the adjoint of unfoldPlane: it adds the columns of positions
// [q0, q1) (laid out as unfoldPlane writes them) into the image plane. With
// scratch, the columns may be overwritten: where the convolution keeps the
// width, a tap's row is then added to the shifted image in one pass, after
// zeroing the values that wrapped around (they belong to the padding).
func foldPlane[T number](plane, cols []T, ldc int, g ConvGeom, q0, q1 int, scratch bool) {
	for ky := range g.KH {
		for kx := range g.KW {
			row := cols[(ky*g.KW+kx)*ldc:][:q1-q0]
			if scratch && convShifts(g) {
				qa, qb, shift := convShiftRange(g, ky, kx, q0, q1)
				if qa < qb {
					convShiftMask(row, g, kx, q0, qa, qb)
					addTo(plane[qa+shift:qb+shift], row[qa-q0:qb-q0])
				}
				continue
			}
			ox0, ox1 := convInside(kx, g.Stride, g.Pad, g.W, g.OutW)
			for q := q0; q < q1; {
				oy, oxa := q/g.OutW, q%g.OutW
				oxb := min(g.OutW, oxa+q1-q)
				seg := row[q-q0 : q-q0+oxb-oxa]
				q += oxb - oxa
				iy := oy*g.Stride - g.Pad + ky
				a, b := max(ox0, oxa), min(ox1, oxb)
				if iy < 0 || iy >= g.H || a >= b {
					continue
				}
				src := seg[a-oxa : b-oxa]
				dst := plane[iy*g.W+a*g.Stride-g.Pad+kx:]
				if g.Stride == 1 {
					addTo(dst[:len(src)], src)
					continue
				}
				dst = dst[:(len(src)-1)*g.Stride+1]
				for i, v := range src {
					dst[i*g.Stride] += v
				}
			}
		}
	}
}

// convShifts reports whether the taps of g are shifts of the image: stride
// 1 and an output as wide as the image.
func convShifts(g ConvGeom) bool { return g.Stride == 1 && g.OutW == g.W }

// convShiftRange returns, for tap (ky, kx) of a geometry where convShifts,
// the positions [qa, qb) within [q0, q1) whose tap reads the image at
// q + shift, from rows inside it; the others read the padding. Some of
// [qa, qb) wrapped around a row's end: see convShiftMask.
func convShiftRange(g ConvGeom, ky, kx, q0, q1 int) (qa, qb, shift int) {
	dy, dx := ky-g.Pad, kx-g.Pad
	shift = dy*g.W + dx
	// Rows: 0 ≤ oy + dy < h; and the shifted index inside the plane.
	qa = min(q1, max(q0, max(0, -dy)*g.W, -shift))
	qb = min(q1, min(g.OutH, g.H-dy)*g.W, g.H*g.W-shift)
	qb = max(qa, qb)
	return qa, qb, shift
}

// convShiftMask zeroes row[q − q0] for the positions q in [qa, qb) whose
// tap kx falls outside the image row (ox + kx − pad outside [0, w)): the
// values a shifted copy wrapped around from the neighbouring row.
func convShiftMask[T number](row []T, g ConvGeom, kx, q0, qa, qb int) {
	dx := kx - g.Pad
	lo, hi := 0, g.W // the columns ox to zero: [0, −dx) or [w − dx, w)
	switch {
	case dx < 0:
		hi = min(-dx, g.W)
	case dx > 0:
		lo = max(g.W-dx, 0)
	default:
		return
	}
	for rs := qa / g.W * g.W; rs < qb; rs += g.W {
		for q := max(rs+lo, qa); q < min(rs+hi, qb); q++ {
			row[q-q0] = 0
		}
	}
}

// addTo adds src to dst elementwise (equal lengths).
func addTo[T number](dst, src []T) {
	if vectorBinary(OpAdd, dst, dst, src) {
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// convInside returns the output columns [ox0, ox1) whose tap kx lands inside
// the image row: 0 ≤ ox·stride − pad + kx < w.
func convInside(kx, stride, pad, w, ow int) (ox0, ox1 int) {
	if d := pad - kx; d > 0 {
		ox0 = (d + stride - 1) / stride
	}
	if e := w + pad - kx - 1; e >= 0 {
		ox1 = e/stride + 1
	}
	ox0 = min(ox0, ow)
	return ox0, max(ox0, min(ox1, ow))
}

func (c *cpuBackend) RandNormal(dst *Tensor, seed, draw uint64) {
	switch dst.DType() {
	case Float32:
		philox.Normal32(seed, draw, host[float32](dst)[dst.offset:dst.offset+dst.Len()])
	case Float64:
		philox.Normal64(seed, draw, host[float64](dst)[dst.offset:dst.offset+dst.Len()])
	}
}

func (c *cpuBackend) RandUniform(dst *Tensor, seed, draw uint64) {
	switch dst.DType() {
	case Float32:
		philox.Uniform32(seed, draw, host[float32](dst)[dst.offset:dst.offset+dst.Len()])
	case Float64:
		philox.Uniform64(seed, draw, host[float64](dst)[dst.offset:dst.offset+dst.Len()])
	}
}

func (c *cpuBackend) AdamStep(param, grad, m, v *Tensor, h AdamHyper) {
	switch param.DType() {
	case Float32:
		adamKernel(host[float32](param)[param.offset:param.offset+param.Len()], host[float32](grad)[grad.offset:],
			host[float32](m)[m.offset:], host[float32](v)[v.offset:], h)
	case Float64:
		adamKernel(host[float64](param)[param.offset:param.offset+param.Len()], host[float64](grad)[grad.offset:],
			host[float64](m)[m.offset:], host[float64](v)[v.offset:], h)
	}
}

// adamKernel is Adam with bias correction; weight decay is decoupled (AdamW):
// p ← p − lr·(m̂/(√v̂ + ε) + wd·p).
func adamKernel[T number](p, g, m, v []T, h AdamHyper) {
	c1 := 1 - math.Pow(h.Beta1, float64(h.Step))
	c2 := 1 - math.Pow(h.Beta2, float64(h.Step))
	b1, b2 := h.Beta1, h.Beta2
	parallelFor(len(p), parallelGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := float64(g[i])
			mi := b1*float64(m[i]) + (1-b1)*gi
			vi := b2*float64(v[i]) + (1-b2)*gi*gi
			m[i], v[i] = T(mi), T(vi)
			upd := (mi / c1) / (math.Sqrt(vi/c2) + h.Eps)
			p[i] = T(float64(p[i]) - h.LR*(upd+h.WeightDecay*float64(p[i])))
		}
	})
}
