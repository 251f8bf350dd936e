// philox.glsl: the Philox4x32-10 generator and the float32 variates of
// package tensor/philox, shared by random.comp and em_step.comp. Block j
// of draw d under seed s is philox4x32_10(uvec4(j_lo, j_hi, d_lo, d_hi),
// uvec2(s_lo, s_hi)); it yields elements 4j to 4j+3 (normals: Box–Muller
// pairs from words (x, y) and (z, w)).

uvec4 philox4x32_10(uvec4 c, uvec2 k) {
	for (int i = 0; i < 10; i++) {
		uint hi0, lo0, hi1, lo1;
		umulExtended(0xD2511F53u, c.x, hi0, lo0);
		umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
		c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
		k += uvec2(0x9E3779B9u, 0xBB67AE85u);
	}
	return c;
}

// u01 maps a word to (m + 1/2)·2⁻²³ with m its top 23 bits: exact.
float u01(uint x) { return float(((x >> 9u) << 1u) | 1u) * uintBitsToFloat(0x33800000u); }

// box_muller returns (r cos t, r sin t), r = sqrt(-2 ln u1), t = 2π u2
// (needs common.glsl).
vec2 box_muller(float u1, float u2) {
	float r = sqrt(-2.0 * log_f(u1));
	vec2 sc = sincos2pi_f(u2);
	return r * vec2(sc.y, sc.x);
}
