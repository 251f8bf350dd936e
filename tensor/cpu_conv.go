package tensor

import (
	"runtime"
	"slices"
	"sync"

	"github.com/difftune/difftune/tensor/internal/gemm"
)

// The float32 convolutions of the fast CPU backend (Convolver) never unfold
// the whole batch: each worker unfolds a block of output positions of one
// image (or, for the weight gradient, of consecutive images) into a scratch
// buffer of its own, small enough to stay in its L2 cache
// (convScratchValues), and multiplies it with the packed SIMD GEMM of
// internal/gemm on the same goroutine while it is hot. The workers take
// blocks from parallelFor; the products run with gemm.SgemmSerial, so the
// parallelism is over images and blocks, with no synchronization inside a
// product. With fewer blocks than cores the products are split by gemm's
// own workers instead. The weight gradient recomputes the patches from x
// rather than keeping them from the forward pass, so autograd holds only x.
// The stride-1 convolutions that keep the image's size unfold nothing:
// cpu_conv_taps.go multiplies shifted copies of each image in place.
//
// float64 and the reference backend decline: they stay composed (Im2Col,
// MatMul, Col2Im), which the fast backend is checked against.

// convScratchValues is the size, in float32 values, of the patch block a
// worker unfolds at a time: 512 KiB, half the L2 cache of one core of the
// Zen 4/5 and recent Xeon machines, leaving room for the GEMM's packed
// panels and output block.
var convScratchValues = 1 << 17

// convMinBlock is the fewest output positions of a block: below, the GEMM's
// n (or k) dimension is too short for the 32-wide micro-tile.
const convMinBlock = 64

// convBlock returns the number of output positions per block for patches of
// k rows out of total positions: a multiple of 32 (the micro-tile's width)
// cutting total into near-equal blocks of about convScratchValues/k.
func convBlock(k, total int) int {
	limit := max(convMinBlock, convScratchValues/max(k, 1))
	if total <= limit {
		return total
	}
	blocks := (total + limit - 1) / limit
	size := (total + blocks - 1) / blocks
	return (size + 31) / 32 * 32
}

// convScratch recycles the per-worker scratch buffers of the convolutions.
var convScratch = sync.Pool{New: func() any { return new([]float32) }}

// getConvScratch returns a scratch buffer of n values (contents undefined)
// and its handle for putConvScratch.
func getConvScratch(n int) ([]float32, *[]float32) {
	p := convScratch.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	return (*p)[:n], p
}

func putConvScratch(p *[]float32) { convScratch.Put(p) }

// convGemm returns the product the workers use: SgemmSerial when there are
// enough parallel tasks to keep every core busy, the threaded Sgemm
// otherwise.
func convGemm(tasks int) func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if tasks >= runtime.GOMAXPROCS(0) {
		return gemm.SgemmSerial
	}
	return gemm.Sgemm
}

// convFast reports whether the backend convolves t's dtype itself.
func (c *cpuBackend) convFast(t *Tensor) bool {
	return !c.reference && t.DType() == Float32
}

// Conv2d computes y[n][:, block] = w·x̂[n][:, block] + bias per block of
// output positions: the bias is written first, and the GEMM adds the product
// to it in its micro-kernel (beta = 1).
func (c *cpuBackend) Conv2d(y, x, w, bias *Tensor, g ConvGeom) bool {
	if !c.convFast(y) {
		return false
	}
	out, k, q := w.shape[0], g.C*g.KH*g.KW, g.OutH*g.OutW
	ys, xs, ws := host[float32](y)[y.offset:], host[float32](x)[x.offset:], host[float32](w)[w.offset:]
	bs := host[float32](bias)
	if bias != nil {
		bs = bs[bias.offset : bias.offset+out]
	}
	if convTaps(g) || convPhases(g) {
		conv2dTaps(ys, xs, ws, bs, out, g)
		return true
	}
	block := convBlock(k, q)
	perImage := (q + block - 1) / block
	tasks := g.N * perImage
	mul := convGemm(tasks)
	parallelFor(tasks, 1, func(lo, hi int) {
		cols, h := getConvScratch(k * block)
		defer putConvScratch(h)
		for t := lo; t < hi; t++ {
			n, q0 := t/perImage, t%perImage*block
			q1 := min(q0+block, q)
			nq := q1 - q0
			unfoldImage(cols, nq, xs[n*g.C*g.H*g.W:], g, q0, q1)
			yn := ys[n*out*q+q0:]
			var beta float32
			if bs != nil {
				for o, v := range bs {
					fill(yn[o*q:o*q+nq], v)
				}
				beta = 1
			}
			mul(false, false, out, nq, k, 1, ws, k, cols, nq, beta, yn, q)
		}
	})
	return true
}

// Conv2dGradInput computes dx[n] = fold(wᵀ·dy[n]) block by block of output
// positions, each image on one worker (the blocks of an image overlap in
// dx[n]); wᵀ is transposed once so that the GEMM reads it in place.
func (c *cpuBackend) Conv2dGradInput(dx, dy, w *Tensor, g ConvGeom) bool {
	if !c.convFast(dx) {
		return false
	}
	out, k, q := w.shape[0], g.C*g.KH*g.KW, g.OutH*g.OutW
	dxs, dys, ws := host[float32](dx)[dx.offset:], host[float32](dy)[dy.offset:], host[float32](w)[w.offset:]
	if convTaps(g) {
		conv2dGradInputTaps(dxs, dys, ws, out, g)
		return true
	}
	if convPhases(g) {
		conv2dGradInputPhases(dxs, dys, ws, out, g)
		return true
	}
	wt, wh := getConvScratch(k * out)
	defer putConvScratch(wh)
	transpose(wt, ws[:out*k], out, k)
	block := convBlock(k, q)
	hw := g.C * g.H * g.W
	mul := convGemm(g.N)
	parallelFor(g.N, 1, func(lo, hi int) {
		cols, h := getConvScratch(k * block)
		defer putConvScratch(h)
		for n := lo; n < hi; n++ {
			img := dxs[n*hw : (n+1)*hw]
			clear(img)
			for q0 := 0; q0 < q; q0 += block {
				q1 := min(q0+block, q)
				nq := q1 - q0
				mul(false, false, k, nq, out, 1, wt, out, dys[n*out*q+q0:], q, 0, cols, nq)
				foldImage(img, cols, nq, g, q0, q1)
			}
		}
	})
	return true
}

// Conv2dGradWeight computes dwᵀ = Σ x̂·dyᵀ over blocks of output positions
// that run across images (the patches of a block unfolded again from x,
// the gradient rows copied beside them), each worker into a partial sum of
// its own, then adds the partial sums in the order of the blocks and
// transposes.
func (c *cpuBackend) Conv2dGradWeight(dw, dy, x *Tensor, g ConvGeom) bool {
	if !c.convFast(dw) {
		return false
	}
	out, k, q := dw.shape[0], g.C*g.KH*g.KW, g.OutH*g.OutW
	dws, dys, xs := host[float32](dw)[dw.offset:dw.offset+out*k], host[float32](dy)[dy.offset:], host[float32](x)[x.offset:]
	total := g.N * q
	if total == 0 {
		clear(dws)
		return true
	}
	if convTaps(g) || convPhases(g) {
		conv2dGradWeightTaps(dws, dys, xs, out, g)
		return true
	}
	block := convBlock(k, total)
	tasks := (total + block - 1) / block
	mul := convGemm(tasks)
	sum, sh := getConvScratch(k * out) // dwᵀ
	defer putConvScratch(sh)
	var parts partialSums
	hw := g.C * g.H * g.W
	parallelFor(tasks, 1, func(lo, hi int) {
		if lo >= hi {
			return
		}
		buf, h := getConvScratch((k+out)*block + k*out)
		part := buf[(k+out)*block:]
		for t := lo; t < hi; t++ {
			p0 := t * block
			p1 := min(p0+block, total)
			np := p1 - p0
			cols, dyt := buf[:k*np], buf[k*np:(k+out)*np]
			for n := p0 / q; n*q < p1; n++ {
				q0, q1 := max(p0, n*q)-n*q, min(p1, (n+1)*q)-n*q
				off := n*q + q0 - p0
				unfoldImage(cols[off:], np, xs[n*hw:], g, q0, q1)
				for o := range out {
					copy(dyt[o*np+off:o*np+off+q1-q0], dys[(n*out+o)*q+q0:])
				}
			}
			var beta float32
			if t > lo {
				beta = 1
			}
			mul(false, true, k, out, np, 1, cols, np, dyt, np, beta, part, out)
		}
		parts.add(lo, part, h)
	})
	parts.sumInto(sum)
	transpose(dws, sum, k, out)
	return true
}

// partialSums collects the partial sums that the chunks of a parallelFor
// compute in pooled scratch buffers and adds them in the order of the
// chunks, not in the order the workers finish, so that a sum is the same
// from run to run (a fixed seed reproduces a run exactly).
type partialSums struct {
	mu    sync.Mutex
	parts []partialSum
}

type partialSum struct {
	lo   int
	vals []float32
	h    *[]float32
}

// add records the partial sum vals of the chunk starting at lo, held in
// the scratch buffer h until sumInto.
func (p *partialSums) add(lo int, vals []float32, h *[]float32) {
	p.mu.Lock()
	p.parts = append(p.parts, partialSum{lo, vals, h})
	p.mu.Unlock()
}

// sumInto writes the sum of the partial sums, chunk by chunk in order, to
// dst and returns their buffers to the pool.
func (p *partialSums) sumInto(dst []float32) {
	slices.SortFunc(p.parts, func(a, b partialSum) int { return a.lo - b.lo })
	clear(dst)
	for _, part := range p.parts {
		for i, v := range part.vals[:len(dst)] {
			dst[i] += v
		}
		putConvScratch(part.h)
	}
	p.parts = nil
}

// unfoldImage writes the patches of one image (c planes of h×w) for the
// output positions [q0, q1): row r = (ch, ky, kx) at cols[r·ldc:].
func unfoldImage(cols []float32, ldc int, img []float32, g ConvGeom, q0, q1 int) {
	kk, hw := g.KH*g.KW, g.H*g.W
	for ch := range g.C {
		unfoldPlane(cols[ch*kk*ldc:], ldc, img[ch*hw:(ch+1)*hw], g, q0, q1)
	}
}

// foldImage adds the patch columns of positions [q0, q1) (laid out as
// unfoldImage writes them, and overwritten) into the image.
func foldImage(img, cols []float32, ldc int, g ConvGeom, q0, q1 int) {
	kk, hw := g.KH*g.KW, g.H*g.W
	for ch := range g.C {
		foldPlane(img[ch*hw:(ch+1)*hw], cols[ch*kk*ldc:], ldc, g, q0, q1, true)
	}
}

// transpose writes the transpose of the r×c row-major matrix src into dst
// (c×r): four rows at a time, so that each column of theirs is one run of
// four values in dst, in blocks of columns that keep the runs' cache lines
// in L1.
func transpose(dst, src []float32, r, c int) { transposeTo(dst, r, src, r, c) }

// transposeTo is transpose into rows of ldd ≥ r values of dst (the values
// past r in each row untouched).
func transposeTo(dst []float32, ldd int, src []float32, r, c int) {
	const block = 64
	for j0 := 0; j0 < c; j0 += block {
		j1 := min(j0+block, c)
		i := 0
		for ; i+4 <= r; i += 4 {
			r0, r1 := src[i*c+j0:i*c+j1], src[(i+1)*c+j0:(i+1)*c+j1]
			r2, r3 := src[(i+2)*c+j0:(i+2)*c+j1], src[(i+3)*c+j0:(i+3)*c+j1]
			r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
			for j, v := range r0 {
				d := dst[(j0+j)*ldd+i:][:4]
				d[0], d[1], d[2], d[3] = v, r1[j], r2[j], r3[j]
			}
		}
		for ; i < r; i++ {
			for j, v := range src[i*c+j0 : i*c+j1] {
				dst[(j0+j)*ldd+i] = v
			}
		}
	}
}
