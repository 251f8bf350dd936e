package gemm

import (
	"sync"
)

// impl is one implementation of the kernels, with its blocking parameters.
// Its methods (kernel, finish, gemvN, gemvT) dispatch on kind to the
// functions of the build.
type impl struct {
	name   string
	kind   implKind
	mr, nr int // micro-tile
	kc     int // largest k chunk
	mc, nc int // largest row block of A and column block of B
}

type implKind uint8

const (
	kindGeneric implKind = iota
	kindAVX2
	kindAVX512
)

// The methods of impl, implemented by each kind:
//
// kernel(kc int, a []float32, rsa, csa int, b []float32, sb int, o *tileOut)
// computes the mr×nr product of an A micro-panel (element (r, p) at
// a[r*rsa+p*csa]: rsa, csa = 1, mr when packed, lda, 1 for the rows of a
// row-major A) and a B micro-panel (element (p, j) at b[p*sb+j]: sb = nr when
// packed, ldb for the rows of a row-major B) and writes it to o.
//
// kernelTaps(kc int, a []float32, rsa, csa int, b []float32, sb int, offs
// []int, o *tileOut) is kernel summing the products of len(offs) pairs of
// panels: B_t at b[offs[t]:], A_t the kc steps of a after those of A_{t−1}
// (SgemmTaps, whose bias is o.rowBias; o.bias is nil): one pass of the
// AVX2 assembly, one kernel call per tap elsewhere (kernelEachTap).
//
// finish(u *update) writes a block of C; see update.
//
// activate(m, n int, c []float32, ldc int, act Activation, d []float32, ldd
// int) applies act to the m×n block c (row stride ldc) in place and, when d is
// not nil, writes act' at the original values to d (row stride ldd).
//
// gemvN(m, n, k int, x []float32, ldx int, b []float32, ldb int, y []float32,
// ldy int) computes y[i*ldy+j] = Σ_p x[i*ldx+p]*b[p*ldb+j] for i < m, j < n,
// p < k: a few (m <= smallDim) rows times a row-major matrix.
//
// gemvT(x, b []float32, ldb int, y []float32) computes
// y[j] = Σ_p x[p]*b[j*ldb+p] for j < len(y), p < len(x): the dot products of x
// with the rows of b.

// tileOut is where a micro-kernel writes its mr×nr tile: for r < rows (at
// most mr) and j < cols (at most nr),
//
//	c[r*ldc+j] = acc(r, j) + c[r*ldc+j] + bias[j] + rowBias[r]
//
// where C is not read unless add and a nil bias or rowBias is 0. Only
// kernelTaps takes a rowBias (mr values, those past rows included).
type tileOut struct {
	c       []float32
	ldc     int
	add     bool
	bias    []float32
	rowBias []float32
	rows    int
	cols    int
}

// update is a block of C to write: for i < m and j < n,
//
//	v := alpha*acc[i*lda+j] + beta*c[i*ldc+j] + bias[j]
//	c[i*ldc+j] = act(v)
//	deriv[i*ldd+j] = act'(v)
//
// where C is not read when beta is 0, a nil bias is 0 and a nil deriv is not
// written.
type update struct {
	m, n        int
	c           []float32
	ldc         int
	acc         []float32
	lda         int
	bias        []float32
	deriv       []float32
	ldd         int
	alpha, beta float32
	act         Activation
}

// problem is one call, after argument checking.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	bias, deriv    []float32
	ldd            int
	act            Activation
	// ct marks a problem that computes Cᵀ (see swap): its element (i, j)
	// is c[j*ldc+i], its bias is per row and its derivative (i, j) is
	// deriv[j*ldd+i].
	ct bool
	// serial keeps the whole product on the calling goroutine.
	serial bool
}

func (p *problem) epilogue() bool { return p.bias != nil || p.deriv != nil || p.act != None }

func (p *problem) solve(im *impl) {
	if p.m == 0 || p.n == 0 {
		return
	}
	if p.k == 0 || p.alpha == 0 {
		p.scale(im)
		return
	}
	if p.unpacked(im) {
		return
	}
	if p.swap(); p.unpacked(im) {
		return
	}
	if p.swap(); p.swapPays(im) {
		p.swap()
	}
	p.parallel(im)
}

// zeros is the accumulator of scale.
var zeros [256]float32

// scale handles alpha == 0 or k == 0: C = beta*C, then the epilogue.
func (p *problem) scale(im *impl) {
	if p.beta == 1 && !p.epilogue() {
		return
	}
	for j := 0; j < p.n; j += len(zeros) {
		nv := min(len(zeros), p.n-j)
		u := update{m: p.m, n: nv, c: p.c[j:], ldc: p.ldc, acc: zeros[:], beta: p.beta, act: p.act}
		if p.bias != nil {
			u.bias = p.bias[j : j+nv]
		}
		if p.deriv != nil {
			u.deriv, u.ldd = p.deriv[j:], p.ldd
		}
		im.finish(&u)
	}
}

// swapPays reports whether computing Cᵀ = op(B)ᵀ·op(A)ᵀ wastes much less of
// the micro-tiles than computing C, as when n is far below nr.
func (p *problem) swapPays(im *impl) bool {
	roundUp := func(x, r int) int { return (x + r - 1) / r * r }
	direct := roundUp(p.m, im.mr) * roundUp(p.n, im.nr)
	swapped := roundUp(p.n, im.mr) * roundUp(p.m, im.nr)
	return 2*swapped < direct
}

// swap turns the problem into the one of computing Cᵀ = op(B)ᵀ·op(A)ᵀ.
func (p *problem) swap() {
	p.m, p.n = p.n, p.m
	p.a, p.b = p.b, p.a
	p.lda, p.ldb = p.ldb, p.lda
	p.transA, p.transB = !p.transB, !p.transA
	p.ct = !p.ct
}

// smallDim is the largest number of rows or columns of C that unpacked
// handles.
const smallDim = 4

// unpacked computes, without packing, products with few rows of C (when the
// rows of op(B) are contiguous) or few columns (when the rows of op(A) are);
// it reports whether it did.
func (p *problem) unpacked(im *impl) bool {
	switch {
	case p.m <= smallDim && !p.transB:
		p.rows(im)
	case p.n <= smallDim && !p.transA:
		p.cols(im)
	default:
		return false
	}
	return true
}

// rows computes C as the m (<= smallDim) combinations of the rows of B with
// coefficients op(A).
func (p *problem) rows(im *impl) {
	ws := getWorkspace()
	defer putWorkspace(ws)
	x, ldx := p.a, p.lda
	if p.transA {
		x, ldx = grow(&ws.x, p.m*p.k), p.k
		for i := range p.m {
			for q := range p.k {
				x[i*ldx+q] = p.a[q*p.lda+i]
			}
		}
	}
	y := grow(&ws.y, p.m*p.n)
	im.gemvN(p.m, p.n, p.k, x, ldx, p.b, p.ldb, y, p.n)
	p.storeBlock(im, ws, y, p.n, false)
}

// cols computes the n (<= smallDim) columns of C as the dot products of the
// rows of op(A) with the columns of op(B).
func (p *problem) cols(im *impl) {
	ws := getWorkspace()
	defer putWorkspace(ws)
	bt, ldbt := p.b, p.ldb // op(B)ᵀ, n×k
	if !p.transB {
		bt, ldbt = grow(&ws.x, p.n*p.k), p.k
		for q := range p.k {
			for j := range p.n {
				bt[j*ldbt+q] = p.b[q*p.ldb+j]
			}
		}
	}
	y := grow(&ws.y, p.n*p.m) // Cᵀ
	for j := range p.n {
		im.gemvT(bt[j*ldbt:j*ldbt+p.k], p.a, p.lda, y[j*p.m:(j+1)*p.m])
	}
	p.storeBlock(im, ws, y, p.m, true)
}

// storeBlock writes the whole product, held in y (element (i, j) at
// y[i*ldy+j], or at y[j*ldy+i] when yT), to C with the epilogue.
func (p *problem) storeBlock(im *impl, ws *workspace, y []float32, ldy int, yT bool) {
	// Rows and columns of C as stored.
	rows, cols := p.m, p.n
	if p.ct {
		rows, cols = cols, rows
	}
	u := update{m: rows, n: cols, c: p.c, ldc: p.ldc, acc: y, lda: ldy, bias: p.bias, deriv: p.deriv, ldd: p.ldd, alpha: p.alpha, beta: p.beta, act: p.act}
	if u.bias != nil {
		u.bias = u.bias[:cols]
	}
	if yT == p.ct {
		// The rows of C are rows of y.
		im.finish(&u)
		return
	}
	// The rows of C are columns of y, and short (cols <= smallDim).
	buf := grow(&ws.b, rows*cols)
	u.acc, u.lda = buf, cols
	flat := p.ldc == cols && (p.deriv == nil || p.ldd == cols) && (p.bias == nil || p.alpha == 1)
	if flat {
		// C is contiguous: finish it as one row, with the bias added here.
		u.m, u.n, u.bias = 1, rows*cols, nil
	}
	for r := range rows {
		for l := range cols {
			v := y[l*ldy+r]
			if flat && p.bias != nil {
				v += p.bias[l]
			}
			buf[r*cols+l] = v
		}
	}
	im.finish(&u)
}

// workspace holds one goroutine's pack buffers.
type workspace struct {
	a, b, t, x, y []float32
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

func getWorkspace() *workspace { return workspaces.Get().(*workspace) }

func putWorkspace(ws *workspace) { workspaces.Put(ws) }

// grow returns (*s)[:n], reallocating *s when it is too short.
func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}
