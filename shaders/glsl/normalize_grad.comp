#version 450
// normalize_grad.comp: the gradient with respect to x of normalize.comp
// (tensor.NormalizeRowsGrad), per row of n elements, with
// ŷ[r, j] = (x[r, j] − mean[r])·rstd[r] recomputed and g' = g, or with
// AFFINE g'[r, j] = g[r, j]·gamma[c], c = ((r·n + j) / inner) mod k (the
// gradient of ŷ through y = ŷ·gamma + beta):
//   dx[r, j] = rstd[r]·(g'[r, j] − mean_j(g'[r]) − ŷ[r, j]·mean_j(g'[r]·ŷ[r]))
// in one dispatch. One workgroup per row (grid-stride over the rows): each
// invocation sums its strided share of g' and g'·ŷ, the workgroup combines
// both in shared memory, then writes its share of dx.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool AFFINE = false;

const uint MAXWG = 256; // launches use at most this many invocations
shared vec2 part[MAXWG];

layout(std430, binding = 0) writeonly buffer DX { float dx[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) readonly buffer Mean { float mean[]; };
layout(std430, binding = 4) readonly buffer Rstd { float rstd[]; };
// Without AFFINE, binding 5 is not read (launches bind x there).
layout(std430, binding = 5) readonly buffer Gamma { float gamma[]; };

layout(push_constant) uniform Push {
	uint rows, n;
	uint dOff, gOff, xOff, mOff, rOff;
	uint gaOff, inner, k; // the affine (AFFINE)
} pc;

// gradOf returns g' of element j of row r, whose index in g is gb + j.
float gradOf(uint r, uint j, uint gb) {
	float v = g[gb + j];
	if (AFFINE) {
		v *= gamma[pc.gaOff + ((r * pc.n + j) / pc.inner) % pc.k];
	}
	return v;
}

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupSize.x;
	for (uint r = gl_WorkGroupID.x; r < pc.rows; r += gl_NumWorkGroups.x) {
		uint gb = pc.gOff + r * pc.n, xb = pc.xOff + r * pc.n;
		float m = mean[pc.mOff + r], rs = rstd[pc.rOff + r];
		vec2 s = vec2(0.0);
		for (uint j = lid; j < pc.n; j += wg) {
			float gj = gradOf(r, j, gb);
			s += vec2(gj, gj * ((x[xb + j] - m) * rs));
		}
		part[lid] = s;
		barrier();
		for (uint k = 1u; k < wg; k <<= 1u) {
			if ((lid & (2u * k - 1u)) == 0u && lid + k < wg) {
				part[lid] += part[lid + k];
			}
			barrier();
		}
		vec2 mg = part[0] / float(pc.n);
		barrier(); // part is reused by the next row
		uint db = pc.dOff + r * pc.n;
		for (uint j = lid; j < pc.n; j += wg) {
			dx[db + j] = rs * (gradOf(r, j, gb) - mg.x - ((x[xb + j] - m) * rs) * mg.y);
		}
	}
}
