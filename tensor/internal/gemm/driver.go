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
// kernel(kc int, a []float32, rsa, csa int, b, t []float32) computes the
// mr×nr product of an A micro-panel (element (r, p) at a[r*rsa+p*csa]: rsa,
// csa = 1, mr when packed, lda, 1 for the rows of a row-major A) and a packed
// B micro-panel (kc×nr: b[p*nr+j]) and writes it row-major to t[:mr*nr]. a
// extends past a[kc*csa] and b past the panel by nr values.
//
// finish(u *update) writes a block of C; see update.
//
// gemvN(m, n, k int, x []float32, ldx int, b []float32, ldb int, y []float32,
// ldy int) computes y[i*ldy+j] = Σ_p x[i*ldx+p]*b[p*ldb+j] for i < m, j < n,
// p < k: a few (m <= smallDim) rows times a row-major matrix.
//
// gemvT(x, b []float32, ldb int, y []float32) computes
// y[j] = Σ_p x[p]*b[j*ldb+p] for j < len(y), p < len(x): the dot products of x
// with the rows of b.

// update is a block of C to write: for i < m and j < n,
//
//	v := alpha*acc[i*lda+j] + beta*c[i*ldc+j] + bias[j]
//	pre[i*ldp+j] = v
//	c[i*ldc+j] = act(v)
//
// where C is not read when beta is 0, a nil bias is 0 and a nil pre is not
// written.
type update struct {
	m, n        int
	c           []float32
	ldc         int
	acc         []float32
	lda         int
	bias        []float32
	pre         []float32
	ldp         int
	alpha, beta float32
	act         Activation
}

// kernelGuard bounds the kc a micro-kernel accepts (see the archsimd kernels).
const kernelGuard = 1 << 30

// Work below this many flops runs on the calling goroutine.
const minParallelFlops = 1 << 21

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
	bias, pre      []float32
	ldp            int
	act            Activation
	// ct marks a problem that computes Cᵀ (see swap): its element (i, j)
	// is c[j*ldc+i], its bias is per row and its pre-activation (i, j) is
	// pre[j*ldp+i].
	ct bool
}

func (p *problem) epilogue() bool { return p.bias != nil || p.pre != nil || p.act != None }

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
		if p.pre != nil {
			u.pre, u.ldp = p.pre[j:], p.ldp
		}
		im.finish(&u)
	}
}

// swapPays reports whether computing Cᵀ = op(B)ᵀ·op(A)ᵀ wastes much less of
// the micro-tiles than computing C, as when n is far below nr.
func (p *problem) swapPays(im *impl) bool {
	pad := func(x, r int) int { return (x + r - 1) / r * r }
	direct := pad(p.m, im.mr) * pad(p.n, im.nr)
	swapped := pad(p.n, im.mr) * pad(p.m, im.nr)
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
	ws := getWorkspace(im)
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
	ws := getWorkspace(im)
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
	u := update{m: rows, n: cols, c: p.c, ldc: p.ldc, acc: y, lda: ldy, bias: p.bias, pre: p.pre, ldp: p.ldp, alpha: p.alpha, beta: p.beta, act: p.act}
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
	flat := p.ldc == cols && (p.pre == nil || p.ldp == cols) && (p.bias == nil || p.alpha == 1)
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

// call is a problem shared by the goroutines of one parallel product.
type call struct {
	p  problem
	im *impl
	wg sync.WaitGroup
}

var callPool = sync.Pool{New: func() any { return new(call) }}

// job is one goroutine's share of a call: rows [i0, i1) and columns [j0, j1)
// of C.
type job struct {
	c              *call
	i0, i1, j0, j1 int
}

var workers struct {
	mu sync.Mutex
	n  int
	ch chan job
}

// startWorkers makes sure n worker goroutines wait for jobs.
func startWorkers(n int) {
	workers.mu.Lock()
	defer workers.mu.Unlock()
	if workers.ch == nil {
		workers.ch = make(chan job, 64)
	}
	for ; workers.n < n; workers.n++ {
		go worker(workers.ch)
	}
}

func worker(ch chan job) {
	for j := range ch {
		j.c.run(j.i0, j.i1, j.j0, j.j1)
		j.c.wg.Done()
	}
}

func (c *call) run(i0, i1, j0, j1 int) {
	ws := getWorkspace(c.im)
	c.p.blocked(c.im, ws, i0, i1, j0, j1)
	putWorkspace(ws)
}

// parallel splits C into as many row or column ranges as pays, and computes
// them on as many goroutines.
func (p *problem) parallel(im *impl) {
	rowTiles := (p.m + im.mr - 1) / im.mr
	colTiles := (p.n + im.nr - 1) / im.nr
	t := Threads()
	if flops := 2 * float64(p.m) * float64(p.n) * float64(p.k); flops < minParallelFlops {
		t = 1
	}
	byRows := rowTiles*im.mr >= colTiles*im.nr
	tiles := colTiles
	if byRows {
		tiles = rowTiles
	}
	t = min(t, tiles)
	if t <= 1 {
		ws := getWorkspace(im)
		p.blocked(im, ws, 0, p.m, 0, p.n)
		putWorkspace(ws)
		return
	}
	startWorkers(t - 1)
	c := callPool.Get().(*call)
	c.p = *p
	c.im = im
	c.wg.Add(t - 1)
	for w := t - 1; w >= 0; w-- {
		lo, hi := tiles*w/t, tiles*(w+1)/t
		j := job{c: c, i0: 0, i1: p.m, j0: 0, j1: p.n}
		if byRows {
			j.i0, j.i1 = lo*im.mr, min(hi*im.mr, p.m)
		} else {
			j.j0, j.j1 = lo*im.nr, min(hi*im.nr, p.n)
		}
		if w == 0 {
			c.run(j.i0, j.i1, j.j0, j.j1)
		} else {
			workers.ch <- j
		}
	}
	c.wg.Wait()
	c.p = problem{}
	callPool.Put(c)
}

// blocked computes rows [i0, i1) and columns [j0, j1) of C with packed panels
// on the calling goroutine.
func (p *problem) blocked(im *impl, ws *workspace, i0, i1, j0, j1 int) {
	mr, nr := im.mr, im.nr
	kc := balance(p.k, im.kc, 1)
	nc := balance(j1-j0, im.nc, nr)
	mc := balance(i1-i0, im.mc, mr)
	// A row-major A is used in place, its rows are contiguous in k: only
	// the last, partial micro-panel is packed.
	direct := !p.transA
	if direct {
		mc = i1 - i0
	}
	ap := grow(&ws.a, mr*kc+pad)
	if !direct {
		ap = grow(&ws.a, mc*kc+pad)
	}
	bp := grow(&ws.b, nc*kc+pad)
	t := grow(&ws.t, 2*mr*nr) // the second half is store's scratch
	for jc := j0; jc < j1; jc += nc {
		ncur := min(nc, j1-jc)
		for pc := 0; pc < p.k; pc += kc {
			kcur := min(kc, p.k-pc)
			first, last := pc == 0, pc+kcur == p.k
			p.packB(bp, nr, pc, kcur, jc, ncur)
			for ic := i0; ic < i1; ic += mc {
				mcur := min(mc, i1-ic)
				full := mcur / mr * mr
				if !direct {
					p.packA(ap, mr, ic, mcur, pc, kcur)
				} else if full < mcur {
					p.packA(ap, mr, ic+full, mcur-full, pc, kcur)
				}
				for ir := 0; ir < mcur; ir += mr {
					mv := min(mr, mcur-ir)
					var a []float32
					rsa, csa := 1, mr
					switch {
					case !direct:
						a = ap[ir*kcur:]
					case mv == mr:
						a, rsa, csa = p.a[(ic+ir)*p.lda+pc:], p.lda, 1
					default:
						a = ap
					}
					for jr := 0; jr < ncur; jr += nr {
						nv := min(nr, ncur-jr)
						im.kernel(kcur, a, rsa, csa, bp[jr*kcur:], t)
						p.store(im, t, ic+ir, jc+jr, mv, nv, first, last)
					}
				}
			}
		}
	}
}

// pad is the slack at the end of the pack buffers: the micro-kernels advance
// their pointers one step past the panels.
const pad = 64

// balance returns the block size, a multiple of r of at most max(limit, r),
// that cuts x into the fewest blocks of nearly equal sizes.
func balance(x, limit, r int) int {
	limit = max(limit/r*r, r)
	blocks := (x + limit - 1) / limit
	size := (x + blocks - 1) / blocks
	return (size + r - 1) / r * r
}

// store writes the valid mv×nv part of the tile t (row stride nr, followed by
// mr*nr values of scratch) to C at (i, j), adding to what the previous k
// chunks wrote unless first, and applying the epilogue if last.
func (p *problem) store(im *impl, t []float32, i, j, mv, nv int, first, last bool) {
	u := update{m: mv, n: nv, acc: t, lda: im.nr, ldc: p.ldc, alpha: p.alpha, beta: p.beta, ldp: p.ldp}
	if !first {
		u.beta = 1
	}
	ep := last && p.epilogue()
	if ep {
		u.act = p.act
	}
	if !p.ct {
		u.c = p.c[i*p.ldc+j:]
		if ep && p.bias != nil {
			u.bias = p.bias[j : j+nv]
		}
		if ep && p.pre != nil {
			u.pre = p.pre[i*p.ldp+j:]
		}
		im.finish(&u)
		return
	}
	// Cᵀ: column jj of the tile is a row of C.
	mr, nr := im.mr, im.nr
	tt := t[mr*nr : 2*mr*nr]
	for jj := range nv {
		for r := range mv {
			tt[jj*mv+r] = t[r*nr+jj]
		}
	}
	u.m, u.n, u.acc, u.lda = nv, mv, tt, mv
	u.c = p.c[j*p.ldc+i:]
	if ep && p.bias != nil {
		u.bias = p.bias[i : i+mv]
	}
	if ep && p.pre != nil {
		u.pre = p.pre[j*p.ldp+i:]
	}
	im.finish(&u)
}

// workspace holds one goroutine's pack buffers.
type workspace struct {
	a, b, t, x, y []float32
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

func getWorkspace(*impl) *workspace { return workspaces.Get().(*workspace) }

func putWorkspace(ws *workspace) { workspaces.Put(ws) }

// grow returns (*s)[:n], reallocating *s when it is too short.
func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}
