package gemm

// operands tells the micro-kernel where to find the panels of one k chunk
// [pc, pc+kc) of op(A) and op(B): in place, or packed.
type operands struct {
	pc, kc int
	// aDirect: the full row panels of a row-major A are read in place;
	// the last, partial one too where the slice holds mr rows from its
	// first (aInPlace), else it is packed in aEdge. Otherwise the panels of
	// rows [aFrom, ...) are packed in aPacked.
	aDirect bool
	aPacked []float32
	aFrom   int
	aEdge   []float32
	// The same for the column panels of a row-major B.
	bDirect bool
	bPacked []float32
	bFrom   int
	bEdge   []float32
}

// directBMax is the largest kc*ldb for which a row-major B is used in place:
// beyond, its kc×nc blocks are sparse enough in memory to pay for packing.
const directBMax = 1 << 17

// newOperands returns the operands of chunk [pc, pc+kc), with nothing packed
// yet.
func (p *problem) newOperands(kc0, pc, kc int) operands {
	return operands{
		pc: pc, kc: kc,
		aDirect: !p.transA,
		bDirect: !p.transB && kc0*p.ldb <= directBMax,
	}
}

// packA packs what the kernel needs of rows [i0, i1) of op(A) in buf, which
// holds at least (i1-i0+mr)*kc+pad values, and returns the rest of buf.
func (o *operands) packA(p *problem, im *impl, buf []float32, i0, i1 int) []float32 {
	mr := im.mr
	if o.aDirect {
		if full := (i1 - i0) / mr * mr; i0+full < i1 && !o.aInPlace(p, mr, i0+full) {
			o.aEdge = buf[:mr*o.kc+pad]
			p.packA(o.aEdge, mr, i0+full, i1-i0-full, o.pc, o.kc)
			return buf[len(o.aEdge):]
		}
		return buf
	}
	n := (i1 - i0 + mr - 1) / mr * mr * o.kc
	o.aPacked, o.aFrom = buf[:n+pad], i0
	p.packA(o.aPacked, mr, i0, i1-i0, o.pc, o.kc)
	return buf[n+pad:]
}

// packB packs what the kernel needs of columns [j0, j1) of op(B) in buf, as
// packA.
func (o *operands) packB(p *problem, im *impl, buf []float32, j0, j1 int) []float32 {
	nr := im.nr
	if o.bDirect {
		if full := (j1 - j0) / nr * nr; j0+full < j1 {
			o.bEdge = buf[:nr*o.kc+pad]
			p.packB(o.bEdge, nr, o.pc, o.kc, j0+full, j1-j0-full)
			return buf[len(o.bEdge):]
		}
		return buf
	}
	n := (j1 - j0 + nr - 1) / nr * nr * o.kc
	o.bPacked, o.bFrom = buf[:n+pad], j0
	p.packB(o.bPacked, nr, o.pc, o.kc, j0, j1-j0)
	return buf[n+pad:]
}

// a returns the micro-panel of op(A) for rows [i, i+mv) and its strides.
func (o *operands) a(p *problem, mr, i, mv int) ([]float32, int, int) {
	switch {
	case !o.aDirect:
		return o.aPacked[(i-o.aFrom)*o.kc:], 1, mr
	case mv == mr || o.aInPlace(p, mr, i):
		return p.a[i*p.lda+o.pc:], p.lda, 1
	}
	return o.aEdge, 1, mr
}

// aInPlace reports whether the kernel can read the micro-panel of a
// row-major A at row i in place: when the slice holds mr rows from there,
// even past A's last row (the kernel computes rows it does not write, so
// whatever they hold, NaN included, reaches no valid row of C).
func (o *operands) aInPlace(p *problem, mr, i int) bool {
	return (i+mr-1)*p.lda+o.pc+o.kc <= len(p.a)
}

// b returns the micro-panel of op(B) for columns [j, j+nv) and its stride.
func (o *operands) b(p *problem, nr, j, nv int) ([]float32, int) {
	switch {
	case !o.bDirect:
		return o.bPacked[(j-o.bFrom)*o.kc:], nr
	case nv == nr:
		return p.b[o.pc*p.ldb+j:], p.ldb
	}
	return o.bEdge, nr
}

// tiles computes the tiles of rows [i0, i1) and columns [j0, j1) of C for
// the chunk of o: A micro-panel by A micro-panel, each against all the B
// micro-panels, so that the A panel stays in L1 while B streams from L2.
// first and last tell whether the chunk is the first and last of k; t is the
// kernel's scratch tile (2*mr*nr values).
func (p *problem) tiles(im *impl, o *operands, t []float32, i0, i1, j0, j1 int, first, last bool) {
	mr, nr := im.mr, im.nr
	// Tiles go straight to C (the kernel writes only their valid part)
	// unless alpha or beta need the general update.
	fast := !p.ct && p.alpha == 1 && (p.beta == 0 || p.beta == 1)
	for i := i0; i < i1; i += mr {
		mv := min(mr, i1-i)
		a, rsa, csa := o.a(p, mr, i, mv)
		for j := j0; j < j1; j += nr {
			nv := min(nr, j1-j)
			b, sb := o.b(p, nr, j, nv)
			if !fast {
				im.kernel(o.kc, a, rsa, csa, b, sb, &tileOut{c: t, ldc: nr, rows: mr, cols: nr})
				p.store(im, t, i, j, mv, nv, first, last)
				continue
			}
			// The kernel writes the tile (its valid part) to C itself.
			out := tileOut{c: p.c[i*p.ldc+j:], ldc: p.ldc, add: !first || p.beta == 1, rows: mv, cols: nv}
			if last && p.bias != nil {
				out.bias = p.bias[j : j+nv]
			}
			im.kernel(o.kc, a, rsa, csa, b, sb, &out)
			if last && (p.act != None || p.deriv != nil) {
				var d []float32
				if p.deriv != nil {
					d = p.deriv[i*p.ldd+j:]
				}
				im.activate(mv, nv, out.c, p.ldc, p.act, d, p.ldd)
			}
		}
	}
}

// blocked computes rows [i0, i1) and columns [j0, j1) of C on the calling
// goroutine: the loops of the package comment around tiles.
func (p *problem) blocked(im *impl, ws *workspace, i0, i1, j0, j1 int) {
	mr, nr := im.mr, im.nr
	kc := balance(p.k, im.kc, 1)
	nc := balance(j1-j0, im.nc, nr)
	mc := balance(i1-i0, im.mc, mr)
	aSize := (mc + mr) * kc
	if !p.transA {
		// A is used in place: no need to block it, and only an edge
		// panel to pack.
		mc, aSize = i1-i0, mr*kc
	}
	aBuf := grow(&ws.a, aSize+2*pad)
	bBuf := grow(&ws.b, (nc+nr)*kc+2*pad)
	t := grow(&ws.t, 2*mr*nr)
	for jc := j0; jc < j1; jc += nc {
		jn := min(jc+nc, j1)
		for pc := 0; pc < p.k; pc += kc {
			o := p.newOperands(kc, pc, min(kc, p.k-pc))
			o.packB(p, im, bBuf, jc, jn)
			for ic := i0; ic < i1; ic += mc {
				in := min(ic+mc, i1)
				o.packA(p, im, aBuf, ic, in)
				p.tiles(im, &o, t, ic, in, jc, jn, pc == 0, pc+o.kc == p.k)
			}
		}
	}
}

// pad is the slack at the end of each packed block.
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
	u := update{m: mv, n: nv, acc: t, lda: im.nr, ldc: p.ldc, alpha: p.alpha, beta: p.beta, ldd: p.ldd}
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
		if ep && p.deriv != nil {
			u.deriv = p.deriv[i*p.ldd+j:]
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
	if ep && p.deriv != nil {
		u.deriv = p.deriv[j*p.ldd+i:]
	}
	im.finish(&u)
}
