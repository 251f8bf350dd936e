//go:build goexperiment.simd && amd64

package gemm

import (
	"simd/archsimd"
	"unsafe"
)

// avx512 is the AVX-512 implementation: a 5×32 micro-kernel on Float32x16.
var avx512 = &impl{
	name: "avx512", kind: kindAVX512,
	mr: 5, nr: 32,
	kc: 512, mc: 120, nc: 256,
}

// kernel5x32 is the AVX-512 micro-kernel: ten Float32x16 accumulators, two B
// vectors and a broadcast A value (and its copy) per k step.
func kernel5x32(kc int, a []float32, rsa, csa int, b, t []float32) {
	if kc <= 0 || rsa <= 0 || csa <= 0 || len(a) <= max(4*rsa+(kc-1)*csa, kc*csa) || len(b) < 32*kc+32 || len(t) < 5*32 {
		panic("gemm: bad micro-kernel arguments")
	}
	o1, o2, o3, o4 := uintptr(rsa)*4, uintptr(2*rsa)*4, uintptr(3*rsa)*4, uintptr(4*rsa)*4
	step := uintptr(csa) * 4
	pa := unsafe.Pointer(&a[0])
	pb := unsafe.Pointer(&b[0])
	var c00, c01, c10, c11, c20, c21, c30, c31, c40, c41 archsimd.Float32x16
	for ; kc > 0; kc-- {
		b0 := archsimd.LoadFloat32x16((*[16]float32)(pb))
		b1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb, 64)))
		a0 := archsimd.BroadcastFloat32x16(*(*float32)(pa))
		c00 = a0.MulAdd(b0, c00)
		c01 = a0.MulAdd(b1, c01)
		if uintptr(pa) == ^uintptr(0) {
			break
		}
		a1 := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(pa, o1)))
		c10 = a1.MulAdd(b0, c10)
		c11 = a1.MulAdd(b1, c11)
		if uintptr(pa) == ^uintptr(1) {
			break
		}
		a2 := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(pa, o2)))
		c20 = a2.MulAdd(b0, c20)
		c21 = a2.MulAdd(b1, c21)
		if uintptr(pa) == ^uintptr(2) {
			break
		}
		a3 := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(pa, o3)))
		c30 = a3.MulAdd(b0, c30)
		c31 = a3.MulAdd(b1, c31)
		if uintptr(pa) == ^uintptr(3) {
			break
		}
		a4 := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(pa, o4)))
		c40 = a4.MulAdd(b0, c40)
		c41 = a4.MulAdd(b1, c41)
		pa = unsafe.Add(pa, step)
		pb = unsafe.Add(pb, 32*4)
	}
	t = t[:5*32]
	c00.StoreSlice(t[0:])
	c01.StoreSlice(t[16:])
	c10.StoreSlice(t[32:])
	c11.StoreSlice(t[48:])
	c20.StoreSlice(t[64:])
	c21.StoreSlice(t[80:])
	c30.StoreSlice(t[96:])
	c31.StoreSlice(t[112:])
	c40.StoreSlice(t[128:])
	c41.StoreSlice(t[144:])
}

// finish512 is the AVX-512 impl.finish.
func finish512(u *update) {
	for i := range u.m {
		c := u.c[i*u.ldc : i*u.ldc+u.n]
		var pre []float32
		if u.pre != nil {
			pre = u.pre[i*u.ldp : i*u.ldp+u.n]
		}
		linear512(c, u.acc[i*u.lda:i*u.lda+u.n], u.bias, pre, u.alpha, u.beta)
		if u.act != None {
			activate512(c, u.act)
		}
	}
}

// linear512 sets c[j] = alpha*acc[j] + beta*c[j] + bias[j] and pre[j] to
// the same, for j < len(c).
func linear512(c, acc, bias, pre []float32, alpha, beta float32) {
	n := len(c)
	acc = acc[:n]
	if bias != nil {
		bias = bias[:n]
	}
	if pre != nil {
		pre = pre[:n]
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
		if pre != nil {
			v.StoreSlice(pre[j:])
		}
		v.StoreSlice(c[j:])
	}
	if j == n {
		return
	}
	v := archsimd.LoadFloat32x16SlicePart(acc[j:])
	if alpha != 1 {
		v = v.Mul(va)
	}
	if beta != 0 {
		v = vb.MulAdd(archsimd.LoadFloat32x16SlicePart(c[j:]), v)
	}
	if bias != nil {
		v = v.Add(archsimd.LoadFloat32x16SlicePart(bias[j:]))
	}
	if pre != nil {
		v.StoreSlicePart(pre[j:])
	}
	v.StoreSlicePart(c[j:])
}

// activate512 applies act to c in place.
func activate512(c []float32, act Activation) {
	n := len(c)
	j := 0
	switch act {
	case ReLU:
		for ; j+16 <= n; j += 16 {
			archsimd.LoadFloat32x16Slice(c[j:]).Max(archsimd.Float32x16{}).StoreSlice(c[j:])
		}
	case SiLU:
		for ; j+32 <= n; j += 32 {
			v0 := silu512(archsimd.LoadFloat32x16Slice(c[j:]))
			v1 := silu512(archsimd.LoadFloat32x16Slice(c[j+16:]))
			v0.StoreSlice(c[j:])
			v1.StoreSlice(c[j+16:])
		}
		for ; j+16 <= n; j += 16 {
			silu512(archsimd.LoadFloat32x16Slice(c[j:])).StoreSlice(c[j:])
		}
	case Tanh:
		for ; j+32 <= n; j += 32 {
			v0 := tanh512(archsimd.LoadFloat32x16Slice(c[j:]))
			v1 := tanh512(archsimd.LoadFloat32x16Slice(c[j+16:]))
			v0.StoreSlice(c[j:])
			v1.StoreSlice(c[j+16:])
		}
		for ; j+16 <= n; j += 16 {
			tanh512(archsimd.LoadFloat32x16Slice(c[j:])).StoreSlice(c[j:])
		}
	case Sigmoid:
		for ; j+32 <= n; j += 32 {
			v0 := sigmoid512(archsimd.LoadFloat32x16Slice(c[j:]))
			v1 := sigmoid512(archsimd.LoadFloat32x16Slice(c[j+16:]))
			v0.StoreSlice(c[j:])
			v1.StoreSlice(c[j+16:])
		}
		for ; j+16 <= n; j += 16 {
			sigmoid512(archsimd.LoadFloat32x16Slice(c[j:])).StoreSlice(c[j:])
		}
	}
	if j == n {
		return
	}
	v := archsimd.LoadFloat32x16SlicePart(c[j:])
	switch act {
	case ReLU:
		v = v.Max(archsimd.Float32x16{})
	case SiLU:
		v = silu512(v)
	case Tanh:
		v = tanh512(v)
	case Sigmoid:
		v = sigmoid512(v)
	}
	v.StoreSlicePart(c[j:])
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

// silu512 returns x/(1+e**-x).
func silu512(x archsimd.Float32x16) archsimd.Float32x16 {
	return x.Mul(sigmoid512(x))
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
		var c0, c1, c2, c3 archsimd.Float32x16
		for q, xv := range x {
			row := b[q*ldb+j : q*ldb+j+64]
			s := archsimd.BroadcastFloat32x16(xv)
			c0 = s.MulAdd(archsimd.LoadFloat32x16Slice(row[0:16]), c0)
			c1 = s.MulAdd(archsimd.LoadFloat32x16Slice(row[16:32]), c1)
			c2 = s.MulAdd(archsimd.LoadFloat32x16Slice(row[32:48]), c2)
			c3 = s.MulAdd(archsimd.LoadFloat32x16Slice(row[48:64]), c3)
		}
		c0.StoreSlice(y[j:])
		c1.StoreSlice(y[j+16:])
		c2.StoreSlice(y[j+32:])
		c3.StoreSlice(y[j+48:])
	}
	for ; j < n; j += 16 {
		w := min(16, n-j)
		var c0 archsimd.Float32x16
		for q, xv := range x {
			c0 = archsimd.BroadcastFloat32x16(xv).MulAdd(archsimd.LoadFloat32x16SlicePart(b[q*ldb+j:q*ldb+j+w]), c0)
		}
		c0.StoreSlicePart(y[j : j+w])
	}
}

// rows2N512 computes y0 = x0·B and y1 = x1·B.
func rows2N512(n int, x0, x1, b []float32, ldb int, y0, y1 []float32) {
	x1 = x1[:len(x0)]
	j := 0
	for ; j+32 <= n; j += 32 {
		var c00, c01, c10, c11 archsimd.Float32x16
		for q, xv := range x0 {
			row := b[q*ldb+j : q*ldb+j+32]
			b0 := archsimd.LoadFloat32x16Slice(row[0:16])
			b1 := archsimd.LoadFloat32x16Slice(row[16:32])
			s := archsimd.BroadcastFloat32x16(xv)
			c00 = s.MulAdd(b0, c00)
			c01 = s.MulAdd(b1, c01)
			s = archsimd.BroadcastFloat32x16(x1[q])
			c10 = s.MulAdd(b0, c10)
			c11 = s.MulAdd(b1, c11)
		}
		c00.StoreSlice(y0[j:])
		c01.StoreSlice(y0[j+16:])
		c10.StoreSlice(y1[j:])
		c11.StoreSlice(y1[j+16:])
	}
	for ; j < n; j += 16 {
		w := min(16, n-j)
		var c0, c1 archsimd.Float32x16
		for q, xv := range x0 {
			bv := archsimd.LoadFloat32x16SlicePart(b[q*ldb+j : q*ldb+j+w])
			c0 = archsimd.BroadcastFloat32x16(xv).MulAdd(bv, c0)
			c1 = archsimd.BroadcastFloat32x16(x1[q]).MulAdd(bv, c1)
		}
		c0.StoreSlicePart(y0[j : j+w])
		c1.StoreSlicePart(y1[j : j+w])
	}
}

// gemvT512 is the AVX-512 impl.gemvT: y = B·x, B row-major.
func gemvT512(x, b []float32, ldb int, y []float32) {
	k := len(x)
	j := 0
	for ; j+4 <= len(y); j += 4 {
		r0 := b[j*ldb : j*ldb+k]
		r1 := b[(j+1)*ldb : (j+1)*ldb+k]
		r2 := b[(j+2)*ldb : (j+2)*ldb+k]
		r3 := b[(j+3)*ldb : (j+3)*ldb+k]
		var s0, s1, s2, s3 archsimd.Float32x16
		for q := 0; q < k; q += 16 {
			xv := archsimd.LoadFloat32x16SlicePart(x[q:])
			s0 = xv.MulAdd(archsimd.LoadFloat32x16SlicePart(r0[q:]), s0)
			s1 = xv.MulAdd(archsimd.LoadFloat32x16SlicePart(r1[q:]), s1)
			s2 = xv.MulAdd(archsimd.LoadFloat32x16SlicePart(r2[q:]), s2)
			s3 = xv.MulAdd(archsimd.LoadFloat32x16SlicePart(r3[q:]), s3)
		}
		y[j], y[j+1], y[j+2], y[j+3] = hsum512(s0), hsum512(s1), hsum512(s2), hsum512(s3)
	}
	for ; j < len(y); j++ {
		r0 := b[j*ldb : j*ldb+k]
		var s0 archsimd.Float32x16
		for q := 0; q < k; q += 16 {
			s0 = archsimd.LoadFloat32x16SlicePart(x[q:]).MulAdd(archsimd.LoadFloat32x16SlicePart(r0[q:]), s0)
		}
		y[j] = hsum512(s0)
	}
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
