#version 450
// normalize_grad.comp: the backward pass of normalize.comp
// (tensor.NormalizeRowsGrad), per row of n elements:
//   dx[r, j] = rstd[r]·(g[r, j] − mean_j(g[r]) − y[r, j]·mean_j(g[r]·y[r]))
// in one dispatch. One workgroup per row (grid-stride over the rows): each
// invocation sums its strided share of g and g·y, the workgroup combines
// both in shared memory, then writes its share of dx.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

const uint MAXWG = 256; // launches use at most this many invocations
shared vec2 part[MAXWG];

layout(std430, binding = 0) writeonly buffer DX { float dx[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) readonly buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer Rstd { float rstd[]; };

layout(push_constant) uniform Push {
	uint rows, n;
	uint dOff, gOff, yOff, rOff;
} pc;

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupSize.x;
	for (uint r = gl_WorkGroupID.x; r < pc.rows; r += gl_NumWorkGroups.x) {
		uint gb = pc.gOff + r * pc.n, yb = pc.yOff + r * pc.n;
		vec2 s = vec2(0.0);
		for (uint j = lid; j < pc.n; j += wg) {
			float gj = g[gb + j];
			s += vec2(gj, gj * y[yb + j]);
		}
		part[lid] = s;
		barrier();
		for (uint k = 1u; k < wg; k <<= 1u) {
			if ((lid & (2u * k - 1u)) == 0u && lid + k < wg) {
				part[lid] += part[lid + k];
			}
			barrier();
		}
		vec2 m = part[0] / float(pc.n);
		barrier(); // part is reused by the next row
		float rs = rstd[pc.rOff + r];
		uint db = pc.dOff + r * pc.n;
		for (uint j = lid; j < pc.n; j += wg) {
			dx[db + j] = rs * (g[gb + j] - m.x - y[yb + j] * m.y);
		}
	}
}
