#version 450
// random.comp: Philox4x32-10 uniforms (NORMAL false) and Box–Muller normals
// (NORMAL true), element for element the streams of package tensor/philox:
// block j of draw d under seed s is philox(counter (j_lo, j_hi, d_lo, d_hi),
// key (s_lo, s_hi)) and yields elements 4j to 4j+3. Uniforms are exact;
// normals agree with the CPU's float64 evaluation to a few float32 ulp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "philox.glsl"

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const bool NORMAL = false;

layout(std430, binding = 0) writeonly buffer Dst { float d[]; };

layout(push_constant) uniform Push {
	uint n;
	uint dOff;
	uint seedLo, seedHi;
	uint drawLo, drawHi;
} pc;

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
