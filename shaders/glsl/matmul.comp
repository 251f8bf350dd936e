#version 450
// matmul.comp: batched dst = act(op(A)·op(B) + bias), op = optional
// transpose, with deriv receiving act'(z) at the pre-activation values z.
//
// A workgroup computes a BM×BN tile of dst; each invocation a TM×TN block
// of it, held in registers. Three ways to feed the registers:
//   - SHMEM (GPUs): the workgroup stages BK-deep slices of A and B in shared
//     memory with coalesced loads, then every invocation reads its TM + TN
//     values per k from there. An invocation owns rows ty, ty + BM/TM, ...
//     and columns tx, tx + BN/TN, ..., so neighbouring invocations touch
//     neighbouring shared-memory words and neighbouring output columns.
//   - registers only (!SHMEM): each invocation loads its own TM×4 slice of A
//     and 4×TN slice of B straight from memory, as vec4 where the layout
//     allows, and owns a contiguous TM×TN block.
//   - lanes (built with -DLANES, for CPU implementations such as lavapipe,
//     where invocations are the SIMD lanes of one thread and a barrier is a
//     thread switch): the workgroup is one subgroup sharing BM = TM rows,
//     lane l owns columns l·TN .. l·TN + TN - 1. A and B are read through
//     R32G32B32A32_SFLOAT texel views of their buffers: lavapipe (Mesa
//     22.3) fetches texels with vector gathers, while its storage-buffer
//     loads are a loop over the lanes with a branch per lane and component
//     (measured: 18 ns against 5 ns per vec4 for all 8 lanes; the loads
//     were about 80% of the time of the earlier storage-buffer kernel,
//     whose tile shape hardly mattered once they were gone). On whole,
//     aligned tiles every fetch brings a vec4 to each lane, A's values
//     reach the other lanes by subgroupShuffle, and nothing is loaded twice
//     within a subgroup; elsewhere lane l fetches A(i, k0 + l) and B one
//     scalar at a time.
// Tile sizes are specialization constants (the host picks them per
// device); in the register layout TM and TN must be multiples of 4; in all,
// BM/TM·BN/TN is the workgroup size.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifdef LANES
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
#include "common.glsl"

layout(constant_id = 0) const uint BM = 64;
layout(constant_id = 1) const uint BN = 64;
layout(constant_id = 2) const uint BK = 8;
layout(constant_id = 3) const uint TM = 8;
layout(constant_id = 4) const uint TN = 8;
layout(constant_id = 5) const bool TRANS_A = false;
layout(constant_id = 6) const bool TRANS_B = false;
layout(constant_id = 7) const uint ACT = 0;
layout(constant_id = 8) const bool SHARED_MEMORY = true;
#ifdef LANES
const bool SHMEM = false;
const bool STRIDED = false; // each lane owns TN adjacent columns
#else
const bool SHMEM = SHARED_MEMORY;
const bool STRIDED = SHARED_MEMORY;
#endif
layout(local_size_x_id = 9) in;

const uint TX = BN / TN; // invocations across a tile
const uint TY = BM / TM; // invocations down a tile
const uint APAD = BM + 1; // padded row of the A slice (no bank conflicts on stores)

shared float As[SHMEM ? BK * APAD : 1];
shared float Bs[SHMEM ? BK * BN : 1];

layout(std430, binding = 0) writeonly buffer Dst { float d[]; };
#ifdef LANES
// A and B through R32G32B32A32_SFLOAT texel views of their buffers: texel
// q is floats 4q to 4q+3.
layout(binding = 1) uniform samplerBuffer At;
layout(binding = 2) uniform samplerBuffer Bt;
#define A_AT(e) texelFetch(At, int((e) >> 2u))[(e) & 3u]
#define B_AT(e) texelFetch(Bt, int((e) >> 2u))[(e) & 3u]
#define A4_AT(q) texelFetch(At, int(q))
#define B4_AT(q) texelFetch(Bt, int(q))
#else
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer B4 { vec4 b4[]; };
#define A_AT(e) a[e]
#define B_AT(e) b[e]
#define A4_AT(q) a4[q]
#define B4_AT(q) b4[q]
#endif
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) writeonly buffer Deriv { float deriv[]; };

layout(push_constant) uniform Push {
	uint M, N, K;
	uint aOff, bOff, dOff, biasOff, derivOff;
	uint lda, ldb;       // row strides of A and B as stored
	uint aBatch, bBatch; // batch strides (0: shared by the batch)
	uint batchBase;      // batch index of workgroup z = 0
	uint flags;          // 1: bias, 2: deriv, 4: A vec4-aligned, 8: B vec4-aligned
} pc;

// Element (i, k) of op(A) and (k, j) of op(B), or 0 outside.
float loadA(uint base, uint i, uint k) {
	if (i >= pc.M || k >= pc.K) {
		return 0.0;
	}
	return TRANS_A ? A_AT(base + k * pc.lda + i) : A_AT(base + i * pc.lda + k);
}

float loadB(uint base, uint k, uint j) {
	if (k >= pc.K || j >= pc.N) {
		return 0.0;
	}
	return TRANS_B ? B_AT(base + j * pc.ldb + k) : B_AT(base + k * pc.ldb + j);
}

void main() {
	uint batch = gl_WorkGroupID.z + pc.batchBase;
	uint aBase = pc.aOff + batch * pc.aBatch;
	uint bBase = pc.bOff + batch * pc.bBatch;
	uint row0 = gl_WorkGroupID.y * BM;
	uint col0 = gl_WorkGroupID.x * BN;
	uint t = gl_LocalInvocationID.x;
	uint tx = t % TX, ty = t / TX;

	float acc[TM * TN];
	[[unroll]] for (uint i = 0; i < TM * TN; i++) {
		acc[i] = 0.0;
	}

	if (SHMEM) {
		const uint NT = TX * TY;
		for (uint k0 = 0; k0 < pc.K; k0 += BK) {
			for (uint idx = t; idx < BM * BK; idx += NT) {
				// Consecutive invocations read consecutive addresses.
				uint m = TRANS_A ? idx % BM : idx / BK;
				uint kk = TRANS_A ? idx / BM : idx % BK;
				As[kk * APAD + m] = loadA(aBase, row0 + m, k0 + kk);
			}
			for (uint idx = t; idx < BN * BK; idx += NT) {
				uint n = TRANS_B ? idx / BK : idx % BN;
				uint kk = TRANS_B ? idx % BK : idx / BN;
				Bs[kk * BN + n] = loadB(bBase, k0 + kk, col0 + n);
			}
			barrier();
			[[unroll]] for (uint kk = 0; kk < BK; kk++) {
				float ar[TM];
				float br[TN];
				[[unroll]] for (uint i = 0; i < TM; i++) {
					ar[i] = As[kk * APAD + ty + i * TY];
				}
				[[unroll]] for (uint j = 0; j < TN; j++) {
					br[j] = Bs[kk * BN + tx + j * TX];
				}
				[[unroll]] for (uint i = 0; i < TM; i++) {
					[[unroll]] for (uint j = 0; j < TN; j++) {
						acc[i * TN + j] = fma(ar[i], br[j], acc[i * TN + j]);
					}
				}
			}
			barrier();
		}
	}
#ifdef LANES
	else {
		// This lane's columns: c0 .. c0 + TN - 1 of rows row0 .. row0 + TM - 1.
		uint c0 = col0 + tx * TN;
		uint k0 = 0;
		// Whole tiles of vec4-aligned operands go by chunks of KC = 4·TX k:
		// TM fetches of A per chunk, each bringing 4 values to every lane,
		// which the lanes pass around by shuffles. Lane l holds
		//   A(row0 + i, k0 + 4l + c) in av[i], or transposed
		//   A(row0 + 4·LPK·g + 4(l % LPK) + c, k0 + KPF·s + l / LPK) in
		//   av[g·KC/KPF + s]: LPK lanes share one k, KPF k per fetch.
		const uint KC = 4 * TX;
		const uint LPK = min(TX, TM / 4);
		const uint KPF = TX / LPK;
		const bool TILED = TN % 4 == 0 && TM % 4 == 0 && (TM / 4 <= TX ? TX % (TM / 4) == 0 : (TM / 4) % TX == 0);
		bool full = row0 + BM <= pc.M && col0 + BN <= pc.N;
		if (TILED && full && (pc.flags & 12u) == 12u) {
			for (; k0 + KC <= pc.K; k0 += KC) {
				vec4 av[TM];
				[[unroll]] for (uint f = 0; f < TM; f++) {
					if (TRANS_A) {
						uint g = f / (KC / KPF), s = f % (KC / KPF);
						av[f] = A4_AT((aBase + (k0 + KPF * s + tx / LPK) * pc.lda + row0 + 4 * LPK * g + 4 * (tx % LPK)) / 4);
					} else {
						av[f] = A4_AT((aBase + (row0 + f) * pc.lda + k0 + 4 * tx) / 4);
					}
				}
				[[unroll]] for (uint q = 0; q < KC; q += 4) {
					// B(k0 + q + qq, c0 + j) = bv[(qq·TN + j)/4][j % 4], or bv[j][qq] transposed.
					vec4 bv[TN];
					if (TRANS_B) {
						[[unroll]] for (uint j = 0; j < TN; j++) {
							bv[j] = B4_AT((bBase + (c0 + j) * pc.ldb + k0 + q) / 4);
						}
					} else {
						[[unroll]] for (uint qq = 0; qq < 4; qq++) {
							[[unroll]] for (uint j = 0; j < TN; j += 4) {
								bv[(qq * TN + j) / 4] = B4_AT((bBase + (k0 + q + qq) * pc.ldb + c0 + j) / 4);
							}
						}
					}
					[[unroll]] for (uint qq = 0; qq < 4; qq++) {
						uint kk = q + qq;
						float br[TN];
						[[unroll]] for (uint j = 0; j < TN; j++) {
							br[j] = TRANS_B ? bv[j][qq] : bv[(qq * TN + j) / 4][j % 4];
						}
						[[unroll]] for (uint i = 0; i < TM; i++) {
							float a; // A(row0 + i, k0 + kk)
							if (TRANS_A) {
								uint g = i / (4 * LPK);
								a = subgroupShuffle(av[g * (KC / KPF) + kk / KPF][i % 4], (kk % KPF) * LPK + (i % (4 * LPK)) / 4);
							} else {
								a = subgroupShuffle(av[i][kk % 4], kk / 4);
							}
							[[unroll]] for (uint j = 0; j < TN; j++) {
								acc[i * TN + j] = fma(a, br[j], acc[i * TN + j]);
							}
						}
					}
				}
			}
		}
		// The rest (edge tiles, unaligned operands, the last k): lane tx
		// loads A(i, k0 + tx) for the rows and the lanes pass them around.
		for (; k0 < pc.K; k0 += TX) {
			float al[TM];
			[[unroll]] for (uint i = 0; i < TM; i++) {
				al[i] = loadA(aBase, row0 + i, k0 + tx);
			}
			[[unroll]] for (uint q = 0; q < TX; q++) {
				float br[TN];
				[[unroll]] for (uint j = 0; j < TN; j++) {
					br[j] = loadB(bBase, k0 + q, c0 + j);
				}
				[[unroll]] for (uint i = 0; i < TM; i++) {
					float av = subgroupShuffle(al[i], q); // A(row0 + i, k0 + q)
					[[unroll]] for (uint j = 0; j < TN; j++) {
						acc[i * TN + j] = fma(av, br[j], acc[i * TN + j]);
					}
				}
			}
		}
	}
#else
	else {
		uint r0 = row0 + ty * TM; // this invocation's block
		uint c0 = col0 + tx * TN;
		bool inside = r0 + TM <= pc.M && c0 + TN <= pc.N;
		bool vecA = inside && (pc.flags & 4u) != 0u;
		bool vecB = inside && (pc.flags & 8u) != 0u;
		for (uint k0 = 0; k0 < pc.K; k0 += 4) {
			float ar[TM * 4]; // ar[i*4 + q] = op(A)(r0 + i, k0 + q)
			float br[4 * TN]; // br[q*TN + j] = op(B)(k0 + q, c0 + j)
			bool full = k0 + 4 <= pc.K;
			if (vecA && full) {
				if (TRANS_A) {
					[[unroll]] for (uint q = 0; q < 4; q++) {
						[[unroll]] for (uint i = 0; i < TM; i += 4) {
							vec4 v = a4[(aBase + (k0 + q) * pc.lda + r0 + i) / 4];
							ar[i * 4 + q] = v.x;
							ar[(i + 1) * 4 + q] = v.y;
							ar[(i + 2) * 4 + q] = v.z;
							ar[(i + 3) * 4 + q] = v.w;
						}
					}
				} else {
					[[unroll]] for (uint i = 0; i < TM; i++) {
						vec4 v = a4[(aBase + (r0 + i) * pc.lda + k0) / 4];
						ar[i * 4] = v.x;
						ar[i * 4 + 1] = v.y;
						ar[i * 4 + 2] = v.z;
						ar[i * 4 + 3] = v.w;
					}
				}
			} else {
				[[unroll]] for (uint i = 0; i < TM; i++) {
					[[unroll]] for (uint q = 0; q < 4; q++) {
						ar[i * 4 + q] = loadA(aBase, r0 + i, k0 + q);
					}
				}
			}
			if (vecB && full) {
				if (TRANS_B) {
					[[unroll]] for (uint j = 0; j < TN; j++) {
						vec4 v = b4[(bBase + (c0 + j) * pc.ldb + k0) / 4];
						br[j] = v.x;
						br[TN + j] = v.y;
						br[2 * TN + j] = v.z;
						br[3 * TN + j] = v.w;
					}
				} else {
					[[unroll]] for (uint q = 0; q < 4; q++) {
						[[unroll]] for (uint j = 0; j < TN; j += 4) {
							vec4 v = b4[(bBase + (k0 + q) * pc.ldb + c0 + j) / 4];
							br[q * TN + j] = v.x;
							br[q * TN + j + 1] = v.y;
							br[q * TN + j + 2] = v.z;
							br[q * TN + j + 3] = v.w;
						}
					}
				}
			} else {
				[[unroll]] for (uint q = 0; q < 4; q++) {
					[[unroll]] for (uint j = 0; j < TN; j++) {
						br[q * TN + j] = loadB(bBase, k0 + q, c0 + j);
					}
				}
			}
			[[unroll]] for (uint q = 0; q < 4; q++) {
				[[unroll]] for (uint i = 0; i < TM; i++) {
					[[unroll]] for (uint j = 0; j < TN; j++) {
						acc[i * TN + j] = fma(ar[i * 4 + q], br[q * TN + j], acc[i * TN + j]);
					}
				}
			}
		}
	}
#endif

	// Epilogue: bias, activation and its derivative.
	uint dBase = batch * pc.M * pc.N;
	[[unroll]] for (uint i = 0; i < TM; i++) {
		uint r = STRIDED ? row0 + ty + i * TY : row0 + ty * TM + i;
		if (r >= pc.M) {
			continue;
		}
		[[unroll]] for (uint j = 0; j < TN; j++) {
			uint c = STRIDED ? col0 + tx + j * TX : col0 + tx * TN + j;
			if (c >= pc.N) {
				continue;
			}
			float v = acc[i * TN + j];
			if ((pc.flags & 1u) != 0u) {
				v += bias[pc.biasOff + c];
			}
			uint o = dBase + r * pc.N + c;
			float dy;
			d[pc.dOff + o] = activate(ACT, v, dy);
			if ((pc.flags & 2u) != 0u) {
				deriv[pc.derivOff + o] = dy;
			}
		}
	}
}
