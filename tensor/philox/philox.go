// Package philox implements the Philox4x32-10 counter-based random number
// generator (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as
// easy as 1, 2, 3", SC 2011; the generator of Random123, cuRAND and
// PyTorch) and derives uniform and normal variates from it.
//
// A counter-based generator is a keyed bijection of a 128-bit counter, so
// element i of a draw is a pure function of (seed, draw, i). Results are
// therefore identical however the work is split between goroutines, and a
// GPU shader using only 32-bit integer and float32 arithmetic can reproduce
// them. The mapping below is the contract such a port must follow.
//
// # Blocks
//
// A seed selects the key and a draw index selects a stream of 128-bit
// blocks. Block j (j = 0, 1, ...) of draw d under seed s is the four 32-bit
// words
//
//	w = Block(Counter(d, j), Key(s))
//	Key(s)        = (uint32(s), uint32(s>>32))
//	Counter(d, j) = (uint32(j), uint32(j>>32), uint32(d), uint32(d>>32))
//
// Distinct (seed, draw) pairs thus give independent streams of 2^64 blocks
// each. A caller makes one draw per random tensor it needs, using a fresh
// draw index each time; [Source] hands out draw indices in sequence.
//
// # float32 variates
//
// A word x maps to a uniform in the open interval (0, 1) through its top 23
// bits:
//
//	U(x) = float32(((x >> 9) << 1) | 1) * 2^-24
//
// that is (m + 1/2) * 2^-23 with m = x >> 9. Every step is exact in float32
// (the integer is odd and below 2^24, and the scale is a power of two), so a
// GPU reproduces uniforms bit for bit. The result lies in [2^-24, 1-2^-24]
// and is symmetric about 1/2. (A 24-bit variant, (x>>8 + 1/2) * 2^-24,
// cannot be represented exactly in float32 and would round its top value to
// 1.)
//
// [Uniform32]: element i is U(w[i%4]) of block i/4.
//
// [Normal32]: block j yields elements 4j..4j+3 by the Box–Muller transform,
//
//	r0 = sqrt(-2 ln U(w[0])), t0 = 2π U(w[1])
//	r1 = sqrt(-2 ln U(w[2])), t1 = 2π U(w[3])
//	out[4j], out[4j+1] = r0 cos t0, r0 sin t0
//	out[4j+2], out[4j+3] = r1 cos t1, r1 sin t1
//
// This package evaluates the transform in float64 from the exact float32
// uniforms and rounds the results to float32, so its normals are the
// correctly rounded values up to one float32 ulp. An implementation
// evaluating log, sqrt, cos, sin and 2πu in float32 agrees to within the
// accuracy of that arithmetic, not bit for bit: with C's float32 functions
// the largest difference over 4e6 normals is 1.9e-6. Magnitudes are bounded
// by sqrt(48 ln 2) ≈ 5.77.
//
// # float64 variates
//
// float64 variates use two words per uniform for 52 bits of resolution:
//
//	U64(lo, hi) = float64((((hi<<32 | lo) >> 12) << 1) | 1) * 2^-53
//
// which is exact and lies in [2^-53, 1-2^-53]. [Uniform64]: element i is
// U64(w[2k], w[2k+1]) of block i/2, with k = i%2. [Normal64]: block j yields
// elements 2j and 2j+1 as r cos t and r sin t with r = sqrt(-2 ln U64(w[0],
// w[1])) and t = 2π U64(w[2], w[3]). The float64 streams are thus distinct
// from the float32 ones for the same (seed, draw).
//
// # GLSL
//
// A port of the block function and the float32 uniform (GLSL 4.00 or ES
// 3.10 for umulExtended):
//
//	uvec4 philox4x32_10(uvec4 c, uvec2 k) {
//	    for (int i = 0; i < 10; i++) {
//	        uint hi0, lo0, hi1, lo1;
//	        umulExtended(0xD2511F53u, c.x, hi0, lo0);
//	        umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
//	        c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
//	        k += uvec2(0x9E3779B9u, 0xBB67AE85u);
//	    }
//	    return c;
//	}
//	float u01(uint x) {
//	    return float(((x >> 9u) << 1u) | 1u) * uintBitsToFloat(0x33800000u); // 2^-24
//	}
//	// Block j of draw d under seed s:
//	// philox4x32_10(uvec4(j_lo, j_hi, d_lo, d_hi), uvec2(s_lo, s_hi))
package philox

import "math/bits"

// Philox4x32 round multipliers and key schedule (Weyl) increments.
const (
	mul0  = 0xD2511F53
	mul1  = 0xCD9E8D57
	weyl0 = 0x9E3779B9 // golden ratio
	weyl1 = 0xBB67AE85 // sqrt(3) - 1
)

// Block returns the Philox4x32-10 bijection of the counter ctr under key:
// ten rounds of the Philox S-box, with the key bumped by the Weyl constants
// between rounds, exactly as in Random123's philox4x32_R(10, ctr, key).
func Block(ctr [4]uint32, key [2]uint32) [4]uint32 {
	c0, c1, c2, c3 := ctr[0], ctr[1], ctr[2], ctr[3]
	k0, k1 := key[0], key[1]
	for range 9 {
		c0, c1, c2, c3 = round(c0, c1, c2, c3, k0, k1)
		k0 += weyl0
		k1 += weyl1
	}
	c0, c1, c2, c3 = round(c0, c1, c2, c3, k0, k1)
	return [4]uint32{c0, c1, c2, c3}
}

// round is one Philox4x32 round.
func round(c0, c1, c2, c3, k0, k1 uint32) (uint32, uint32, uint32, uint32) {
	hi0, lo0 := bits.Mul32(mul0, c0)
	hi1, lo1 := bits.Mul32(mul1, c2)
	return hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
}

// Key returns the Philox key of a seed: its low and high 32-bit halves.
func Key(seed uint64) [2]uint32 {
	return [2]uint32{uint32(seed), uint32(seed >> 32)}
}

// Counter returns the Philox counter of block j of a draw: the low and high
// halves of j followed by those of draw.
func Counter(draw, j uint64) [4]uint32 {
	return [4]uint32{uint32(j), uint32(j >> 32), uint32(draw), uint32(draw >> 32)}
}
