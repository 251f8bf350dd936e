#version 450
// conv2d.comp: the 2-D convolution and its two backward convolutions as
// implicit GEMMs, built once per MODE (build.list). With x [N, C, H, W],
// w [O, C·KH·KW], y and dy [N, O, OH, OW], stride s, padding p and the
// patches x̂[n, k, q] = x[n, c, oy·s − p + ky, ox·s − p + kx] (k = (c, ky,
// kx), q = (oy, ox), 0 in the padding), each mode is D = A·B:
//   MODE 0, forward      y[n, o, q] = Σ_k w[o, k]·x̂[n, k, q] + bias[o]
//        A = w [O × C·KH·KW], B = x̂ with columns j = (n, q) [C·KH·KW × N·OH·OW]
//   MODE 1, grad input   dx[n, c, iy, ix] = Σ_{o, ky, kx} w[o, (c, ky, kx)]·dy[n, o, oy, ox]
//        over oy·s − p + ky = iy, ox·s − p + kx = ix: the transposed
//        convolution as a gather (each output element sums its own terms,
//        no atomics); A = w regrouped [C × O·KH·KW], B = dy at the taps
//        that hit (iy, ix), 0 elsewhere [O·KH·KW × N·H·W]
//   MODE 2, grad weight  dw[o, k] = Σ_{n, q} dy[n, o, q]·x̂[n, k, q]
//        A = dy [O × N·OH·OW], B = x̂ᵀ [N·OH·OW × C·KH·KW]
// No operand is materialized: the workgroup gathers BK-deep slices of A
// and B from the tensors straight into shared memory, then each invocation
// accumulates a TM×TN block in registers, as matmul.comp's SHMEM path does
// (rows ty, ty + BM/TM, ..., columns tx, tx + BN/TN, ...). Loads are
// mapped so that neighbouring invocations read neighbouring addresses
// (along q or k where the tensor is contiguous there); an invocation's
// column of B (MODE 0, 1) is decoded once, before the k loop, and its
// depth (MODE 2) once per slice for both operands.
//
// MODE 2 reduces over all N·OH·OW for an output of a few tiles: the host
// splits k over `splits` workgroups per tile (in z) when the tiles alone
// would leave the device idle. Each split publishes its partial tile; the
// last of a tile's splits to finish (an atomic count per tile) adds the
// partials in split order, so the sum does not depend on which finishes
// last. MODE 1 with stride s > 1 multiplies zeros for the taps that miss
// (all but 1/s² of them): a decomposition by output phase would skip them.
//
// Tile sizes are specialization constants; the host guarantees that the
// workgroup size NT = BM/TM·BN/TN is a multiple of BK and of BN. Column
// tiles beyond the device's limit on workgroups in x continue in z.
// Indices are 32-bit: every tensor has fewer than 2³¹ elements.
#extension GL_EXT_control_flow_attributes : require

layout(constant_id = 0) const uint BM = 64;
layout(constant_id = 1) const uint BN = 64;
layout(constant_id = 2) const uint BK = 16;
layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 4;
layout(local_size_x_id = 5) in;

const uint TX = BN / TN; // invocations across a tile
const uint TY = BM / TM; // invocations down a tile
const uint NT = TX * TY;
const uint APAD = BM + 1; // padded rows of the slices (no bank conflicts on stores)
const uint BPAD = BN + 1;

shared float As[BK * APAD];
shared float Bs[BK * BPAD];

layout(std430, binding = 0) writeonly buffer Dst { float d[]; };
layout(std430, binding = 1) readonly buffer OpA { float a[]; }; // w (MODE 0, 1), dy (MODE 2)
layout(std430, binding = 2) readonly buffer OpB { float b[]; }; // x (MODE 0, 2), dy (MODE 1)
#if MODE == 0
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
#elif MODE == 2
// Split-k (splits > 1): each split's partial dw, [splits, O, C·KH·KW], and
// per output tile the number of splits done (zeroed by the host).
layout(std430, binding = 3) coherent buffer Partial { float part[]; };
layout(std430, binding = 4) coherent buffer Done { uint done[]; };
shared bool lastSplit;
#endif

layout(push_constant) uniform Push {
	uint N, C, H, W, O, KH, KW, stride, pad, OH, OW;
	uint aOff, bOff, dOff, biasOff;
	uint flags;  // 1: bias (MODE 0)
	uint tilesX; // column tiles of the GEMM
	uint kChunk, splits; // the k range [split·kChunk, (split + 1)·kChunk) of each of splits workgroups (MODE 2)
} pc;

void main() {
	uint KK = pc.KH * pc.KW, HW = pc.H * pc.W, OHW = pc.OH * pc.OW;
#if MODE == 0
	uint M = pc.O, NN = pc.N * OHW, K = pc.C * KK;
#elif MODE == 1
	uint M = pc.C, NN = pc.N * HW, K = pc.O * KK;
#else
	uint M = pc.O, NN = pc.C * KK, K = pc.N * OHW;
#endif
	// z: the split (of k), then the column tiles past the limit in x.
	uint foldZ = gl_NumWorkGroups.z / pc.splits;
	uint split = gl_WorkGroupID.z / foldZ;
	uint tile = gl_WorkGroupID.x + (gl_WorkGroupID.z % foldZ) * gl_NumWorkGroups.x;
	uint kBegin = split * pc.kChunk, kEnd = min(K, kBegin + pc.kChunk);
	if (tile >= pc.tilesX) {
		return; // the whole workgroup: no barrier is left waiting
	}
	uint row0 = gl_WorkGroupID.y * BM;
	uint col0 = tile * BN;
	uint t = gl_LocalInvocationID.x;
	uint tx = t % TX, ty = t / TX;

	float acc[TM * TN];
	[[unroll]] for (uint i = 0; i < TM * TN; i++) {
		acc[i] = 0.0;
	}

	// Slices of A are loaded along k (an invocation's depth kk = t % BK is
	// fixed, its rows step by NT/BK); slices of B along the columns in
	// MODE 0 and 1 (column jj = t % BN fixed, depths step by NT/BN), along
	// k in MODE 2 (as A).
	uint kkA = t % BK;
#if MODE == 2
	uint kkB = kkA;
#else
	uint jj = t % BN;
	uint jc = col0 + jj;
	bool colIn = jc < NN;
	// This invocation's column j of B: image n and, for MODE 0, the corner
	// (iy0, ix0) of its patch; for MODE 1, the padded position (iy, ix)
	// + p of its element of dx.
#if MODE == 0
	uint n = jc / OHW, q = jc % OHW;
	int iy0 = int((q / pc.OW) * pc.stride) - int(pc.pad);
	int ix0 = int((q % pc.OW) * pc.stride) - int(pc.pad);
	uint bBase = pc.bOff + n * pc.C * HW;
#else
	uint n = jc / HW, q = jc % HW;
	int iyp = int(q / pc.W + pc.pad), ixp = int(q % pc.W + pc.pad);
	uint bBase = pc.bOff + n * pc.O * OHW;
#endif
#endif

	for (uint k0 = kBegin; k0 < kEnd; k0 += BK) {
		uint k = k0 + kkA;
		bool kIn = k < kEnd;
#if MODE == 0
		// A(o, k) = w[o, k].
		for (uint mm = t / BK; mm < BM; mm += NT / BK) {
			uint m = row0 + mm;
			float v = 0.0;
			if (kIn && m < M) {
				v = a[pc.aOff + m * K + k];
			}
			As[kkA * APAD + mm] = v;
		}
#elif MODE == 1
		// A(c, (o, r)) = w[o, c·KH·KW + r].
		uint ko = k / KK, kr = k % KK;
		for (uint mm = t / BK; mm < BM; mm += NT / BK) {
			uint m = row0 + mm;
			float v = 0.0;
			if (kIn && m < M) {
				v = a[pc.aOff + (ko * pc.C + m) * KK + kr];
			}
			As[kkA * APAD + mm] = v;
		}
#else
		// A(o, (n, q)) = dy[n, o, q]; B((n, q), (c, ky, kx)) = x̂[n, (c, ky, kx), q].
		uint kn = k / OHW, kq = k % OHW;
		int iy0 = int((kq / pc.OW) * pc.stride) - int(pc.pad);
		int ix0 = int((kq % pc.OW) * pc.stride) - int(pc.pad);
		for (uint mm = t / BK; mm < BM; mm += NT / BK) {
			uint m = row0 + mm;
			float v = 0.0;
			if (kIn && m < M) {
				v = a[pc.aOff + (kn * pc.O + m) * OHW + kq];
			}
			As[kkA * APAD + mm] = v;
		}
		uint xBase = pc.bOff + kn * pc.C * HW;
		for (uint jb = t / BK; jb < BN; jb += NT / BK) {
			uint j = col0 + jb;
			uint c = j / KK, r = j % KK;
			int iy = iy0 + int(r / pc.KW), ix = ix0 + int(r % pc.KW);
			float v = 0.0;
			if (kIn && j < NN && iy >= 0 && iy < int(pc.H) && ix >= 0 && ix < int(pc.W)) {
				v = b[xBase + c * HW + uint(iy) * pc.W + uint(ix)];
			}
			Bs[kkB * BPAD + jb] = v;
		}
#endif
#if MODE != 2
		for (uint kk = t / BN; kk < BK; kk += NT / BN) {
			uint k = k0 + kk;
			uint kc = k / KK, r = k % KK; // (c, ky, kx), or (o, ky, kx) in MODE 1
			int ky = int(r / pc.KW), kx = int(r % pc.KW);
			float v = 0.0;
#if MODE == 0
			// B((c, ky, kx), (n, q)) = x̂[n, (c, ky, kx), q].
			int iy = iy0 + ky, ix = ix0 + kx;
			if (colIn && k < kEnd && iy >= 0 && iy < int(pc.H) && ix >= 0 && ix < int(pc.W)) {
				v = b[bBase + kc * HW + uint(iy) * pc.W + uint(ix)];
			}
#else
			// B((o, ky, kx), (n, iy, ix)) = dy[n, o, oy, ox] where
			// oy·s = iy + p − ky and ox·s = ix + p − kx, if both are taps.
			int sy = iyp - ky, sx = ixp - kx;
			int s = int(pc.stride);
			if (colIn && k < kEnd && sy >= 0 && sx >= 0 && sy % s == 0 && sx % s == 0) {
				uint oy = uint(sy / s), ox = uint(sx / s);
				if (oy < pc.OH && ox < pc.OW) {
					v = b[bBase + (kc * pc.OH + oy) * pc.OW + ox];
				}
			}
#endif
			Bs[kk * BPAD + jj] = v;
		}
#endif
		barrier();
		[[unroll]] for (uint kk = 0; kk < BK; kk++) {
			float ar[TM];
			float br[TN];
			[[unroll]] for (uint i = 0; i < TM; i++) {
				ar[i] = As[kk * APAD + ty + i * TY];
			}
			[[unroll]] for (uint jt = 0; jt < TN; jt++) {
				br[jt] = Bs[kk * BPAD + tx + jt * TX];
			}
			[[unroll]] for (uint i = 0; i < TM; i++) {
				[[unroll]] for (uint jt = 0; jt < TN; jt++) {
					acc[i * TN + jt] = fma(ar[i], br[jt], acc[i * TN + jt]);
				}
			}
		}
		barrier();
	}

#if MODE == 2
	if (pc.splits > 1u) {
		// Publish this split's partial tile; the last split of the tile to
		// finish sums them all, in split order (the same sum whichever
		// finishes last), for the epilogue.
		uint plane = M * NN;
		[[unroll]] for (uint i = 0; i < TM; i++) {
			uint m = row0 + ty + i * TY;
			[[unroll]] for (uint jt = 0; jt < TN; jt++) {
				uint col = col0 + tx + jt * TX;
				if (m < M && col < NN) {
					part[split * plane + m * NN + col] = acc[i * TN + jt];
				}
			}
		}
		memoryBarrierBuffer();
		barrier();
		if (t == 0u) {
			lastSplit = atomicAdd(done[gl_WorkGroupID.y * pc.tilesX + tile], 1u) == pc.splits - 1u;
		}
		barrier();
		if (!lastSplit) {
			return;
		}
		memoryBarrierBuffer();
		[[unroll]] for (uint i = 0; i < TM; i++) {
			uint m = row0 + ty + i * TY;
			[[unroll]] for (uint jt = 0; jt < TN; jt++) {
				uint col = col0 + tx + jt * TX;
				if (m < M && col < NN) {
					float sum = 0.0;
					for (uint s = 0; s < pc.splits; s++) {
						sum += part[s * plane + m * NN + col];
					}
					acc[i * TN + jt] = sum;
				}
			}
		}
	}
#endif

	// Epilogue: row m, column j of D to its place in the output tensor.
	[[unroll]] for (uint jt = 0; jt < TN; jt++) {
		uint col = col0 + tx + jt * TX;
		if (col >= NN) {
			continue;
		}
#if MODE == 0
		uint base = pc.dOff + (col / OHW) * M * OHW + col % OHW, rowStride = OHW; // y[n, o, q]
#elif MODE == 1
		uint base = pc.dOff + (col / HW) * M * HW + col % HW, rowStride = HW; // dx[n, c, iy, ix]
#else
		uint base = pc.dOff + col, rowStride = NN; // dw[o, k]
#endif
		[[unroll]] for (uint i = 0; i < TM; i++) {
			uint m = row0 + ty + i * TY;
			if (m >= M) {
				continue;
			}
			float v = acc[i * TN + jt];
#if MODE == 0
			if ((pc.flags & 1u) != 0u) {
				v += bias[pc.biasOff + m];
			}
#endif
			d[base + m * rowStride] = v;
		}
	}
}
