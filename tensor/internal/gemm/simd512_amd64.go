//go:build goexperiment.simd && amd64

package gemm

import (
	"simd/archsimd"
	"unsafe"
)

// finish512 is the AVX-512 impl.finish.
func finish512(u *update) {
	for i := range u.m {
		c := u.c[i*u.ldc : i*u.ldc+u.n]
		linear512(c, u.acc[i*u.lda:i*u.lda+u.n], u.bias, u.alpha, u.beta)
		if u.act != None || u.deriv != nil {
			var d []float32
			if u.deriv != nil {
				d = u.deriv[i*u.ldd:]
			}
			activate512(1, u.n, c, u.ldc, u.act, d, u.ldd)
		}
	}
}

// linear512 sets c[j] = alpha*acc[j] + beta*c[j] + bias[j] for j < len(c).
func linear512(c, acc, bias []float32, alpha, beta float32) {
	n := len(c)
	acc = acc[:n]
	if bias != nil {
		bias = bias[:n]
	}
	va := archsimd.BroadcastFloat32x16(alpha)
	vb := archsimd.BroadcastFloat32x16(beta)
	j := 0
	for ; j+16 <= n; j += 16 {
		v := archsimd.LoadFloat32x16Slice(acc[j:])
		if alpha != 1 {
			v = v.Mul(va)
		}
		if beta != 0 {
			v = vb.MulAdd(archsimd.LoadFloat32x16Slice(c[j:]), v)
		}
		if bias != nil {
			v = v.Add(archsimd.LoadFloat32x16Slice(bias[j:]))
		}
		v.StoreSlice(c[j:])
	}
	if j == n {
		return
	}
	v := loadPart512(acc[j:])
	if alpha != 1 {
		v = v.Mul(va)
	}
	if beta != 0 {
		v = vb.MulAdd(loadPart512(c[j:]), v)
	}
	if bias != nil {
		v = v.Add(loadPart512(bias[j:]))
	}
	storePart512(v, c[j:])
}

// activate512 applies act in place to the m×n block c with row stride ldc
// and, when d is not nil, writes act' at the original values to d (row
// stride ldd).
func activate512(m, n int, c []float32, ldc int, act Activation, d []float32, ldd int) {
	if act == SiLU {
		silu512(m, n, c, ldc, d, ldd)
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		var drow []float32
		if d != nil {
			drow = d[i*ldd : i*ldd+n]
		}
		j := 0
		for ; j+16 <= n; j += 16 {
			y, dy := act512(act, archsimd.LoadFloat32x16Slice(row[j:]), drow != nil)
			y.StoreSlice(row[j:])
			if drow != nil {
				dy.StoreSlice(drow[j:])
			}
		}
		if j == n {
			continue
		}
		y, dy := act512(act, loadPart512(row[j:]), drow != nil)
		storePart512(y, row[j:])
		if drow != nil {
			storePart512(dy, drow[j:])
		}
	}
}

// silu512 is activate512 for SiLU with the sigmoid written out in the loop,
// as silu256 is for AVX2: the same arithmetic, the same results bit for
// bit (the SiLU epilogues were 8 % of the gmm2d iteration on a Zen 4,
// through act512, sigmoid512, exp512 and recip512 as calls).
func silu512(m, n int, c []float32, ldc int, d []float32, ldd int) {
	one := ld512(&c512.one)
	var zero archsimd.Float32x16
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		j := 0
		if d == nil {
			for ; j+16 <= n; j += 16 {
				z := archsimd.LoadFloat32x16Slice(row[j:])
				s := recip512(one.Add(exp512(zero.Sub(z))))
				z.Mul(s).StoreSlice(row[j:])
			}
		} else {
			drow := d[i*ldd : i*ldd+n]
			for ; j+16 <= n; j += 16 {
				z := archsimd.LoadFloat32x16Slice(row[j:])
				s := recip512(one.Add(exp512(zero.Sub(z))))
				y := z.Mul(s)
				y.StoreSlice(row[j:])
				y.MulAdd(one.Sub(s), s).StoreSlice(drow[j:])
			}
		}
		if j == n {
			continue
		}
		y, dy := act512(SiLU, loadPart512(row[j:]), d != nil)
		storePart512(y, row[j:])
		if d != nil {
			storePart512(dy, d[i*ldd+j:i*ldd+n])
		}
	}
}

// act512 returns act(z) and, when deriv is set, act'(z): ReLU [z > 0],
// SiLU σ + y(1 − σ) with y = zσ, tanh 1 − y², sigmoid y(1 − y), 1 for None.
func act512(act Activation, z archsimd.Float32x16, deriv bool) (y, dy archsimd.Float32x16) {
	one := ld512(&c512.one)
	switch act {
	case None:
		return z, one
	case ReLU:
		var zero archsimd.Float32x16
		y = z.Max(zero)
		if deriv {
			dy = one.Masked(z.Greater(zero))
		}
	case SiLU:
		s := sigmoid512(z)
		y = z.Mul(s)
		if deriv {
			dy = y.MulAdd(one.Sub(s), s)
		}
	case Tanh:
		y = tanh512(z)
		if deriv {
			dy = one.Sub(y.Mul(y))
		}
	case Sigmoid:
		y = sigmoid512(z)
		if deriv {
			dy = y.Mul(one.Sub(y))
		}
	}
	return y, dy
}

// consts512 holds the constants of the AVX-512 activations, one vector each,
// so that they are loads (which FMAs can fold) rather than broadcasts.
type consts512 struct {
	one, expMin, expMax, log2e, negLn2Hi, negLn2Lo, p0, p1, p2, p3, p4, p5 [16]float32
	tanhMax, tanhMin, a1, a3, a5, a7, a9, a11, a13, b0, b2, b4, b6         [16]float32
}

var c512 = consts512{
	one: splat16(1), expMin: splat16(-88), expMax: splat16(88),
	log2e: splat16(log2e), negLn2Hi: splat16(-ln2Hi), negLn2Lo: splat16(-ln2Lo),
	p0: splat16(expP0), p1: splat16(expP1), p2: splat16(expP2), p3: splat16(expP3), p4: splat16(expP4), p5: splat16(expP5),
	tanhMax: splat16(tanhClamp), tanhMin: splat16(-tanhClamp),
	a1: splat16(tanhA1), a3: splat16(tanhA3), a5: splat16(tanhA5), a7: splat16(tanhA7), a9: splat16(tanhA9), a11: splat16(tanhA11), a13: splat16(tanhA13),
	b0: splat16(tanhB0), b2: splat16(tanhB2), b4: splat16(tanhB4), b6: splat16(tanhB6),
}

func splat16(x float32) (v [16]float32) {
	for i := range v {
		v[i] = x
	}
	return v
}

func ld512(v *[16]float32) archsimd.Float32x16 { return archsimd.LoadFloat32x16(v) }

// exp512 returns e**x, with the polynomial of Cephes' expf (about 1 ulp),
// for x in [-88, 88].
func exp512(x archsimd.Float32x16) archsimd.Float32x16 {
	x = x.Max(ld512(&c512.expMin)).Min(ld512(&c512.expMax))
	n := x.Mul(ld512(&c512.log2e)).RoundToEvenScaled(0)
	r := n.MulAdd(ld512(&c512.negLn2Hi), x)
	r = n.MulAdd(ld512(&c512.negLn2Lo), r)
	p := ld512(&c512.p0)
	p = p.MulAdd(r, ld512(&c512.p1))
	p = p.MulAdd(r, ld512(&c512.p2))
	p = p.MulAdd(r, ld512(&c512.p3))
	p = p.MulAdd(r, ld512(&c512.p4))
	p = p.MulAdd(r, ld512(&c512.p5))
	p = p.MulAdd(r.Mul(r), r.Add(ld512(&c512.one)))
	return p.Scale(n)
}

// recip512 returns 1/x, from the 14-bit estimate and a Newton step.
func recip512(x archsimd.Float32x16) archsimd.Float32x16 {
	r := x.Reciprocal()
	// r*(2 - x*r) = r + r*(1 - x*r)
	e := ld512(&c512.one).Sub(x.Mul(r))
	return r.MulAdd(e, r)
}

// sigmoid512 returns 1/(1+e**-x).
func sigmoid512(x archsimd.Float32x16) archsimd.Float32x16 {
	one := ld512(&c512.one)
	return recip512(one.Add(exp512(archsimd.Float32x16{}.Sub(x))))
}

// tanh512 returns tanh(x) as the rational approximation of Eigen.
func tanh512(x archsimd.Float32x16) archsimd.Float32x16 {
	x = x.Max(ld512(&c512.tanhMin)).Min(ld512(&c512.tanhMax))
	x2 := x.Mul(x)
	p := ld512(&c512.a13)
	p = p.MulAdd(x2, ld512(&c512.a11))
	p = p.MulAdd(x2, ld512(&c512.a9))
	p = p.MulAdd(x2, ld512(&c512.a7))
	p = p.MulAdd(x2, ld512(&c512.a5))
	p = p.MulAdd(x2, ld512(&c512.a3))
	p = p.MulAdd(x2, ld512(&c512.a1))
	q := ld512(&c512.b6)
	q = q.MulAdd(x2, ld512(&c512.b4))
	q = q.MulAdd(x2, ld512(&c512.b2))
	q = q.MulAdd(x2, ld512(&c512.b0))
	return x.Mul(p).Mul(recip512(q))
}

// gemvN512 is the AVX-512 impl.gemvN.
func gemvN512(m, n, k int, x []float32, ldx int, b []float32, ldb int, y []float32, ldy int) {
	i := 0
	for ; i+2 <= m; i += 2 {
		rows2N512(n, x[i*ldx:i*ldx+k], x[(i+1)*ldx:(i+1)*ldx+k], b, ldb, y[i*ldy:i*ldy+n], y[(i+1)*ldy:(i+1)*ldy+n])
	}
	if i < m {
		rowN512(n, x[i*ldx:i*ldx+k], b, ldb, y[i*ldy:i*ldy+n])
	}
}

// rowN512 computes y = x·B.
func rowN512(n int, x, b []float32, ldb int, y []float32) {
	j := 0
	for ; j+64 <= n; j += 64 {
		c0, c1, c2, c3 := axpy1x4512(x, b[j:], ldb)
		c0.StoreSlice(y[j:])
		c1.StoreSlice(y[j+16:])
		c2.StoreSlice(y[j+32:])
		c3.StoreSlice(y[j+48:])
	}
	for ; j < n; j += 16 {
		w := min(16, n-j)
		var c0 archsimd.Float32x16
		for q, xv := range x {
			c0 = archsimd.BroadcastFloat32x16(xv).MulAdd(loadPart512(b[q*ldb+j:q*ldb+j+w]), c0)
		}
		storePart512(c0, y[j:j+w])
	}
}

// axpy1x4512 returns Σ_q x[q]*b[q*ldb+j] for j < 64, as 4 vectors.
func axpy1x4512(x, b []float32, ldb int) (c0, c1, c2, c3 archsimd.Float32x16) {
	k := len(x)
	if k == 0 {
		return
	}
	if len(b) < (k-1)*ldb+64 {
		panic("gemm: bad axpy arguments")
	}
	px, pb := unsafe.Pointer(&x[0]), unsafe.Pointer(&b[0])
	step := uintptr(ldb) * 4
	for q, off := uintptr(0), uintptr(0); q < uintptr(k)*4; q, off = q+4, off+step {
		s := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(px, q)))
		row := unsafe.Add(pb, off)
		c0 = s.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(row)), c0)
		c1 = s.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(row, 64))), c1)
		c2 = s.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(row, 128))), c2)
		c3 = s.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(row, 192))), c3)
	}
	return
}

// axpy2x2512 returns Σ_q x0[q]*b[q*ldb+j] and Σ_q x1[q]*b[q*ldb+j] for
// j < 32, as two vectors each.
func axpy2x2512(x0, x1, b []float32, ldb int) (c00, c01, c10, c11 archsimd.Float32x16) {
	k := len(x0)
	if k == 0 {
		return
	}
	if len(x1) < k || len(b) < (k-1)*ldb+32 {
		panic("gemm: bad axpy arguments")
	}
	px0, px1, pb := unsafe.Pointer(&x0[0]), unsafe.Pointer(&x1[0]), unsafe.Pointer(&b[0])
	step := uintptr(ldb) * 4
	for q, off := uintptr(0), uintptr(0); q < uintptr(k)*4; q, off = q+4, off+step {
		row := unsafe.Add(pb, off)
		b0 := archsimd.LoadFloat32x16((*[16]float32)(row))
		b1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(row, 64)))
		s := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(px0, q)))
		c00 = s.MulAdd(b0, c00)
		c01 = s.MulAdd(b1, c01)
		s = archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(px1, q)))
		c10 = s.MulAdd(b0, c10)
		c11 = s.MulAdd(b1, c11)
	}
	return
}

// rows2N512 computes y0 = x0·B and y1 = x1·B.
func rows2N512(n int, x0, x1, b []float32, ldb int, y0, y1 []float32) {
	x1 = x1[:len(x0)]
	j := 0
	for ; j+32 <= n; j += 32 {
		c00, c01, c10, c11 := axpy2x2512(x0, x1, b[j:], ldb)
		c00.StoreSlice(y0[j:])
		c01.StoreSlice(y0[j+16:])
		c10.StoreSlice(y1[j:])
		c11.StoreSlice(y1[j+16:])
	}
	for ; j < n; j += 16 {
		w := min(16, n-j)
		var c0, c1 archsimd.Float32x16
		for q, xv := range x0 {
			bv := loadPart512(b[q*ldb+j : q*ldb+j+w])
			c0 = archsimd.BroadcastFloat32x16(xv).MulAdd(bv, c0)
			c1 = archsimd.BroadcastFloat32x16(x1[q]).MulAdd(bv, c1)
		}
		storePart512(c0, y0[j:j+w])
		storePart512(c1, y1[j:j+w])
	}
}

// gemvT512 is the AVX-512 impl.gemvT.
func gemvT512(x, b []float32, ldb int, y []float32) {
	k := len(x)
	full := k / 16 * 16
	j := 0
	for ; j+4 <= len(y); j += 4 {
		r := b[j*ldb : (j+3)*ldb+k]
		s0, s1, s2, s3 := dots4512(full, x, r, ldb)
		if full < k {
			u := loadPart512(x[full:])
			s0 = u.MulAdd(loadPart512(r[full:k]), s0)
			s1 = u.MulAdd(loadPart512(r[ldb+full:ldb+k]), s1)
			s2 = u.MulAdd(loadPart512(r[2*ldb+full:2*ldb+k]), s2)
			s3 = u.MulAdd(loadPart512(r[3*ldb+full:3*ldb+k]), s3)
		}
		y[j], y[j+1], y[j+2], y[j+3] = hsum512(s0), hsum512(s1), hsum512(s2), hsum512(s3)
	}
	for ; j < len(y); j++ {
		r := b[j*ldb : j*ldb+k]
		var s archsimd.Float32x16
		for q := 0; q < full; q += 16 {
			s = archsimd.LoadFloat32x16Slice(x[q:]).MulAdd(archsimd.LoadFloat32x16Slice(r[q:]), s)
		}
		if full < k {
			s = loadPart512(x[full:]).MulAdd(loadPart512(r[full:]), s)
		}
		y[j] = hsum512(s)
	}
}

// dots4512 returns the partial dot products, over [0, full) (a multiple of
// 16), of x with the rows r[i*ldb:] for i < 4.
func dots4512(full int, x, r []float32, ldb int) (s0, s1, s2, s3 archsimd.Float32x16) {
	if full == 0 {
		return
	}
	if len(x) < full || len(r) < 3*ldb+full {
		panic("gemm: bad dot arguments")
	}
	px, pr := unsafe.Pointer(&x[0]), unsafe.Pointer(&r[0])
	o1, o2, o3 := uintptr(ldb)*4, uintptr(2*ldb)*4, uintptr(3*ldb)*4
	for off := uintptr(0); off < uintptr(full)*4; off += 64 {
		u := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(px, off)))
		s0 = u.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pr, off))), s0)
		s1 = u.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pr, o1+off))), s1)
		s2 = u.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pr, o2+off))), s2)
		s3 = u.MulAdd(archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pr, o3+off))), s3)
	}
	return
}

func hsum512(v archsimd.Float32x16) float32 {
	return hsum256(v.GetLo().Add(v.GetHi()))
}

func hsum256(v archsimd.Float32x8) float32 {
	w := v.GetLo().Add(v.GetHi())
	w = w.AddPairs(w)
	w = w.AddPairs(w)
	return w.GetElem(0)
}

// loadPart512 loads the first min(len(s), 16) values of s, and zeros.
// (archsimd's LoadFloat32x16SlicePart is not used: its array pointer may straddle
// the end of the allocation, which -d=checkptr, on with -race, rejects.)
func loadPart512(s []float32) archsimd.Float32x16 {
	if len(s) >= 16 {
		return archsimd.LoadFloat32x16Slice(s)
	}
	var buf [16]float32
	copy(buf[:], s)
	return archsimd.LoadFloat32x16(&buf)
}

// storePart512 stores the first min(len(s), 16) values of v in s.
func storePart512(v archsimd.Float32x16, s []float32) {
	if len(s) >= 16 {
		v.StoreSlice(s)
		return
	}
	var buf [16]float32
	v.Store(&buf)
	copy(s, buf[:])
}
