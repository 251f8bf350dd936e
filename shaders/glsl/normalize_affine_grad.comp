#version 450
// normalize_affine_grad.comp: the gradients of the affine of normalize.comp
// (tensor.NormalizeAffineGrad). With x viewed as [outer, k, inner] (the
// feature c of an element is its middle index) and rows of n elements,
// ŷ = (x − mean[row])·rstd[row] recomputed:
//   dgamma[c] = Σ_{o,i} g·ŷ,  dbeta[c] = Σ_{o,i} g
// in one dispatch. One workgroup per feature (grid-stride over the
// features): each invocation sums a strided share of the feature's
// outer·inner elements (consecutive invocations read consecutive elements
// of the inner axis, or, when inner = 1 as in LayerNorm, the same column
// of consecutive rows, which neighbouring workgroups read alongside), the
// workgroup combines the partial sums in shared memory.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

const uint MAXWG = 256; // launches use at most this many invocations
shared vec2 part[MAXWG];

layout(std430, binding = 0) writeonly buffer DGamma { float dgamma[]; };
layout(std430, binding = 1) writeonly buffer DBeta { float dbeta[]; };
layout(std430, binding = 2) readonly buffer G { float g[]; };
layout(std430, binding = 3) readonly buffer X { float x[]; };
layout(std430, binding = 4) readonly buffer Mean { float mean[]; };
layout(std430, binding = 5) readonly buffer Rstd { float rstd[]; };

layout(push_constant) uniform Push {
	uint k, inner, outer, n;
	uint dgOff, dbOff, gOff, xOff, mOff, rOff;
} pc;

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupSize.x;
	uint count = pc.outer * pc.inner;
	for (uint c = gl_WorkGroupID.x; c < pc.k; c += gl_NumWorkGroups.x) {
		vec2 s = vec2(0.0);
		for (uint t = lid; t < count; t += wg) {
			uint o = t / pc.inner;
			uint idx = (o * pc.k + c) * pc.inner + (t - o * pc.inner);
			uint r = idx / pc.n;
			float gv = g[pc.gOff + idx];
			s += vec2(gv * ((x[pc.xOff + idx] - mean[pc.mOff + r]) * rstd[pc.rOff + r]), gv);
		}
		part[lid] = s;
		barrier();
		for (uint q = 1u; q < wg; q <<= 1u) {
			if ((lid & (2u * q - 1u)) == 0u && lid + q < wg) {
				part[lid] += part[lid + q];
			}
			barrier();
		}
		if (lid == 0u) {
			dgamma[pc.dgOff + c] = part[0].x;
			dbeta[pc.dbOff + c] = part[0].y;
		}
		barrier(); // part is reused by the next feature
	}
}
