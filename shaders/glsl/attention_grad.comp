#version 450
// attention_grad.comp: the backward pass of attention.comp
// (tensor.AttentionGrad) in one dispatch, without atomics. With
// P_ij = exp(s_ij − lse_i) recomputed from s_ij = scale·q_i·k_j,
// D_i = g_i·out_i and dS_ij = P_ij·(g_i·v_j − D_i):
//   dq_i = scale·Σ_j dS_ij·k_j,  dk_j = scale·Σ_i dS_ij·q_i,  dv_j = Σ_i P_ij·g_i
// Row 0 of the grid (gl_WorkGroupID.y = 0) owns dq, R query rows at a time:
// it stages those rows of q and g, their lse and D in shared memory, writes
// scale·dS for the R×m pairs there, then dq. Row 1 owns dk and dv, R keys at
// a time, the same way transposed: it stages those rows of k and v and
// every query's lse and D, writes P and scale·dS for the R×n pairs, then dk
// and dv. Each output has one writer, so both kinds run side by side; the
// role and the block are uniform within a workgroup (grid-stride over the
// blocks). As in attention.comp, an invocation owns T keys, queries or
// features of the R rows and holds R×T sums (two sets) in registers, so
// that each load feeds R or T fma. Shared memory:
// max(R·(m + 2d + 2), R·(2n + 2d) + 2n) floats, within SH.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint SH = 1024; // floats of shared memory
layout(constant_id = 2) const uint R = 16;    // query rows or keys per workgroup
const uint T = 4u;                            // keys, queries or features per invocation
shared float sh[SH];

layout(std430, binding = 0) writeonly buffer DQ { float dq[]; };
layout(std430, binding = 1) writeonly buffer DK { float dk[]; };
layout(std430, binding = 2) writeonly buffer DV { float dv[]; };
layout(std430, binding = 3) readonly buffer G { float g[]; };
layout(std430, binding = 4) readonly buffer Q { float q[]; };
layout(std430, binding = 5) readonly buffer K { float k[]; };
layout(std430, binding = 6) readonly buffer V { float v[]; };
layout(std430, binding = 7) readonly buffer O { float o[]; };
layout(std430, binding = 8) readonly buffer Lse { float lse[]; };

layout(push_constant) uniform Push {
	uint batch, n, m, d;
	uint dqOff, dkOff, dvOff, gOff, qOff, kOff, vOff, oOff, lseOff;
	float scale;
} pc;

// stageRowStats writes lse_i and D_i = g_i·out_i of rows row0 .. row0+count−1
// (among all query rows) to sh[ls + i] and sh[ds + i].
void stageRowStats(uint row0, uint count, uint ls, uint ds) {
	for (uint i = gl_LocalInvocationID.x; i < count; i += gl_WorkGroupSize.x) {
		uint row = row0 + i;
		float s = 0.0;
		for (uint c = 0u; c < pc.d; c++) {
			s = fma(g[pc.gOff + row * pc.d + c], o[pc.oOff + row * pc.d + c], s);
		}
		sh[ls + i] = lse[pc.lseOff + row];
		sh[ds + i] = s;
	}
}

// queryBlock writes dq for rows r0 .. r0+rows−1 of batch index z.
void queryBlock(uint z, uint r0, uint rows) {
	uint lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
	uint n = pc.n, m = pc.m, d = pc.d;
	// Shared layout: scale·dS[R][m], Qs[R][d], Gs[R][d], lse[R], D[R].
	uint qs = R * m, gs = qs + R * d, ls = gs + R * d, ds = ls + R;
	uint row0 = z * n + r0;
	uint kBase = pc.kOff + z * m * d, vBase = pc.vOff + z * m * d;
	for (uint i = lid; i < R * d; i += wg) {
		bool in_ = i < rows * d;
		sh[qs + i] = in_ ? q[pc.qOff + row0 * d + i] : 0.0;
		sh[gs + i] = in_ ? g[pc.gOff + row0 * d + i] : 0.0;
	}
	for (uint r = rows + lid; r < R; r += wg) {
		sh[ls + r] = 0.0;
		sh[ds + r] = 0.0;
	}
	stageRowStats(row0, rows, ls, ds);
	barrier();
	// scale·dS_rj for keys j0 .. j0+T−1 (the last clamped to m − 1 for
	// loading).
	for (uint j0 = lid * T; j0 < m; j0 += wg * T) {
		float s[R * T], dp[R * T];
		[[unroll]] for (uint i = 0u; i < R * T; i++) {
			s[i] = 0.0;
			dp[i] = 0.0;
		}
		for (uint c = 0u; c < d; c++) {
			float kc[T], vc[T];
			[[unroll]] for (uint t = 0u; t < T; t++) {
				uint j = min(j0 + t, m - 1u);
				kc[t] = k[kBase + j * d + c];
				vc[t] = v[vBase + j * d + c];
			}
			[[unroll]] for (uint r = 0u; r < R; r++) {
				float qrc = sh[qs + r * d + c], grc = sh[gs + r * d + c];
				[[unroll]] for (uint t = 0u; t < T; t++) {
					s[r * T + t] = fma(qrc, kc[t], s[r * T + t]);
					dp[r * T + t] = fma(grc, vc[t], dp[r * T + t]);
				}
			}
		}
		[[unroll]] for (uint t = 0u; t < T; t++) {
			if (j0 + t < m) {
				[[unroll]] for (uint r = 0u; r < R; r++) {
					float p = exp_f(pc.scale * s[r * T + t] - sh[ls + r]);
					sh[r * m + j0 + t] = pc.scale * p * (dp[r * T + t] - sh[ds + r]);
				}
			}
		}
	}
	barrier();
	// dq_rc = Σ_j scale·dS_rj·k_jc for features c0 .. c0+T−1.
	for (uint c0 = lid * T; c0 < d; c0 += wg * T) {
		float acc[R * T];
		[[unroll]] for (uint i = 0u; i < R * T; i++) {
			acc[i] = 0.0;
		}
		for (uint j = 0u; j < m; j++) {
			float kc[T];
			[[unroll]] for (uint t = 0u; t < T; t++) {
				kc[t] = k[kBase + j * d + min(c0 + t, d - 1u)];
			}
			[[unroll]] for (uint r = 0u; r < R; r++) {
				float e = sh[r * m + j];
				[[unroll]] for (uint t = 0u; t < T; t++) {
					acc[r * T + t] = fma(e, kc[t], acc[r * T + t]);
				}
			}
		}
		[[unroll]] for (uint r = 0u; r < R; r++) {
			[[unroll]] for (uint t = 0u; t < T; t++) {
				if (r < rows && c0 + t < d) {
					dq[pc.dqOff + (row0 + r) * d + c0 + t] = acc[r * T + t];
				}
			}
		}
	}
	barrier(); // the next block overwrites sh
}

// keyBlock writes dk and dv for keys j0 .. j0+cols−1 of batch index z.
void keyBlock(uint z, uint j0, uint cols) {
	uint lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
	uint n = pc.n, m = pc.m, d = pc.d;
	// Shared layout: P[R][n], scale·dS[R][n], Ks[R][d], Vs[R][d], lse[n], D[n].
	uint dss = R * n, ks = 2u * R * n, vs = ks + R * d, ls = vs + R * d, ds = ls + n;
	uint key0 = z * m + j0, q0 = z * n;
	for (uint i = lid; i < R * d; i += wg) {
		bool in_ = i < cols * d;
		sh[ks + i] = in_ ? k[pc.kOff + key0 * d + i] : 0.0;
		sh[vs + i] = in_ ? v[pc.vOff + key0 * d + i] : 0.0;
	}
	stageRowStats(q0, n, ls, ds);
	barrier();
	// P_ic and scale·dS_ic (stored [c][i]) for queries i0 .. i0+T−1.
	for (uint i0 = lid * T; i0 < n; i0 += wg * T) {
		float s[R * T], dp[R * T];
		[[unroll]] for (uint i = 0u; i < R * T; i++) {
			s[i] = 0.0;
			dp[i] = 0.0;
		}
		for (uint e = 0u; e < d; e++) {
			float qe[T], ge[T];
			[[unroll]] for (uint t = 0u; t < T; t++) {
				uint row = q0 + min(i0 + t, n - 1u);
				qe[t] = q[pc.qOff + row * d + e];
				ge[t] = g[pc.gOff + row * d + e];
			}
			[[unroll]] for (uint c = 0u; c < R; c++) {
				float kce = sh[ks + c * d + e], vce = sh[vs + c * d + e];
				[[unroll]] for (uint t = 0u; t < T; t++) {
					s[c * T + t] = fma(qe[t], kce, s[c * T + t]);
					dp[c * T + t] = fma(ge[t], vce, dp[c * T + t]);
				}
			}
		}
		[[unroll]] for (uint t = 0u; t < T; t++) {
			uint i = i0 + t;
			if (i < n) {
				float l = sh[ls + i], di = sh[ds + i];
				[[unroll]] for (uint c = 0u; c < R; c++) {
					float p = exp_f(pc.scale * s[c * T + t] - l);
					sh[c * n + i] = p;
					sh[dss + c * n + i] = pc.scale * p * (dp[c * T + t] - di);
				}
			}
		}
	}
	barrier();
	// dk_ce = Σ_i scale·dS_ic·q_ie and dv_ce = Σ_i P_ic·g_ie for features
	// e0 .. e0+T−1.
	for (uint e0 = lid * T; e0 < d; e0 += wg * T) {
		float accK[R * T], accV[R * T];
		[[unroll]] for (uint i = 0u; i < R * T; i++) {
			accK[i] = 0.0;
			accV[i] = 0.0;
		}
		for (uint i = 0u; i < n; i++) {
			float qe[T], ge[T];
			[[unroll]] for (uint t = 0u; t < T; t++) {
				uint e = min(e0 + t, d - 1u);
				qe[t] = q[pc.qOff + (q0 + i) * d + e];
				ge[t] = g[pc.gOff + (q0 + i) * d + e];
			}
			[[unroll]] for (uint c = 0u; c < R; c++) {
				float p = sh[c * n + i], dsc = sh[dss + c * n + i];
				[[unroll]] for (uint t = 0u; t < T; t++) {
					accV[c * T + t] = fma(p, ge[t], accV[c * T + t]);
					accK[c * T + t] = fma(dsc, qe[t], accK[c * T + t]);
				}
			}
		}
		[[unroll]] for (uint c = 0u; c < R; c++) {
			[[unroll]] for (uint t = 0u; t < T; t++) {
				if (c < cols && e0 + t < d) {
					dk[pc.dkOff + (key0 + c) * d + e0 + t] = accK[c * T + t];
					dv[pc.dvOff + (key0 + c) * d + e0 + t] = accV[c * T + t];
				}
			}
		}
	}
	barrier(); // the next block overwrites sh
}

void main() {
	if (gl_WorkGroupID.y == 0u) {
		uint blocks = (pc.n + R - 1u) / R;
		for (uint w = gl_WorkGroupID.x; w < pc.batch * blocks; w += gl_NumWorkGroups.x) {
			uint r0 = (w % blocks) * R;
			queryBlock(w / blocks, r0, min(R, pc.n - r0));
		}
	} else {
		uint blocks = (pc.m + R - 1u) / R;
		for (uint w = gl_WorkGroupID.x; w < pc.batch * blocks; w += gl_NumWorkGroups.x) {
			uint j0 = (w % blocks) * R;
			keyBlock(w / blocks, j0, min(R, pc.m - j0));
		}
	}
}
