#version 450
// adam.comp: one fused Adam/AdamW update of param, m and v from grad, all
// contiguous: m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g²,
// p ← p − lr (m/c1 / (√(v/c2) + ε) + wd p), c1, c2 the bias corrections.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Param { float p[]; };
layout(std430, binding = 1) readonly buffer Grad { float g[]; };
layout(std430, binding = 2) buffer M { float m[]; };
layout(std430, binding = 3) buffer V { float v[]; };

layout(push_constant) uniform Push {
	uint n, pOff, gOff, mOff, vOff;
	float lr, b1, omb1, b2, omb2, eps, wd, c1, c2; // omb = 1 − β
} pc;

void main() {
	uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += step) {
		float gi = g[pc.gOff + i];
		float mi = pc.b1 * m[pc.mOff + i] + pc.omb1 * gi;
		float vi = pc.b2 * v[pc.vOff + i] + pc.omb2 * gi * gi;
		m[pc.mOff + i] = mi;
		v[pc.vOff + i] = vi;
		float upd = (mi / pc.c1) / (sqrt(vi / pc.c2) + pc.eps);
		float pi = p[pc.pOff + i];
		p[pc.pOff + i] = pi - pc.lr * (upd + pc.wd * pi);
	}
}
