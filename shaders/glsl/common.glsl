// common.glsl: float32 math shared by the kernels.
//
// The transcendental functions are written out rather than taken from GLSL,
// whose exp, log, sin, cos, tanh and pow are only loosely specified by
// Vulkan (exp: 3 + 2|x| ulp; sin/cos: 2^-11 absolute) and differ between
// drivers. These follow Cephes' single-precision routines (the CPU backend
// uses the same exp), are accurate to a few ulp on every device with IEEE
// float32 arithmetic and a true fma, and so keep GPU results within the
// test suite's tolerances of the float64 references.
//
// Variables marked precise keep the compiler from reassociating the
// error-free transformations they take part in. Those use plain products
// and sums, not fma(): SPIR-V's NoContraction decorates arithmetic
// instructions only, so a driver may still fold chains of fma() (Mesa
// does: exp(87) lost 3e-6 that way).

#define INF uintBitsToFloat(0x7f800000u)
#define NAN uintBitsToFloat(0x7fc00000u)

// pow2i returns 2^k for -126 <= k <= 127.
float pow2i(int k) { return uintBitsToFloat(uint(k + 127) << 23); }

// exp_f is e^x: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite), e^r by a
// degree-6 polynomial, 2^n by the exponent bits in two steps so that
// subnormal results come out right. Saturates to 0 and +Inf.
float exp_f(float x) {
	if (isnan(x)) {
		return x;
	}
	if (x > 88.72283) {
		return INF;
	}
	if (x < -103.97) {
		return 0.0;
	}
	float n = floor(x * 1.44269504088896341 + 0.5);
	// n·0.693359375 is exact and so is its difference with x; precise keeps
	// the compiler from folding the two steps into one product by a
	// rounded ln2 (3e-6 of error at x = 87).
	precise float r = x - n * 0.693359375;
	r = r + n * 2.12194440e-4;
	float p = 1.9875691500e-4;
	p = fma(p, r, 1.3981999507e-3);
	p = fma(p, r, 8.3334519073e-3);
	p = fma(p, r, 4.1665795894e-2);
	p = fma(p, r, 1.6666665459e-1);
	p = fma(p, r, 5.0000001201e-1);
	float y = fma(p * r, r, r) + 1.0;
	int k = int(n);
	if (k < -126) {
		return y * pow2i(k + 126) * pow2i(-126);
	}
	if (k > 127) {
		return y * 2.0 * pow2i(k - 1);
	}
	return y * pow2i(k);
}

// logm_f returns ln x as e ln2 + ln(1+f) without adding the two: f in
// [sqrt(1/2)-1, sqrt(2)-1] is exact (Sterbenz), so ln(1+f) keeps full
// relative accuracy near x = 1. x must be positive and finite.
float logm_f(float x, out float e) {
	uint bits = floatBitsToUint(x);
	int ex = int(bits >> 23) - 126;
	if ((bits >> 23) == 0u) { // subnormal (where the device keeps them)
		bits = floatBitsToUint(x * 33554432.0); // 2^25
		ex = int(bits >> 23) - 126 - 25;
	}
	float m = uintBitsToFloat((bits & 0x007fffffu) | 0x3f000000u); // [0.5, 1)
	float f;
	if (m < 0.70710678118654752440) {
		ex -= 1;
		f = m + m - 1.0;
	} else {
		f = m - 1.0;
	}
	float z = f * f;
	float y = 7.0376836292E-2;
	y = fma(y, f, -1.1514610310E-1);
	y = fma(y, f, 1.1676998740E-1);
	y = fma(y, f, -1.2420140846E-1);
	y = fma(y, f, 1.4249322787E-1);
	y = fma(y, f, -1.6668057665E-1);
	y = fma(y, f, 2.0000714765E-1);
	y = fma(y, f, -2.4999993993E-1);
	y = fma(y, f, 3.3333331174E-1);
	y *= f * z;
	y = fma(z, -0.5, y);
	e = float(ex);
	return f + y;
}

// log_f is ln x (Cephes logf).
float log_f(float x) {
	if (isnan(x) || x < 0.0) {
		return NAN;
	}
	if (x == 0.0) {
		return -INF;
	}
	if (isinf(x)) {
		return x;
	}
	float e;
	float l = logm_f(x, e);
	// ln2 = 0.693359375 - 2.12194440e-4, the first part exact in products.
	precise float r = e * 0.693359375 + (l - e * 2.12194440e-4);
	return r;
}

// log1p_f is ln(1 + x) for x > -1, accurate for small x.
float log1p_f(float x) {
	precise float u = 1.0 + x;
	if (u == 1.0) {
		return x;
	}
	precise float d = u - 1.0;
	return log_f(u) * (x / d);
}

// sincos_poly returns (sin a, cos a) for |a| <= pi/4.
vec2 sincos_poly(float a) {
	float z = a * a;
	float s = fma(fma(fma(-1.9515295891E-4, z, 8.3321608736E-3), z, -1.6666654611E-1), z * a, a);
	float c = fma(fma(fma(2.443315711809948E-5, z, -1.388731625493765E-3), z, 4.166664568298827E-2), z * z, fma(-0.5, z, 1.0));
	return vec2(s, c);
}

// rotate_quadrant returns (sin, cos) of a + q pi/2 from those of a.
vec2 rotate_quadrant(vec2 sc, uint q) {
	switch (q & 3u) {
	case 0u:
		return sc;
	case 1u:
		return vec2(sc.y, -sc.x);
	case 2u:
		return -sc;
	default:
		return vec2(-sc.y, sc.x);
	}
}

// sincos_f returns (sin x, cos x), reducing x modulo pi/2 in three parts
// (Cephes); accurate for |x| up to about 8192.
vec2 sincos_f(float x) {
	if (isnan(x) || isinf(x)) {
		return vec2(NAN);
	}
	float ax = abs(x);
	float j = floor(ax * 0.63661977236758134 + 0.5); // nearest multiple of pi/2
	precise float y = ax - j * 1.5703125; // exact products for j < 2^13
	y = y - j * 4.837512969970703125e-4;
	y = y - j * 7.54978995489188216e-8;
	vec2 sc = rotate_quadrant(sincos_poly(y), uint(j));
	return x < 0.0 ? vec2(-sc.x, sc.y) : sc;
}

// sincos2pi_f returns (sin 2 pi u, cos 2 pi u), reducing u exactly.
vec2 sincos2pi_f(float u) {
	float t = u * 4.0;
	float q = floor(t + 0.5);
	precise float f = t - q; // exact, in [-1/2, 1/2]
	return rotate_quadrant(sincos_poly(f * 1.57079632679489662), uint(int(q)));
}

// tanh_f (Cephes tanhf).
float tanh_f(float x) {
	if (isnan(x)) {
		return x;
	}
	float z = abs(x);
	float r;
	if (z > 9.01) {
		r = 1.0;
	} else if (z >= 0.625) {
		r = 1.0 - 2.0 / (exp_f(z + z) + 1.0);
	} else {
		float s = x * x;
		r = ((((-5.70498872745E-3 * s + 2.06390887954E-2) * s - 5.37397155531E-2) * s + 1.33314422036E-1) * s - 3.33332819422E-1) * s * z + z;
	}
	return x < 0.0 ? -r : r;
}

// sigmoid_f is 1/(1+e^-x) without overflow for either sign.
float sigmoid_f(float x) {
	if (x >= 0.0) {
		return 1.0 / (1.0 + exp_f(-x));
	}
	float e = exp_f(x);
	return e / (1.0 + e);
}

// softplus_f is ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|).
float softplus_f(float x) {
	if (isnan(x)) {
		return x;
	}
	return max(x, 0.0) + log1p_f(exp_f(-abs(x)));
}

// two_prod returns (p, e) with p + e = a·b exactly (Dekker, with
// Veltkamp's split: no fma needed). |a|, |b| < 2^100.
vec2 two_prod(float a, float b) {
	precise float ca = 4097.0 * a;
	precise float ah = ca - (ca - a);
	precise float al = a - ah;
	precise float cb = 4097.0 * b;
	precise float bh = cb - (cb - b);
	precise float bl = b - bh;
	precise float p = a * b;
	precise float e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
	return vec2(p, e);
}

// pow_f is x^(y + ylo) with the special cases of C's pow; ylo is the part
// of a float64 exponent below float32 precision (0 for float32 exponents).
// The product y ln x is formed in double-float (ln x = e ln2_hi + (ln m +
// e ln2_lo), the first part exact), so large |y ln x| loses no accuracy to
// rounding.
float pow_f(float x, float y, float ylo) {
	if (y == 0.0 || x == 1.0) {
		return 1.0;
	}
	if (isnan(x) || isnan(y)) {
		return NAN;
	}
	float ax = abs(x);
	bool yInt = floor(y) == y;
	bool yOdd = yInt && abs(y) < 16777216.0 && (uint(abs(y)) & 1u) == 1u;
	if (x < 0.0 && !yInt) {
		return NAN;
	}
	float r;
	if (ax == 0.0) {
		r = y < 0.0 ? INF : 0.0;
	} else if (isinf(ax)) {
		r = y < 0.0 ? 0.0 : INF;
	} else if (isinf(y)) {
		r = (ax < 1.0) == (y < 0.0) ? INF : 0.0;
	} else {
		float e;
		float lm = logm_f(ax, e);
		precise float lhi = e * 0.693359375;       // exact
		precise float llo = lm - e * 2.12194440e-4; // ln x = lhi + llo
		float approx = y * (lhi + llo);
		if (abs(approx) > 200.0) {
			r = approx > 0.0 ? INF : 0.0; // far beyond the float32 range
		} else {
			vec2 pe = two_prod(y, lhi);
			precise float plo = pe.y + (y * llo + ylo * lhi); // y ln x = pe.x + plo
			precise float t = pe.x + plo;
			precise float tlo = plo - (t - pe.x);
			r = exp_f(t);
			if (!isinf(r) && r != 0.0) {
				r = r + r * tlo;
			}
		}
	}
	return (x < 0.0 && yOdd) ? -r : r;
}

// nan-propagating max and min, as Go's math.Max and math.Min.
float max_nan(float a, float b) { return isnan(a) ? a : (isnan(b) ? b : max(a, b)); }
float min_nan(float a, float b) { return isnan(a) ? a : (isnan(b) ? b : min(a, b)); }

// Unary operations, numbered as tensor.UnaryOp; p + plo is the scalar
// parameter (a float64 split in two).
float unary_op(uint op, float x, float p, float plo) {
	switch (op) {
	case 0u: return -x;
	case 1u: return exp_f(x);
	case 2u: return log_f(x);
	case 3u: return sqrt(x);
	case 4u: return 1.0 / sqrt(x);
	case 5u: return tanh_f(x);
	case 6u: return sigmoid_f(x);
	case 7u: return x * sigmoid_f(x);
	case 8u: return max_nan(x, 0.0);
	case 9u: return abs(x);
	case 10u: return x * x;
	case 11u: return sincos_f(x).x;
	case 12u: return sincos_f(x).y;
	case 13u: return 1.0 / x;
	case 14u: return pow_f(x, p, plo);
	case 15u: return x + p;
	case 16u: return x * p;
	case 17u: return max_nan(x, p);
	case 18u: return min_nan(x, p);
	case 19u: return x > 0.0 ? 1.0 : 0.0;
	case 20u: return softplus_f(x);
	}
	return NAN;
}

// Binary operations, numbered as tensor.BinaryOp. For the fused gradients,
// a is the forward input x (or output y) and b the incoming gradient g.
float binary_op(uint op, float a, float b) {
	switch (op) {
	case 0u: return a + b;
	case 1u: return a - b;
	case 2u: return a * b;
	case 3u: return a / b;
	case 4u: return pow_f(a, b, 0.0);
	case 5u: return max_nan(a, b);
	case 6u: return min_nan(a, b);
	case 7u: return a > b ? 1.0 : 0.0;
	case 8u: {
		float s = sigmoid_f(a);
		return b * s * (1.0 + a * (1.0 - s));
	}
	case 9u: return b * (1.0 - a * a);
	case 10u: return b * a * (1.0 - a);
	case 11u: return a > 0.0 ? b : 0.0;
	}
	return NAN;
}

// Activations of the matmul epilogue, numbered as tensor.Activation:
// returns act(z) and sets dy to act'(z) (ReLU [z > 0], SiLU σ(1 + z(1 − σ)),
// tanh 1 − y², sigmoid y(1 − y)), as the CPU backend.
float activate(uint act, float z, out float dy) {
	switch (act) {
	case 1u:
		dy = z > 0.0 ? 1.0 : 0.0;
		return z > 0.0 ? z : 0.0;
	case 2u: {
		float s = sigmoid_f(z);
		dy = s * (1.0 + z * (1.0 - s));
		return z * s;
	}
	case 3u: {
		float y = tanh_f(z);
		dy = 1.0 - y * y;
		return y;
	}
	case 4u: {
		float y = sigmoid_f(z);
		dy = y * (1.0 - y);
		return y;
	}
	}
	dy = 1.0;
	return z;
}
