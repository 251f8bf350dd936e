//go:build goexperiment.simd && amd64

package tensor

import "simd/archsimd"

var hasAVX512 = archsimd.X86.AVX512()

// simdPath names the elementwise kernels in use.
var simdPath = map[bool]string{true: "avx512", false: "generic"}[hasAVX512]

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

// sigmoid16 is 1/(1 + e⁻ˣ) on 16 lanes.
func sigmoid16(x archsimd.Float32x16) archsimd.Float32x16 {
	one := archsimd.BroadcastFloat32x16(1)
	return one.Div(one.Add(exp16(x.Mul(archsimd.BroadcastFloat32x16(-1)))))
}

// siluF32 replaces x by x·σ(x) and, if d is not nil, stores the derivative
// σ(1 + x(1 − σ)).
func siluF32(x, d []float32) {
	if !hasAVX512 {
		siluScalar(x, d)
		return
	}
	one := archsimd.BroadcastFloat32x16(1)
	i := 0
	for ; i+16 <= len(x); i += 16 {
		z := archsimd.LoadFloat32x16Slice(x[i:])
		s := sigmoid16(z)
		z.Mul(s).StoreSlice(x[i:])
		if d != nil {
			// σ(1 + z(1 − σ)) = σ + zσ(1 − σ)
			s.Mul(z.Mul(one.Sub(s)).Add(one)).StoreSlice(d[i:])
		}
	}
	archsimd.ClearAVXUpperBits() // before scalar code: see gemm's impl.kernel
	var dt []float32
	if d != nil {
		dt = d[i:]
	}
	siluScalar(x[i:], dt)
}

// sigmoidF32 replaces x by σ(x) and, if d is not nil, stores σ(1 − σ).
func sigmoidF32(x, d []float32) {
	if !hasAVX512 {
		sigmoidScalar(x, d)
		return
	}
	one := archsimd.BroadcastFloat32x16(1)
	i := 0
	for ; i+16 <= len(x); i += 16 {
		s := sigmoid16(archsimd.LoadFloat32x16Slice(x[i:]))
		s.StoreSlice(x[i:])
		if d != nil {
			s.Mul(one.Sub(s)).StoreSlice(d[i:])
		}
	}
	archsimd.ClearAVXUpperBits()
	var dt []float32
	if d != nil {
		dt = d[i:]
	}
	sigmoidScalar(x[i:], dt)
}

// vectorBinary computes d = x op y for contiguous float32 slices of equal
// length, 16 lanes at a time, for Add, Sub, Mul and SiLUGrad (x the
// pre-activation, y the incoming gradient); it reports false (doing
// nothing) for other ops and dtypes.
func vectorBinary[T number](op BinaryOp, d, x, y []T) bool {
	d32, ok := any(d).([]float32)
	if !ok || !hasAVX512 || (op != OpAdd && op != OpSub && op != OpMul && op != OpSiLUGrad) {
		return false
	}
	x32, y32 := any(x).([]float32), any(y).([]float32)
	n := len(d32)
	x32, y32 = x32[:n], y32[:n]
	one := archsimd.BroadcastFloat32x16(1)
	i := 0
	for ; i+16 <= n; i += 16 {
		a, b := archsimd.LoadFloat32x16Slice(x32[i:]), archsimd.LoadFloat32x16Slice(y32[i:])
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
		a.StoreSlice(d32[i:])
	}
	archsimd.ClearAVXUpperBits()
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
