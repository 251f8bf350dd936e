#version 450
// attention.comp: scaled dot-product attention (tensor.Attention) in one
// dispatch. For every batch index z of q [B, n, d], k [B, m, d], v [B, m, d]
// and query row i, with s_ij = scale·q_i·k_j:
//   lse[z, i] = log Σ_j exp(s_ij),  out[z, i] = Σ_j exp(s_ij − lse[z, i])·v_j
// A workgroup takes R query rows of one batch index at a time (grid-stride
// over the B·⌈n/R⌉ blocks, so the block is uniform within the workgroup) and
// keeps their R×m scores in shared memory: the probabilities never leave it.
//  1. stage the R rows of q (zeros past the last row);
//  2. scores: an invocation owns T keys and holds R×T sums in registers, so
//     that per step of the dot products R + T loads (q from shared memory at
//     addresses uniform in the workgroup, a broadcast; k from memory) feed
//     R·T fma;
//  3. softmax, an invocation per row: the row's max, exp(s − max) in place
//     (nothing overflows) and its sum l; lse = max + log l;
//  4. out: an invocation owns T features of the R rows, R×T sums of
//     e_rj·v_jc over the keys j, divided by l.
// Shared memory: R·(m + d + 1) floats, within SH (the launch checks it
// against the device's limit).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint SH = 1024; // floats of shared memory
layout(constant_id = 2) const uint R = 16;    // query rows per workgroup
const uint T = 4u;                            // keys or features per invocation
shared float sh[SH];

layout(std430, binding = 0) writeonly buffer Out { float outv[]; };
layout(std430, binding = 1) writeonly buffer Lse { float lse[]; };
layout(std430, binding = 2) readonly buffer Q { float q[]; };
layout(std430, binding = 3) readonly buffer K { float k[]; };
layout(std430, binding = 4) readonly buffer V { float v[]; };

layout(push_constant) uniform Push {
	uint batch, n, m, d;
	uint outOff, lseOff, qOff, kOff, vOff;
	float scale;
} pc;

void main() {
	uint lid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupSize.x;
	uint n = pc.n, m = pc.m, d = pc.d;
	uint blocks = (n + R - 1u) / R;
	// Shared layout: scores S[R][m], then q rows Qs[R][d], then 1/l per row.
	uint qs = R * m, inv = qs + R * d;
	for (uint w = gl_WorkGroupID.x; w < pc.batch * blocks; w += gl_NumWorkGroups.x) {
		uint z = w / blocks, r0 = (w % blocks) * R;
		uint rows = min(R, n - r0);
		uint row0 = z * n + r0; // row r0 of q[z] among all rows
		uint kBase = pc.kOff + z * m * d, vBase = pc.vOff + z * m * d;
		for (uint i = lid; i < R * d; i += wg) {
			sh[qs + i] = i < rows * d ? q[pc.qOff + row0 * d + i] : 0.0;
		}
		barrier();
		// s_rj = scale·q_r·k_j for keys j0 .. j0+T−1 (the last clamped to
		// m − 1 for loading).
		for (uint j0 = lid * T; j0 < m; j0 += wg * T) {
			float acc[R * T];
			[[unroll]] for (uint i = 0u; i < R * T; i++) {
				acc[i] = 0.0;
			}
			for (uint c = 0u; c < d; c++) {
				float kc[T];
				[[unroll]] for (uint t = 0u; t < T; t++) {
					kc[t] = k[kBase + min(j0 + t, m - 1u) * d + c];
				}
				[[unroll]] for (uint r = 0u; r < R; r++) {
					float qrc = sh[qs + r * d + c];
					[[unroll]] for (uint t = 0u; t < T; t++) {
						acc[r * T + t] = fma(qrc, kc[t], acc[r * T + t]);
					}
				}
			}
			[[unroll]] for (uint t = 0u; t < T; t++) {
				if (j0 + t < m) {
					[[unroll]] for (uint r = 0u; r < R; r++) {
						sh[r * m + j0 + t] = pc.scale * acc[r * T + t];
					}
				}
			}
		}
		barrier();
		// Row r: its max, exp(s − max) in place, l = Σ exp(s − max),
		// lse = max + log l.
		for (uint r = lid; r < rows; r += wg) {
			float mx = -INF;
			for (uint j = 0u; j < m; j++) {
				mx = max(mx, sh[r * m + j]);
			}
			float l = 0.0;
			for (uint j = 0u; j < m; j++) {
				float e = exp_f(sh[r * m + j] - mx);
				sh[r * m + j] = e;
				l += e;
			}
			sh[inv + r] = 1.0 / l;
			lse[pc.lseOff + row0 + r] = mx + log_f(l);
		}
		barrier();
		// out_rc = Σ_j exp(s_rj − max)·v_jc / l for features c0 .. c0+T−1
		// (rows past the last hold zero scores and are not written).
		for (uint c0 = lid * T; c0 < d; c0 += wg * T) {
			float acc[R * T];
			[[unroll]] for (uint i = 0u; i < R * T; i++) {
				acc[i] = 0.0;
			}
			for (uint j = 0u; j < m; j++) {
				float vc[T];
				[[unroll]] for (uint t = 0u; t < T; t++) {
					vc[t] = v[vBase + j * d + min(c0 + t, d - 1u)];
				}
				[[unroll]] for (uint r = 0u; r < R; r++) {
					float e = sh[r * m + j];
					[[unroll]] for (uint t = 0u; t < T; t++) {
						acc[r * T + t] = fma(e, vc[t], acc[r * T + t]);
					}
				}
			}
			[[unroll]] for (uint r = 0u; r < R; r++) {
				if (r < rows) {
					float il = sh[inv + r];
					[[unroll]] for (uint t = 0u; t < T; t++) {
						if (c0 + t < d) {
							outv[pc.outOff + (row0 + r) * d + c0 + t] = acc[r * T + t] * il;
						}
					}
				}
			}
		}
		barrier(); // the next block overwrites sh
	}
}
