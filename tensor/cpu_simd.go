//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"simd/archsimd"
)

var (
	hasAVX512 = archsimd.X86.AVX512()
	// hasAVX2 selects the 8-lane kernels where AVX-512 is missing (AMD
	// before Zen 4, Intel client cores): AVX2 with FMA.
	hasAVX2 = archsimd.X86.AVX2() && archsimd.X86.FMA()
)

// simdPath names the elementwise kernels in use.
var simdPath = func() string {
	switch {
	case hasAVX512:
		return "avx512"
	case hasAVX2:
		return "avx2"
	}
	return "generic"
}()

// exp16 is eˣ on 16 lanes with the range reduction and polynomial of exp32;
// inputs are clamped to [−87.3, 88.3], inside the normal float32 range.
func exp16(x archsimd.Float32x16) archsimd.Float32x16 {
	x = x.Max(archsimd.BroadcastFloat32x16(-87.3)).Min(archsimd.BroadcastFloat32x16(88.3))
	n := x.Mul(archsimd.BroadcastFloat32x16(1.44269504088896341)).RoundToEvenScaled(0)
	r := n.MulAdd(archsimd.BroadcastFloat32x16(-0.693359375), x)
	r = n.MulAdd(archsimd.BroadcastFloat32x16(2.12194440e-4), r)
	p := archsimd.BroadcastFloat32x16(1.9875691500e-4)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(1.3981999507e-3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(8.3334519073e-3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(4.1665795894e-2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(1.6666665459e-1))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(5.0000001201e-1))
	one := archsimd.BroadcastFloat32x16(1)
	y := p.Mul(r).MulAdd(r, r.Add(one))
	scale := n.ConvertToInt32().Add(archsimd.BroadcastInt32x16(127)).ShiftAllLeft(23).AsFloat32x16()
	return y.Mul(scale)
}

// exp8 is exp16 on 8 lanes (AVX2 and FMA).
func exp8(x archsimd.Float32x8) archsimd.Float32x8 {
	x = x.Max(archsimd.BroadcastFloat32x8(-87.3)).Min(archsimd.BroadcastFloat32x8(88.3))
	n := x.Mul(archsimd.BroadcastFloat32x8(1.44269504088896341)).RoundToEven()
	r := n.MulAdd(archsimd.BroadcastFloat32x8(-0.693359375), x)
	r = n.MulAdd(archsimd.BroadcastFloat32x8(2.12194440e-4), r)
	p := archsimd.BroadcastFloat32x8(1.9875691500e-4)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(1.3981999507e-3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(8.3334519073e-3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(4.1665795894e-2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(1.6666665459e-1))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(5.0000001201e-1))
	one := archsimd.BroadcastFloat32x8(1)
	y := p.Mul(r).MulAdd(r, r.Add(one))
	scale := n.ConvertToInt32().Add(archsimd.BroadcastInt32x8(127)).ShiftAllLeft(23).AsFloat32x8()
	return y.Mul(scale)
}

// sigmoid16 is 1/(1 + e⁻ˣ) on 16 lanes.
func sigmoid16(x archsimd.Float32x16) archsimd.Float32x16 {
	one := archsimd.BroadcastFloat32x16(1)
	return one.Div(one.Add(exp16(x.Mul(archsimd.BroadcastFloat32x16(-1)))))
}

// sigmoid8 is 1/(1 + e⁻ˣ) on 8 lanes.
func sigmoid8(x archsimd.Float32x8) archsimd.Float32x8 {
	one := archsimd.BroadcastFloat32x8(1)
	return one.Div(one.Add(exp8(x.Mul(archsimd.BroadcastFloat32x8(-1)))))
}

// The vector loops below return how many leading elements they did; the
// callers finish the rest with the scalar loops.

// siluF32 sets dst to src·σ(src) (dst may be src; equal lengths) and, if d
// is not nil, stores the derivative σ(1 + src(1 − σ)).
func siluF32(dst, src, d []float32) {
	src = src[:len(dst)]
	var i int
	switch {
	case hasAVX512:
		i = silu16(dst, src, d)
	case hasAVX2:
		i = silu8(dst, src, d)
	}
	var dt []float32
	if d != nil {
		dt = d[i:]
	}
	siluScalar(dst[i:], src[i:], dt)
}

func silu16(dst, src, d []float32) int {
	one := archsimd.BroadcastFloat32x16(1)
	i := 0
	for ; i+16 <= len(dst); i += 16 {
		z := archsimd.LoadFloat32x16Slice(src[i:])
		s := sigmoid16(z)
		z.Mul(s).StoreSlice(dst[i:])
		if d != nil {
			// σ(1 + z(1 − σ)) = σ + zσ(1 − σ)
			s.Mul(z.Mul(one.Sub(s)).Add(one)).StoreSlice(d[i:])
		}
	}
	archsimd.ClearAVXUpperBits() // before scalar code: see gemm's impl.kernel
	return i
}

func silu8(dst, src, d []float32) int {
	one := archsimd.BroadcastFloat32x8(1)
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		z := archsimd.LoadFloat32x8Slice(src[i:])
		s := sigmoid8(z)
		z.Mul(s).StoreSlice(dst[i:])
		if d != nil {
			s.Mul(z.Mul(one.Sub(s)).Add(one)).StoreSlice(d[i:])
		}
	}
	archsimd.ClearAVXUpperBits()
	return i
}

// sigmoidF32 sets dst to σ(src) (dst may be src; equal lengths) and, if d
// is not nil, stores σ(1 − σ).
func sigmoidF32(dst, src, d []float32) {
	src = src[:len(dst)]
	var i int
	switch {
	case hasAVX512:
		i = sigmoidVec16(dst, src, d)
	case hasAVX2:
		i = sigmoidVec8(dst, src, d)
	}
	var dt []float32
	if d != nil {
		dt = d[i:]
	}
	sigmoidScalar(dst[i:], src[i:], dt)
}

func sigmoidVec16(dst, src, d []float32) int {
	one := archsimd.BroadcastFloat32x16(1)
	i := 0
	for ; i+16 <= len(dst); i += 16 {
		s := sigmoid16(archsimd.LoadFloat32x16Slice(src[i:]))
		s.StoreSlice(dst[i:])
		if d != nil {
			s.Mul(one.Sub(s)).StoreSlice(d[i:])
		}
	}
	archsimd.ClearAVXUpperBits()
	return i
}

func sigmoidVec8(dst, src, d []float32) int {
	one := archsimd.BroadcastFloat32x8(1)
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		s := sigmoid8(archsimd.LoadFloat32x8Slice(src[i:]))
		s.StoreSlice(dst[i:])
		if d != nil {
			s.Mul(one.Sub(s)).StoreSlice(d[i:])
		}
	}
	archsimd.ClearAVXUpperBits()
	return i
}

// vectorBinary computes d = x op y for contiguous float32 slices of equal
// length, 16 or 8 lanes at a time, for Add, Sub, Mul and SiLUGrad (x the
// pre-activation, y the incoming gradient); it reports false (doing
// nothing) for other ops and dtypes and without AVX2.
func vectorBinary[T number](op BinaryOp, d, x, y []T) bool {
	d32, ok := any(d).([]float32)
	if !ok || !(hasAVX512 || hasAVX2) || (op != OpAdd && op != OpSub && op != OpMul && op != OpSiLUGrad) {
		return false
	}
	x32, y32 := any(x).([]float32), any(y).([]float32)
	n := len(d32)
	x32, y32 = x32[:n], y32[:n]
	var i int
	if hasAVX512 {
		i = binary16(op, d32, x32, y32)
	} else {
		i = binary8(op, d32, x32, y32)
	}
	if op == OpSiLUGrad {
		siluGrad(d32[i:], x32[i:], y32[i:], n-i, 1, 1, 1)
		return true
	}
	for ; i < n; i++ {
		switch op {
		case OpAdd:
			d32[i] = x32[i] + y32[i]
		case OpSub:
			d32[i] = x32[i] - y32[i]
		default:
			d32[i] = x32[i] * y32[i]
		}
	}
	return true
}

func binary16(op BinaryOp, d, x, y []float32) int {
	one := archsimd.BroadcastFloat32x16(1)
	i := 0
	for ; i+16 <= len(d); i += 16 {
		a, b := archsimd.LoadFloat32x16Slice(x[i:]), archsimd.LoadFloat32x16Slice(y[i:])
		switch op {
		case OpAdd:
			a = a.Add(b)
		case OpSub:
			a = a.Sub(b)
		case OpMul:
			a = a.Mul(b)
		default: // g·σ(x)(1 + x(1 − σ(x))), as siluGrad
			sg := sigmoid16(a)
			a = b.Mul(sg.Mul(a.Mul(one.Sub(sg)).Add(one)))
		}
		a.StoreSlice(d[i:])
	}
	archsimd.ClearAVXUpperBits()
	return i
}

func binary8(op BinaryOp, d, x, y []float32) int {
	one := archsimd.BroadcastFloat32x8(1)
	i := 0
	for ; i+8 <= len(d); i += 8 {
		a, b := archsimd.LoadFloat32x8Slice(x[i:]), archsimd.LoadFloat32x8Slice(y[i:])
		switch op {
		case OpAdd:
			a = a.Add(b)
		case OpSub:
			a = a.Sub(b)
		case OpMul:
			a = a.Mul(b)
		default:
			sg := sigmoid8(a)
			a = b.Mul(sg.Mul(a.Mul(one.Sub(sg)).Add(one)))
		}
		a.StoreSlice(d[i:])
	}
	archsimd.ClearAVXUpperBits()
	return i
}

// expShifted8 sets dst[j] = exp(src[j] − shift) over the leading multiple
// of 8 of src (len(dst) ≥ len(src)) and returns how many it did: exp8, and
// 0 where src[j] − shift is below exp8's clamp (−87.3, −Inf included), as
// the float64 exp rounds those to float32 (0 or a subnormal). It ends with
// VZEROUPPER, as the scalar code after it is legacy SSE.
func expShifted8(dst, src []float32, shift float32) int {
	sh, lo := archsimd.BroadcastFloat32x8(shift), archsimd.BroadcastFloat32x8(-87.3)
	j := 0
	for ; j+8 <= len(src); j += 8 {
		x := archsimd.LoadFloat32x8Slice(src[j:]).Sub(sh)
		exp8(x).Masked(x.GreaterEqual(lo)).StoreSlice(dst[j:])
	}
	archsimd.ClearAVXUpperBits()
	return j
}

// softmaxRowF32 writes the softmax (log-softmax when log) of the row s into
// d (equal lengths), expShifted8 on 8 lanes and the sum in float64. It reports
// false (doing nothing) without AVX2 and for a row whose max is not finite
// (NaN or ±Inf: the float64 loop gives those rows their NaN or −Inf).
func softmaxRowF32(d, s []float32, log bool) bool {
	if !hasAVX2 && !hasAVX512 || len(s) == 0 {
		return false
	}
	s = s[:len(d)]
	mx := s[0]
	for _, x := range s {
		mx = max(mx, x)
	}
	if math.IsInf(float64(mx), 0) || mx != mx {
		return false
	}
	j := expShifted8(d, s, mx)
	for ; j < len(s); j++ {
		d[j] = float32(math.Exp(float64(s[j] - mx)))
	}
	var z float64
	for _, e := range d {
		z += float64(e)
	}
	if log {
		lz := float32(float64(mx) + math.Log(z))
		for j, x := range s {
			d[j] = x - lz
		}
	} else {
		r := float32(1 / z)
		for j := range d {
			d[j] *= r
		}
	}
	return true
}

// The float64 sums and runs of the row normalizations (cpu_normalize.go)
// on 4 float64 lanes, the float32 inputs widened four at a time (AVX2 and
// FMA). Each returns how many leading elements it did (a multiple of 8, 0
// without AVX2); the callers finish the rest with their scalar loops. The
// runs compute the scalar loops' expressions in the same order, without
// FMA, so that they round alike.

// sumVec returns Σ x over the first n elements.
func sumVec(x []float32) (s float64, n int) {
	if !hasAVX2 && !hasAVX512 {
		return 0, 0
	}
	var a0, a1 archsimd.Float64x4
	for ; n+8 <= len(x); n += 8 {
		a0 = a0.Add(archsimd.LoadFloat32x4Slice(x[n:]).ConvertToFloat64())
		a1 = a1.Add(archsimd.LoadFloat32x4Slice(x[n+4:]).ConvertToFloat64())
	}
	s = hsum4(a0.Add(a1))
	archsimd.ClearAVXUpperBits()
	return s, n
}

// sumSquaredDevVec returns Σ (x − m)² over the first n elements.
func sumSquaredDevVec(x []float32, m float64) (s float64, n int) {
	if !hasAVX2 && !hasAVX512 {
		return 0, 0
	}
	vm := archsimd.BroadcastFloat64x4(m)
	var a0, a1 archsimd.Float64x4
	for ; n+8 <= len(x); n += 8 {
		c0 := archsimd.LoadFloat32x4Slice(x[n:]).ConvertToFloat64().Sub(vm)
		c1 := archsimd.LoadFloat32x4Slice(x[n+4:]).ConvertToFloat64().Sub(vm)
		a0 = c0.MulAdd(c0, a0)
		a1 = c1.MulAdd(c1, a1)
	}
	s = hsum4(a0.Add(a1))
	archsimd.ClearAVXUpperBits()
	return s, n
}

// sumDevVec returns Σ g and Σ g·(x − m) over the first n elements of g.
func sumDevVec(g, x []float32, m float64) (sg, sgx float64, n int) {
	if !hasAVX2 && !hasAVX512 {
		return 0, 0, 0
	}
	x = x[:len(g)]
	vm := archsimd.BroadcastFloat64x4(m)
	var s0, s1, t0, t1 archsimd.Float64x4
	for ; n+8 <= len(g); n += 8 {
		g0 := archsimd.LoadFloat32x4Slice(g[n:]).ConvertToFloat64()
		g1 := archsimd.LoadFloat32x4Slice(g[n+4:]).ConvertToFloat64()
		s0, s1 = s0.Add(g0), s1.Add(g1)
		t0 = g0.MulAdd(archsimd.LoadFloat32x4Slice(x[n:]).ConvertToFloat64().Sub(vm), t0)
		t1 = g1.MulAdd(archsimd.LoadFloat32x4Slice(x[n+4:]).ConvertToFloat64().Sub(vm), t1)
	}
	sg, sgx = hsum4(s0.Add(s1)), hsum4(t0.Add(t1))
	archsimd.ClearAVXUpperBits()
	return sg, sgx, n
}

// normalizeRunVec sets y = (x − m)·rs·γ + β over the first n elements of y.
func normalizeRunVec(y, x []float32, m, rs, gamma, beta float64) (n int) {
	if !hasAVX2 && !hasAVX512 {
		return 0
	}
	x = x[:len(y)]
	vm, vr := archsimd.BroadcastFloat64x4(m), archsimd.BroadcastFloat64x4(rs)
	vg, vb := archsimd.BroadcastFloat64x4(gamma), archsimd.BroadcastFloat64x4(beta)
	for ; n+4 <= len(y); n += 4 {
		v := archsimd.LoadFloat32x4Slice(x[n:]).ConvertToFloat64()
		v.Sub(vm).Mul(vr).Mul(vg).Add(vb).ConvertToFloat32().StoreSlice(y[n:])
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// normalizeGradRunVec sets dx = rs·(g·γ − mg − (x − m)·rs·mgy) over the
// first n elements of dx.
func normalizeGradRunVec(dx, g, x []float32, m, rs, gamma, mg, mgy float64) (n int) {
	if !hasAVX2 && !hasAVX512 {
		return 0
	}
	g, x = g[:len(dx)], x[:len(dx)]
	vm, vr := archsimd.BroadcastFloat64x4(m), archsimd.BroadcastFloat64x4(rs)
	vg, vmg, vmgy := archsimd.BroadcastFloat64x4(gamma), archsimd.BroadcastFloat64x4(mg), archsimd.BroadcastFloat64x4(mgy)
	for ; n+4 <= len(dx); n += 4 {
		gv := archsimd.LoadFloat32x4Slice(g[n:]).ConvertToFloat64()
		xv := archsimd.LoadFloat32x4Slice(x[n:]).ConvertToFloat64()
		t := gv.Mul(vg).Sub(vmg).Sub(xv.Sub(vm).Mul(vr).Mul(vmgy))
		vr.Mul(t).ConvertToFloat32().StoreSlice(dx[n:])
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// hsum4 is the sum of v's lanes.
func hsum4(v archsimd.Float64x4) float64 {
	var t [4]float64
	v.Store(&t)
	return (t[0] + t[1]) + (t[2] + t[3])
}

// addWidenedVec adds row, widened to float64, to acc over the first n
// elements of row (len(acc) ≥ len(row)).
func addWidenedVec(acc []float64, row []float32) (n int) {
	if !hasAVX2 && !hasAVX512 {
		return 0
	}
	acc = acc[:len(row)]
	for ; n+4 <= len(row); n += 4 {
		a := archsimd.LoadFloat64x4Slice(acc[n:])
		a.Add(archsimd.LoadFloat32x4Slice(row[n:]).ConvertToFloat64()).StoreSlice(acc[n:])
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vectorBinaryConst computes d = x op c (c op x when left) for a
// contiguous float32 run x and a constant c, for Add, Sub and Mul, over the
// leading multiple of 8 of d, and returns how many it did (0 for other
// ops and dtypes and without AVX2): the caller's strided loop does the
// rest. 8 lanes on AVX-512 too: the loop is bound by memory.
func vectorBinaryConst[T number](op BinaryOp, d, x []T, c T, left bool) int {
	d32, ok := any(d).([]float32)
	if !ok || !(hasAVX512 || hasAVX2) || (op != OpAdd && op != OpSub && op != OpMul) {
		return 0
	}
	x32 := any(x).([]float32)[:len(d32)]
	vc := archsimd.BroadcastFloat32x8(float32(c))
	i := 0
	for ; i+8 <= len(d32); i += 8 {
		a := archsimd.LoadFloat32x8Slice(x32[i:])
		switch {
		case op == OpAdd:
			a = a.Add(vc)
		case op == OpMul:
			a = a.Mul(vc)
		case left:
			a = vc.Sub(a)
		default:
			a = a.Sub(vc)
		}
		a.StoreSlice(d32[i:])
	}
	archsimd.ClearAVXUpperBits()
	return i
}

// The lane orders of deinterleaveVec and interleaveVec (ConcatPermute of
// two vectors: indices 0–15 the first, 16–31 the second).
var (
	evenLanes = [16]uint32{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}
	oddLanes  = [16]uint32{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}
	loLanes   = [16]uint32{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}
	hiLanes   = [16]uint32{8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}
)

// deinterleaveVec is deinterleave on AVX-512: 16 values at a time with
// VPERMI2PS, the tail masked. It returns how many it did (all of them, or
// 0 without AVX-512).
func deinterleaveVec(even, odd, src []float32) int {
	if !hasAVX512 {
		return 0
	}
	n := len(even)
	ie, io := archsimd.LoadUint32x16(&evenLanes), archsimd.LoadUint32x16(&oddLanes)
	for j := 0; j < n; j += 16 {
		m := min(16, n-j)
		s := src[2*j : 2*(j+m)]
		a := archsimd.LoadFloat32x16SlicePart(s)
		var b archsimd.Float32x16
		if len(s) > 16 {
			b = archsimd.LoadFloat32x16SlicePart(s[16:])
		}
		a.ConcatPermute(b, ie).StoreSlicePart(even[j : j+m])
		a.ConcatPermute(b, io).StoreSlicePart(odd[j : j+m])
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// interleaveVec is interleave on AVX-512, as deinterleaveVec.
func interleaveVec(dst, even, odd []float32) int {
	if !hasAVX512 {
		return 0
	}
	n := len(even)
	il, ih := archsimd.LoadUint32x16(&loLanes), archsimd.LoadUint32x16(&hiLanes)
	for j := 0; j < n; j += 16 {
		m := min(16, n-j)
		e := archsimd.LoadFloat32x16SlicePart(even[j : j+m])
		o := archsimd.LoadFloat32x16SlicePart(odd[j : j+m])
		d := dst[2*j : 2*(j+m)]
		e.ConcatPermute(o, il).StoreSlicePart(d)
		if len(d) > 16 {
			e.ConcatPermute(o, ih).StoreSlicePart(d[16:])
		}
	}
	archsimd.ClearAVXUpperBits()
	return n
}
