#version 450
// index.comp: IndexSelect (MODE 0) and its adjoint IndexAdd (MODE 1) along
// one axis of contiguous tensors viewed as [outer, axis, inner].
//
// IndexAdd has no atomics: the host sorts the indices into a table (for
// each target position, the source positions that add to it, in order), and
// each invocation owns one destination element and adds its sources in the
// CPU's order, so repeated indices give the same result bit for bit.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const uint MODE = 0;

layout(std430, binding = 0) buffer Dst { float d[]; };
layout(std430, binding = 1) readonly buffer Src { float s[]; };
// select: idx[len]; add: starts[n + 1] then sources[len]
layout(std430, binding = 2) readonly buffer Table { uint table[]; };

layout(push_constant) uniform Push {
	uint total; // destination elements
	uint n;     // axis length of the larger tensor (src for select, dst for add)
	uint len;   // number of indices
	uint inner; // elements after the axis
	uint sOff;
	uint dOff;
	uint tOff;  // offset of the table
} pc;

void main() {
	uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint e = gl_GlobalInvocationID.x; e < pc.total; e += step) {
		uint r = e % pc.inner;
		uint rest = e / pc.inner;
		if (MODE == 0u) {
			uint j = rest % pc.len, o = rest / pc.len;
			d[pc.dOff + e] = s[pc.sOff + (o * pc.n + table[pc.tOff + j]) * pc.inner + r];
		} else {
			uint i = rest % pc.n, o = rest / pc.n;
			float acc = d[pc.dOff + e];
			uint end = table[pc.tOff + i + 1u];
			for (uint t = table[pc.tOff + i]; t < end; t++) {
				uint j = table[pc.tOff + pc.n + 1u + t];
				acc += s[pc.sOff + (o * pc.len + j) * pc.inner + r];
			}
			d[pc.dOff + e] = acc;
		}
	}
}
