#version 450
// random.comp: Philox4x32-10 uniforms (NORMAL false) and Box–Muller normals
// (NORMAL true), element for element the streams of package tensor/philox:
// block j of draw d under seed s is philox(counter (j_lo, j_hi, d_lo, d_hi),
// key (s_lo, s_hi)) and yields elements 4j to 4j+3. Uniforms are exact;
// normals agree with the CPU's float64 evaluation to a few float32 ulp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const bool NORMAL = false;

layout(std430, binding = 0) writeonly buffer Dst { float d[]; };

layout(push_constant) uniform Push {
	uint n;
	uint dOff;
	uint seedLo, seedHi;
	uint drawLo, drawHi;
} pc;

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

// box_muller returns (r cos t, r sin t), r = sqrt(-2 ln u1), t = 2π u2.
vec2 box_muller(float u1, float u2) {
	float r = sqrt(-2.0 * log_f(u1));
	vec2 sc = sincos2pi_f(u2);
	return r * vec2(sc.y, sc.x);
}

void main() {
	uint blocks = (pc.n + 3u) / 4u;
	uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint j = gl_GlobalInvocationID.x; j < blocks; j += step) {
		uvec4 w = philox4x32_10(uvec4(j, 0u, pc.drawLo, pc.drawHi), uvec2(pc.seedLo, pc.seedHi));
		vec4 v;
		if (NORMAL) {
			v = vec4(box_muller(u01(w.x), u01(w.y)), box_muller(u01(w.z), u01(w.w)));
		} else {
			v = vec4(u01(w.x), u01(w.y), u01(w.z), u01(w.w));
		}
		uint i = 4u * j;
		for (uint k = 0u; k < 4u && i + k < pc.n; k++) {
			d[pc.dOff + i + k] = v[k];
		}
	}
}
