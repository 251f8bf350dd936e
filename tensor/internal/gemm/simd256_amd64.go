//go:build goexperiment.simd && amd64

package gemm

import (
	"simd/archsimd"
	"unsafe"
)

// avx2 is the AVX2 implementation: a 5×16 micro-kernel on Float32x8.
var avx2 = &impl{
	name: "avx2", kind: kindAVX2,
	mr: 5, nr: 16,
	kc: 512, mc: 120, nc: 512,
}

// kernel5x16 is the AVX2 micro-kernel: ten Float32x8 accumulators, two B
// vectors and a broadcast A value (and its copy) per k step.
func kernel5x16(kc int, a []float32, rsa, csa int, b, t []float32) {
	if kc <= 0 || rsa <= 0 || csa <= 0 || len(a) <= max(4*rsa+(kc-1)*csa, kc*csa) || len(b) < 16*kc+16 || len(t) < 5*16 {
		panic("gemm: bad micro-kernel arguments")
	}
	o1, o2, o3, o4 := uintptr(rsa)*4, uintptr(2*rsa)*4, uintptr(3*rsa)*4, uintptr(4*rsa)*4
	step := uintptr(csa) * 4
	pa := unsafe.Pointer(&a[0])
	pb := unsafe.Pointer(&b[0])
	var c00, c01, c10, c11, c20, c21, c30, c31, c40, c41 archsimd.Float32x8
	for ; kc > 0; kc-- {
		b0 := archsimd.LoadFloat32x8((*[8]float32)(pb))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pb, 32)))
		a0 := archsimd.BroadcastFloat32x8(*(*float32)(pa))
		c00 = a0.MulAdd(b0, c00)
		c01 = a0.MulAdd(b1, c01)
		if uintptr(pa) == ^uintptr(0) {
			break
		}
		a1 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(pa, o1)))
		c10 = a1.MulAdd(b0, c10)
		c11 = a1.MulAdd(b1, c11)
		if uintptr(pa) == ^uintptr(1) {
			break
		}
		a2 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(pa, o2)))
		c20 = a2.MulAdd(b0, c20)
		c21 = a2.MulAdd(b1, c21)
		if uintptr(pa) == ^uintptr(2) {
			break
		}
		a3 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(pa, o3)))
		c30 = a3.MulAdd(b0, c30)
		c31 = a3.MulAdd(b1, c31)
		if uintptr(pa) == ^uintptr(3) {
			break
		}
		a4 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(pa, o4)))
		c40 = a4.MulAdd(b0, c40)
		c41 = a4.MulAdd(b1, c41)
		pa = unsafe.Add(pa, step)
		pb = unsafe.Add(pb, 16*4)
	}
	t = t[:5*16]
	c00.StoreSlice(t[0:])
	c01.StoreSlice(t[8:])
	c10.StoreSlice(t[16:])
	c11.StoreSlice(t[24:])
	c20.StoreSlice(t[32:])
	c21.StoreSlice(t[40:])
	c30.StoreSlice(t[48:])
	c31.StoreSlice(t[56:])
	c40.StoreSlice(t[64:])
	c41.StoreSlice(t[72:])
}

// finish256 is the AVX2 impl.finish.
func finish256(u *update) {
	for i := range u.m {
		c := u.c[i*u.ldc : i*u.ldc+u.n]
		var pre []float32
		if u.pre != nil {
			pre = u.pre[i*u.ldp : i*u.ldp+u.n]
		}
		linear256(c, u.acc[i*u.lda:i*u.lda+u.n], u.bias, pre, u.alpha, u.beta)
		if u.act != None {
			activate256(c, u.act)
		}
	}
}

// linear256 sets c[j] = alpha*acc[j] + beta*c[j] + bias[j] and pre[j] to
// the same, for j < len(c).
func linear256(c, acc, bias, pre []float32, alpha, beta float32) {
	n := len(c)
	acc = acc[:n]
	if bias != nil {
		bias = bias[:n]
	}
	if pre != nil {
		pre = pre[:n]
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
		if pre != nil {
			v.StoreSlice(pre[j:])
		}
		v.StoreSlice(c[j:])
	}
	if j == n {
		return
	}
	v := archsimd.LoadFloat32x8SlicePart(acc[j:])
	if alpha != 1 {
		v = v.Mul(va)
	}
	if beta != 0 {
		v = vb.MulAdd(archsimd.LoadFloat32x8SlicePart(c[j:]), v)
	}
	if bias != nil {
		v = v.Add(archsimd.LoadFloat32x8SlicePart(bias[j:]))
	}
	if pre != nil {
		v.StoreSlicePart(pre[j:])
	}
	v.StoreSlicePart(c[j:])
}

// activate256 applies act to c in place.
func activate256(c []float32, act Activation) {
	n := len(c)
	j := 0
	switch act {
	case ReLU:
		for ; j+8 <= n; j += 8 {
			archsimd.LoadFloat32x8Slice(c[j:]).Max(archsimd.Float32x8{}).StoreSlice(c[j:])
		}
	case SiLU:
		for ; j+16 <= n; j += 16 {
			v0 := silu256(archsimd.LoadFloat32x8Slice(c[j:]))
			v1 := silu256(archsimd.LoadFloat32x8Slice(c[j+8:]))
			v0.StoreSlice(c[j:])
			v1.StoreSlice(c[j+8:])
		}
		for ; j+8 <= n; j += 8 {
			silu256(archsimd.LoadFloat32x8Slice(c[j:])).StoreSlice(c[j:])
		}
	case Tanh:
		for ; j+16 <= n; j += 16 {
			v0 := tanh256(archsimd.LoadFloat32x8Slice(c[j:]))
			v1 := tanh256(archsimd.LoadFloat32x8Slice(c[j+8:]))
			v0.StoreSlice(c[j:])
			v1.StoreSlice(c[j+8:])
		}
		for ; j+8 <= n; j += 8 {
			tanh256(archsimd.LoadFloat32x8Slice(c[j:])).StoreSlice(c[j:])
		}
	case Sigmoid:
		for ; j+16 <= n; j += 16 {
			v0 := sigmoid256(archsimd.LoadFloat32x8Slice(c[j:]))
			v1 := sigmoid256(archsimd.LoadFloat32x8Slice(c[j+8:]))
			v0.StoreSlice(c[j:])
			v1.StoreSlice(c[j+8:])
		}
		for ; j+8 <= n; j += 8 {
			sigmoid256(archsimd.LoadFloat32x8Slice(c[j:])).StoreSlice(c[j:])
		}
	}
	if j == n {
		return
	}
	v := archsimd.LoadFloat32x8SlicePart(c[j:])
	switch act {
	case ReLU:
		v = v.Max(archsimd.Float32x8{})
	case SiLU:
		v = silu256(v)
	case Tanh:
		v = tanh256(v)
	case Sigmoid:
		v = sigmoid256(v)
	}
	v.StoreSlicePart(c[j:])
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

// silu256 returns x/(1+e**-x).
func silu256(x archsimd.Float32x8) archsimd.Float32x8 {
	return x.Mul(sigmoid256(x))
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
		var c0, c1, c2, c3 archsimd.Float32x8
		for q, xv := range x {
			row := b[q*ldb+j : q*ldb+j+32]
			s := archsimd.BroadcastFloat32x8(xv)
			c0 = s.MulAdd(archsimd.LoadFloat32x8Slice(row[0:8]), c0)
			c1 = s.MulAdd(archsimd.LoadFloat32x8Slice(row[8:16]), c1)
			c2 = s.MulAdd(archsimd.LoadFloat32x8Slice(row[16:24]), c2)
			c3 = s.MulAdd(archsimd.LoadFloat32x8Slice(row[24:32]), c3)
		}
		c0.StoreSlice(y[j:])
		c1.StoreSlice(y[j+8:])
		c2.StoreSlice(y[j+16:])
		c3.StoreSlice(y[j+24:])
	}
	for ; j < n; j += 8 {
		w := min(8, n-j)
		var c0 archsimd.Float32x8
		for q, xv := range x {
			c0 = archsimd.BroadcastFloat32x8(xv).MulAdd(archsimd.LoadFloat32x8SlicePart(b[q*ldb+j:q*ldb+j+w]), c0)
		}
		c0.StoreSlicePart(y[j : j+w])
	}
}

// rows2N256 computes y0 = x0·B and y1 = x1·B.
func rows2N256(n int, x0, x1, b []float32, ldb int, y0, y1 []float32) {
	x1 = x1[:len(x0)]
	j := 0
	for ; j+16 <= n; j += 16 {
		var c00, c01, c10, c11 archsimd.Float32x8
		for q, xv := range x0 {
			row := b[q*ldb+j : q*ldb+j+16]
			b0 := archsimd.LoadFloat32x8Slice(row[0:8])
			b1 := archsimd.LoadFloat32x8Slice(row[8:16])
			s := archsimd.BroadcastFloat32x8(xv)
			c00 = s.MulAdd(b0, c00)
			c01 = s.MulAdd(b1, c01)
			s = archsimd.BroadcastFloat32x8(x1[q])
			c10 = s.MulAdd(b0, c10)
			c11 = s.MulAdd(b1, c11)
		}
		c00.StoreSlice(y0[j:])
		c01.StoreSlice(y0[j+8:])
		c10.StoreSlice(y1[j:])
		c11.StoreSlice(y1[j+8:])
	}
	for ; j < n; j += 8 {
		w := min(8, n-j)
		var c0, c1 archsimd.Float32x8
		for q, xv := range x0 {
			bv := archsimd.LoadFloat32x8SlicePart(b[q*ldb+j : q*ldb+j+w])
			c0 = archsimd.BroadcastFloat32x8(xv).MulAdd(bv, c0)
			c1 = archsimd.BroadcastFloat32x8(x1[q]).MulAdd(bv, c1)
		}
		c0.StoreSlicePart(y0[j : j+w])
		c1.StoreSlicePart(y1[j : j+w])
	}
}

// gemvT256 is the AVX2 impl.gemvT: y = B·x, B row-major.
func gemvT256(x, b []float32, ldb int, y []float32) {
	k := len(x)
	j := 0
	for ; j+4 <= len(y); j += 4 {
		r0 := b[j*ldb : j*ldb+k]
		r1 := b[(j+1)*ldb : (j+1)*ldb+k]
		r2 := b[(j+2)*ldb : (j+2)*ldb+k]
		r3 := b[(j+3)*ldb : (j+3)*ldb+k]
		var s0, s1, s2, s3 archsimd.Float32x8
		for q := 0; q < k; q += 8 {
			xv := archsimd.LoadFloat32x8SlicePart(x[q:])
			s0 = xv.MulAdd(archsimd.LoadFloat32x8SlicePart(r0[q:]), s0)
			s1 = xv.MulAdd(archsimd.LoadFloat32x8SlicePart(r1[q:]), s1)
			s2 = xv.MulAdd(archsimd.LoadFloat32x8SlicePart(r2[q:]), s2)
			s3 = xv.MulAdd(archsimd.LoadFloat32x8SlicePart(r3[q:]), s3)
		}
		y[j], y[j+1], y[j+2], y[j+3] = hsum256(s0), hsum256(s1), hsum256(s2), hsum256(s3)
	}
	for ; j < len(y); j++ {
		r0 := b[j*ldb : j*ldb+k]
		var s0 archsimd.Float32x8
		for q := 0; q < k; q += 8 {
			s0 = archsimd.LoadFloat32x8SlicePart(x[q:]).MulAdd(archsimd.LoadFloat32x8SlicePart(r0[q:]), s0)
		}
		y[j] = hsum256(s0)
	}
}
