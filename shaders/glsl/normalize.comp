#version 450
// normalize.comp: normalization of the rows of a [rows, n] tensor
// (tensor.NormalizeRows; LayerNorm, and GroupNorm over [n, groups, rest]):
//   mean[r] = Σ_j x[r, j]/n,  rstd[r] = 1/√(Σ_j (x[r, j] − mean[r])²/n + eps),
//   ŷ[r, j] = (x[r, j] − mean[r])·rstd[r],  y = ŷ, or with AFFINE
//   y[r, j] = ŷ[r, j]·gamma[c] + beta[c],  c = ((r·n + j) / inner) mod k
// (tensor.Affine: x viewed as [outer, k, inner], the affine along the
// middle axis; LayerNorm inner = 1, GroupNorm inner = h·w) in one
// dispatch. One workgroup per row (grid-stride over the rows, so the row
// index is uniform within a workgroup): each invocation sums a strided
// share of the row, the workgroup combines the partial sums in shared
// memory (twice: the mean, then the centred sum of squares, which is
// accurate where E[x²] − mean² would cancel), then writes its share.
// Rows can be long (GroupNorm: 28·28·c/g elements).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool AFFINE = false;

const uint MAXWG = 256; // launches use at most this many invocations
shared float part[MAXWG];

layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) writeonly buffer Mean { float mean[]; };
layout(std430, binding = 2) writeonly buffer Rstd { float rstd[]; };
layout(std430, binding = 3) readonly buffer X { float x[]; };
// Without AFFINE, bindings 4 and 5 are not read (launches bind x there).
layout(std430, binding = 4) readonly buffer Gamma { float gamma[]; };
layout(std430, binding = 5) readonly buffer Beta { float beta[]; };

layout(push_constant) uniform Push {
	uint rows, n;
	uint xOff, yOff, mOff, rOff;
	float eps;
	uint gOff, bOff, inner, k; // the affine (AFFINE)
} pc;

// wgSum returns the sum of every invocation's v (all invocations call it).
float wgSum(float v) {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupSize.x;
	part[lid] = v;
	barrier();
	for (uint s = 1u; s < wg; s <<= 1u) {
		if ((lid & (2u * s - 1u)) == 0u && lid + s < wg) {
			part[lid] += part[lid + s];
		}
		barrier();
	}
	float total = part[0];
	barrier(); // part is reused by the next call
	return total;
}

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupSize.x;
	for (uint r = gl_WorkGroupID.x; r < pc.rows; r += gl_NumWorkGroups.x) {
		uint base = pc.xOff + r * pc.n;
		float s = 0.0;
		for (uint j = lid; j < pc.n; j += wg) {
			s += x[base + j];
		}
		float m = wgSum(s) / float(pc.n);
		float q = 0.0;
		for (uint j = lid; j < pc.n; j += wg) {
			float c = x[base + j] - m;
			q += c * c;
		}
		float rs = 1.0 / sqrt(wgSum(q) / float(pc.n) + pc.eps);
		uint out0 = pc.yOff + r * pc.n;
		for (uint j = lid; j < pc.n; j += wg) {
			float v = (x[base + j] - m) * rs;
			if (AFFINE) {
				uint c = ((r * pc.n + j) / pc.inner) % pc.k;
				v = v * gamma[pc.gOff + c] + beta[pc.bOff + c];
			}
			y[out0 + j] = v;
		}
		if (lid == 0u) {
			mean[pc.mOff + r] = m;
			rstd[pc.rOff + r] = rs;
		}
	}
}
