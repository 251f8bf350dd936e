package tensor

import "math"

// exp32 is eˣ in float32 to about 2 ulp, several times faster than math.Exp:
// x = n·ln2 + r with |r| ≤ ln2/2, eʳ by a degree-6 polynomial, 2ⁿ by the exponent
// bits. Inputs beyond the float32 range saturate to 0 and +Inf.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -103.97 {
		return 0
	}
	if x != x {
		return x
	}
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	// Taylor coefficients of eʳ (Cephes expf).
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	// Scale by 2ⁿ in two steps so that subnormal results stay right.
	ni := int32(n)
	if ni < -126 {
		y *= math.Float32frombits(uint32(ni+126+127) << 23)
		return y * math.Float32frombits(1<<23) // 2⁻¹²⁶
	}
	if ni > 127 {
		return y * 2 * math.Float32frombits(uint32(ni-1+127)<<23)
	}
	return y * math.Float32frombits(uint32(ni+127)<<23)
}

// sigmoid32 is 1/(1+e⁻ˣ) in float32, without overflow for either sign.
func sigmoid32(x float32) float32 {
	if x >= 0 {
		return 1 / (1 + exp32(-x))
	}
	e := exp32(x)
	return e / (1 + e)
}

// siluGrad writes d = g·σ(x)(1 + x(1 − σ(x))) (the derivative of x·σ(x) times g).
func siluGrad[T number](d, x, g []T, n, sd, sx, sg int) {
	if d32, ok := any(d).([]float32); ok {
		x32, g32 := any(x).([]float32), any(g).([]float32)
		for j := range n {
			xv := x32[j*sx]
			s := sigmoid32(xv)
			d32[j*sd] = g32[j*sg] * s * (1 + xv*(1-s))
		}
		return
	}
	for j := range n {
		xv := float64(x[j*sx])
		s := sigmoid(xv)
		d[j*sd] = T(float64(g[j*sg]) * s * (1 + xv*(1-s)))
	}
}

// siluScalar and sigmoidScalar are the portable loops behind siluF32 and
// sigmoidF32 (the SIMD builds use them for the tails of slices).
func siluScalar(dst, src, d []float32) {
	src = src[:len(dst)]
	for i, z := range src {
		s := sigmoid32(z)
		dst[i] = z * s
		if d != nil {
			d[i] = s * (1 + z*(1-s))
		}
	}
}

func sigmoidScalar(dst, src, d []float32) {
	src = src[:len(dst)]
	for i, z := range src {
		s := sigmoid32(z)
		dst[i] = s
		if d != nil {
			d[i] = s * (1 - s)
		}
	}
}
