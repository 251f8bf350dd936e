//go:build goexperiment.simd && amd64

package gemm

import (
	"simd/archsimd"
	"unsafe"
)

// finish256 is the AVX2 impl.finish.
func finish256(u *update) {
	for i := range u.m {
		c := u.c[i*u.ldc : i*u.ldc+u.n]
		linear256(c, u.acc[i*u.lda:i*u.lda+u.n], u.bias, u.alpha, u.beta)
		if u.act != None || u.deriv != nil {
			var d []float32
			if u.deriv != nil {
				d = u.deriv[i*u.ldd:]
			}
			activate256(1, u.n, c, u.ldc, u.act, d, u.ldd)
		}
	}
}

// linear256 sets c[j] = alpha*acc[j] + beta*c[j] + bias[j] for j < len(c).
func linear256(c, acc, bias []float32, alpha, beta float32) {
	n := len(c)
	acc = acc[:n]
	if bias != nil {
		bias = bias[:n]
	}
	va := archsimd.BroadcastFloat32x8(alpha)
	vb := archsimd.BroadcastFloat32x8(beta)
	j := 0
	for ; j+8 <= n; j += 8 {
		v := archsimd.LoadFloat32x8Slice(acc[j:])
		if alpha != 1 {
			v = v.Mul(va)
		}
		if beta != 0 {
			v = vb.MulAdd(archsimd.LoadFloat32x8Slice(c[j:]), v)
		}
		if bias != nil {
			v = v.Add(archsimd.LoadFloat32x8Slice(bias[j:]))
		}
		v.StoreSlice(c[j:])
	}
	if j == n {
		return
	}
	v := loadPart256(acc[j:])
	if alpha != 1 {
		v = v.Mul(va)
	}
	if beta != 0 {
		v = vb.MulAdd(loadPart256(c[j:]), v)
	}
	if bias != nil {
		v = v.Add(loadPart256(bias[j:]))
	}
	storePart256(v, c[j:])
}

// activate256 applies act in place to the m×n block c with row stride ldc
// and, when d is not nil, writes act' at the original values to d (row
// stride ldd).
func activate256(m, n int, c []float32, ldc int, act Activation, d []float32, ldd int) {
	if act == SiLU {
		silu256(m, n, c, ldc, d, ldd)
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		var drow []float32
		if d != nil {
			drow = d[i*ldd : i*ldd+n]
		}
		j := 0
		for ; j+8 <= n; j += 8 {
			y, dy := act256(act, archsimd.LoadFloat32x8Slice(row[j:]), drow != nil)
			y.StoreSlice(row[j:])
			if drow != nil {
				dy.StoreSlice(drow[j:])
			}
		}
		if j == n {
			continue
		}
		y, dy := act256(act, loadPart256(row[j:]), drow != nil)
		storePart256(y, row[j:])
		if drow != nil {
			storePart256(dy, drow[j:])
		}
	}
}

// silu256 is activate256 for SiLU, with the sigmoid written out in the
// loop so that it is inlined: through act256 and sigmoid256 the loop ran at
// half the rate (3 against 1.5 ns per value on a Zen 3 core), and the SiLU
// epilogues were 15 % of the gmm2d iteration. The arithmetic is the same,
// so are the results, bit for bit.
func silu256(m, n int, c []float32, ldc int, d []float32, ldd int) {
	one := ld256(&c256.one)
	var zero archsimd.Float32x8
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		j := 0
		if d == nil {
			for ; j+8 <= n; j += 8 {
				z := archsimd.LoadFloat32x8Slice(row[j:])
				s := recip256(one.Add(exp256(zero.Sub(z))))
				z.Mul(s).StoreSlice(row[j:])
			}
		} else {
			drow := d[i*ldd : i*ldd+n]
			for ; j+8 <= n; j += 8 {
				z := archsimd.LoadFloat32x8Slice(row[j:])
				s := recip256(one.Add(exp256(zero.Sub(z))))
				y := z.Mul(s)
				y.StoreSlice(row[j:])
				y.MulAdd(one.Sub(s), s).StoreSlice(drow[j:])
			}
		}
		if j == n {
			continue
		}
		y, dy := act256(SiLU, loadPart256(row[j:]), d != nil)
		storePart256(y, row[j:])
		if d != nil {
			storePart256(dy, d[i*ldd+j:i*ldd+n])
		}
	}
}

// act256 returns act(z) and, when deriv is set, act'(z): ReLU [z > 0],
// SiLU σ + y(1 − σ) with y = zσ, tanh 1 − y², sigmoid y(1 − y), 1 for None.
func act256(act Activation, z archsimd.Float32x8, deriv bool) (y, dy archsimd.Float32x8) {
	one := ld256(&c256.one)
	switch act {
	case None:
		return z, one
	case ReLU:
		var zero archsimd.Float32x8
		y = z.Max(zero)
		if deriv {
			dy = one.Masked(z.Greater(zero))
		}
	case SiLU:
		s := sigmoid256(z)
		y = z.Mul(s)
		if deriv {
			dy = y.MulAdd(one.Sub(s), s)
		}
	case Tanh:
		y = tanh256(z)
		if deriv {
			dy = one.Sub(y.Mul(y))
		}
	case Sigmoid:
		y = sigmoid256(z)
		if deriv {
			dy = y.Mul(one.Sub(y))
		}
	}
	return y, dy
}

// consts256 holds the constants of the AVX2 activations, one vector each,
// so that they are loads (which FMAs can fold) rather than broadcasts.
type consts256 struct {
	one, expMin, expMax, log2e, negLn2Hi, negLn2Lo, p0, p1, p2, p3, p4, p5 [8]float32
	tanhMax, tanhMin, a1, a3, a5, a7, a9, a11, a13, b0, b2, b4, b6         [8]float32
}

var c256 = consts256{
	one: splat8(1), expMin: splat8(-88), expMax: splat8(88),
	log2e: splat8(log2e), negLn2Hi: splat8(-ln2Hi), negLn2Lo: splat8(-ln2Lo),
	p0: splat8(expP0), p1: splat8(expP1), p2: splat8(expP2), p3: splat8(expP3), p4: splat8(expP4), p5: splat8(expP5),
	tanhMax: splat8(tanhClamp), tanhMin: splat8(-tanhClamp),
	a1: splat8(tanhA1), a3: splat8(tanhA3), a5: splat8(tanhA5), a7: splat8(tanhA7), a9: splat8(tanhA9), a11: splat8(tanhA11), a13: splat8(tanhA13),
	b0: splat8(tanhB0), b2: splat8(tanhB2), b4: splat8(tanhB4), b6: splat8(tanhB6),
}

func splat8(x float32) (v [8]float32) {
	for i := range v {
		v[i] = x
	}
	return v
}

func ld256(v *[8]float32) archsimd.Float32x8 { return archsimd.LoadFloat32x8(v) }

// exp256 returns e**x, with the polynomial of Cephes' expf (about 1 ulp),
// for x in [-88, 88].
func exp256(x archsimd.Float32x8) archsimd.Float32x8 {
	x = x.Max(ld256(&c256.expMin)).Min(ld256(&c256.expMax))
	n := x.Mul(ld256(&c256.log2e)).RoundToEven()
	r := n.MulAdd(ld256(&c256.negLn2Hi), x)
	r = n.MulAdd(ld256(&c256.negLn2Lo), r)
	p := ld256(&c256.p0)
	p = p.MulAdd(r, ld256(&c256.p1))
	p = p.MulAdd(r, ld256(&c256.p2))
	p = p.MulAdd(r, ld256(&c256.p3))
	p = p.MulAdd(r, ld256(&c256.p4))
	p = p.MulAdd(r, ld256(&c256.p5))
	p = p.MulAdd(r.Mul(r), r.Add(ld256(&c256.one)))
	// 2**n, n in [-127, 127]: the exponent field n+127.
	e := n.ConvertToInt32().Add(archsimd.BroadcastInt32x8(127)).ShiftAllLeft(23).AsFloat32x8()
	return p.Mul(e)
}

// recip256 returns 1/x, from the 14-bit estimate and a Newton step.
func recip256(x archsimd.Float32x8) archsimd.Float32x8 {
	r := x.Reciprocal()
	// r*(2 - x*r) = r + r*(1 - x*r)
	e := ld256(&c256.one).Sub(x.Mul(r))
	return r.MulAdd(e, r)
}

// sigmoid256 returns 1/(1+e**-x).
func sigmoid256(x archsimd.Float32x8) archsimd.Float32x8 {
	one := ld256(&c256.one)
	return recip256(one.Add(exp256(archsimd.Float32x8{}.Sub(x))))
}

// tanh256 returns tanh(x) as the rational approximation of Eigen.
func tanh256(x archsimd.Float32x8) archsimd.Float32x8 {
	x = x.Max(ld256(&c256.tanhMin)).Min(ld256(&c256.tanhMax))
	x2 := x.Mul(x)
	p := ld256(&c256.a13)
	p = p.MulAdd(x2, ld256(&c256.a11))
	p = p.MulAdd(x2, ld256(&c256.a9))
	p = p.MulAdd(x2, ld256(&c256.a7))
	p = p.MulAdd(x2, ld256(&c256.a5))
	p = p.MulAdd(x2, ld256(&c256.a3))
	p = p.MulAdd(x2, ld256(&c256.a1))
	q := ld256(&c256.b6)
	q = q.MulAdd(x2, ld256(&c256.b4))
	q = q.MulAdd(x2, ld256(&c256.b2))
	q = q.MulAdd(x2, ld256(&c256.b0))
	return x.Mul(p).Mul(recip256(q))
}

// gemvN256 is the AVX2 impl.gemvN.
func gemvN256(m, n, k int, x []float32, ldx int, b []float32, ldb int, y []float32, ldy int) {
	i := 0
	for ; i+2 <= m; i += 2 {
		rows2N256(n, x[i*ldx:i*ldx+k], x[(i+1)*ldx:(i+1)*ldx+k], b, ldb, y[i*ldy:i*ldy+n], y[(i+1)*ldy:(i+1)*ldy+n])
	}
	if i < m {
		rowN256(n, x[i*ldx:i*ldx+k], b, ldb, y[i*ldy:i*ldy+n])
	}
}

// rowN256 computes y = x·B.
func rowN256(n int, x, b []float32, ldb int, y []float32) {
	j := 0
	for ; j+32 <= n; j += 32 {
		c0, c1, c2, c3 := axpy1x4256(x, b[j:], ldb)
		c0.StoreSlice(y[j:])
		c1.StoreSlice(y[j+8:])
		c2.StoreSlice(y[j+16:])
		c3.StoreSlice(y[j+24:])
	}
	for ; j < n; j += 8 {
		w := min(8, n-j)
		var c0 archsimd.Float32x8
		for q, xv := range x {
			c0 = archsimd.BroadcastFloat32x8(xv).MulAdd(loadPart256(b[q*ldb+j:q*ldb+j+w]), c0)
		}
		storePart256(c0, y[j:j+w])
	}
}

// axpy1x4256 returns Σ_q x[q]*b[q*ldb+j] for j < 32, as 4 vectors.
func axpy1x4256(x, b []float32, ldb int) (c0, c1, c2, c3 archsimd.Float32x8) {
	k := len(x)
	if k == 0 {
		return
	}
	if len(b) < (k-1)*ldb+32 {
		panic("gemm: bad axpy arguments")
	}
	px, pb := unsafe.Pointer(&x[0]), unsafe.Pointer(&b[0])
	step := uintptr(ldb) * 4
	for q, off := uintptr(0), uintptr(0); q < uintptr(k)*4; q, off = q+4, off+step {
		s := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(px, q)))
		row := unsafe.Add(pb, off)
		c0 = s.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(row)), c0)
		c1 = s.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(row, 32))), c1)
		c2 = s.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(row, 64))), c2)
		c3 = s.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(row, 96))), c3)
	}
	return
}

// axpy2x2256 returns Σ_q x0[q]*b[q*ldb+j] and Σ_q x1[q]*b[q*ldb+j] for
// j < 16, as two vectors each.
func axpy2x2256(x0, x1, b []float32, ldb int) (c00, c01, c10, c11 archsimd.Float32x8) {
	k := len(x0)
	if k == 0 {
		return
	}
	if len(x1) < k || len(b) < (k-1)*ldb+16 {
		panic("gemm: bad axpy arguments")
	}
	px0, px1, pb := unsafe.Pointer(&x0[0]), unsafe.Pointer(&x1[0]), unsafe.Pointer(&b[0])
	step := uintptr(ldb) * 4
	for q, off := uintptr(0), uintptr(0); q < uintptr(k)*4; q, off = q+4, off+step {
		row := unsafe.Add(pb, off)
		b0 := archsimd.LoadFloat32x8((*[8]float32)(row))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(row, 32)))
		s := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(px0, q)))
		c00 = s.MulAdd(b0, c00)
		c01 = s.MulAdd(b1, c01)
		s = archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(px1, q)))
		c10 = s.MulAdd(b0, c10)
		c11 = s.MulAdd(b1, c11)
	}
	return
}

// rows2N256 computes y0 = x0·B and y1 = x1·B.
func rows2N256(n int, x0, x1, b []float32, ldb int, y0, y1 []float32) {
	x1 = x1[:len(x0)]
	j := 0
	for ; j+16 <= n; j += 16 {
		c00, c01, c10, c11 := axpy2x2256(x0, x1, b[j:], ldb)
		c00.StoreSlice(y0[j:])
		c01.StoreSlice(y0[j+8:])
		c10.StoreSlice(y1[j:])
		c11.StoreSlice(y1[j+8:])
	}
	for ; j < n; j += 8 {
		w := min(8, n-j)
		var c0, c1 archsimd.Float32x8
		for q, xv := range x0 {
			bv := loadPart256(b[q*ldb+j : q*ldb+j+w])
			c0 = archsimd.BroadcastFloat32x8(xv).MulAdd(bv, c0)
			c1 = archsimd.BroadcastFloat32x8(x1[q]).MulAdd(bv, c1)
		}
		storePart256(c0, y0[j:j+w])
		storePart256(c1, y1[j:j+w])
	}
}

// gemvT256 is the AVX2 impl.gemvT.
func gemvT256(x, b []float32, ldb int, y []float32) {
	k := len(x)
	full := k / 8 * 8
	j := 0
	for ; j+4 <= len(y); j += 4 {
		r := b[j*ldb : (j+3)*ldb+k]
		s0, s1, s2, s3 := dots4256(full, x, r, ldb)
		if full < k {
			u := loadPart256(x[full:])
			s0 = u.MulAdd(loadPart256(r[full:k]), s0)
			s1 = u.MulAdd(loadPart256(r[ldb+full:ldb+k]), s1)
			s2 = u.MulAdd(loadPart256(r[2*ldb+full:2*ldb+k]), s2)
			s3 = u.MulAdd(loadPart256(r[3*ldb+full:3*ldb+k]), s3)
		}
		y[j], y[j+1], y[j+2], y[j+3] = hsum256(s0), hsum256(s1), hsum256(s2), hsum256(s3)
	}
	for ; j < len(y); j++ {
		r := b[j*ldb : j*ldb+k]
		var s archsimd.Float32x8
		for q := 0; q < full; q += 8 {
			s = archsimd.LoadFloat32x8Slice(x[q:]).MulAdd(archsimd.LoadFloat32x8Slice(r[q:]), s)
		}
		if full < k {
			s = loadPart256(x[full:]).MulAdd(loadPart256(r[full:]), s)
		}
		y[j] = hsum256(s)
	}
}

// dots4256 returns the partial dot products, over [0, full) (a multiple of
// 8), of x with the rows r[i*ldb:] for i < 4.
func dots4256(full int, x, r []float32, ldb int) (s0, s1, s2, s3 archsimd.Float32x8) {
	if full == 0 {
		return
	}
	if len(x) < full || len(r) < 3*ldb+full {
		panic("gemm: bad dot arguments")
	}
	px, pr := unsafe.Pointer(&x[0]), unsafe.Pointer(&r[0])
	o1, o2, o3 := uintptr(ldb)*4, uintptr(2*ldb)*4, uintptr(3*ldb)*4
	for off := uintptr(0); off < uintptr(full)*4; off += 32 {
		u := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(px, off)))
		s0 = u.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pr, off))), s0)
		s1 = u.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pr, o1+off))), s1)
		s2 = u.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pr, o2+off))), s2)
		s3 = u.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pr, o3+off))), s3)
	}
	return
}

// loadPart256 loads the first min(len(s), 8) values of s, and zeros.
// (archsimd's LoadFloat32x8SlicePart is not used: its array pointer may straddle
// the end of the allocation, which -d=checkptr, on with -race, rejects.)
func loadPart256(s []float32) archsimd.Float32x8 {
	if len(s) >= 8 {
		return archsimd.LoadFloat32x8Slice(s)
	}
	var buf [8]float32
	copy(buf[:], s)
	return archsimd.LoadFloat32x8(&buf)
}

// storePart256 stores the first min(len(s), 8) values of v in s.
func storePart256(v archsimd.Float32x8, s []float32) {
	if len(s) >= 8 {
		v.StoreSlice(s)
		return
	}
	var buf [8]float32
	v.Store(&buf)
	copy(s, buf[:])
}
