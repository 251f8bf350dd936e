#version 450
// em_step.comp: one Euler–Maruyama step of the generative SDE with the
// path KL of its control (tensor.EulerMaruyamaStep; docs/ALGORITHMS.md
// §0–1), Philox noise included, in one dispatch:
//   next = cx·x + ce·ε + cu·u + cn·ξ,   klNext[r] = kl[r] + ck·Σ_j u[r, j]²
// ξ element i of the normals of draw (drawLo, drawHi) under the seed, the
// stream random.comp writes. One invocation per row of d elements: it sums
// the row's u² in a loop (rows are short in the rollouts: d = 2…32) and
// computes only the Box–Muller pairs its row covers.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "philox.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) writeonly buffer Next { float nx[]; };
layout(std430, binding = 1) writeonly buffer KLNext { float kn[]; };
layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) readonly buffer Eps { float e[]; };
layout(std430, binding = 4) readonly buffer U { float u[]; };
layout(std430, binding = 5) readonly buffer KL { float kl[]; };

layout(push_constant) uniform Push {
	uint rows, d;
	uint xOff, eOff, uOff, kOff, nOff, knOff;
	uint seedLo, seedHi, drawLo, drawHi;
	float cx, ce, cu, cn, ck;
	uint flags; // 1: a control u (and the KL)
} pc;

void main() {
	uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	bool control = (pc.flags & 1u) != 0u;
	uvec2 key = uvec2(pc.seedLo, pc.seedHi);
	for (uint r = gl_GlobalInvocationID.x; r < pc.rows; r += step) {
		uint i = r * pc.d;
		uint end = i + pc.d;
		float sq = 0.0;
		uint blk = 0xffffffffu; // Philox block held in w
		uvec4 w = uvec4(0u);
		while (i < end) {
			// Normals 2p and 2p + 1 are Box–Muller pair p: words (x, y)
			// or (z, w) of block p/2.
			uint p = i >> 1u;
			if ((p >> 1u) != blk) {
				blk = p >> 1u;
				w = philox4x32_10(uvec4(blk, 0u, pc.drawLo, pc.drawHi), key);
			}
			uvec2 pw = (p & 1u) == 0u ? w.xy : w.zw;
			vec2 z = box_muller(u01(pw.x), u01(pw.y));
			uint pend = min(2u * p + 2u, end);
			for (; i < pend; i++) {
				float v = pc.cx * x[pc.xOff + i] + pc.ce * e[pc.eOff + i] + pc.cn * z[i & 1u];
				if (control) {
					float ui = u[pc.uOff + i];
					v += pc.cu * ui;
					sq += ui * ui;
				}
				nx[pc.nOff + i] = v;
			}
		}
		if (control) {
			kn[pc.knOff + r] = kl[pc.kOff + r] + pc.ck * sq;
		}
	}
}
