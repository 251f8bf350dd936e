#version 450
// elementwise.comp: the strided elementwise kernel family. One source, built
// four ways (see build.list):
//   -DNIN=1 -DCOPY  copy:   strided dst = strided src
//   -DNIN=1         unary:  dst = op(x0; p)
//   -DNIN=2         binary: dst = op(x0, x1)
//   -DNIN=3         where:  dst = x0 != 0 ? x1 : x2
// The operation is specialization constant 0, so each op is its own
// pipeline with the switch folded away. Operands are views of up to six
// dimensions (the host merges and drops dimensions first, and splits
// higher ranks into several dispatches); broadcast dimensions have stride 0.
// dst is contiguous except for copy.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 2) in;
layout(constant_id = 0) const uint OP = 0;
// CONTIG: every operand is contiguous, so element i is at offset + i.
layout(constant_id = 1) const bool CONTIG = false;

#ifdef COPY
#define NOPS 2 // operand 0 is dst, operand 1 the source
#else
#define NOPS NIN
#endif

layout(std430, binding = 0) writeonly buffer Dst { float d[]; };
layout(std430, binding = 1) readonly buffer X0 { float x0[]; };
#if NIN >= 2
layout(std430, binding = 2) readonly buffer X1 { float x1[]; };
#endif
#if NIN >= 3
layout(std430, binding = 3) readonly buffer X2 { float x2[]; };
#endif

layout(push_constant) uniform Push {
	uint n;    // elements
	uint rank; // dimensions in use, 1..6
	float p;   // scalar parameter of unary ops: the float64 p as p + plo
	float plo;
	uint dOff; // offset of the contiguous dst
	uint shape[6];
	uint off[NOPS];
	uint stride[NOPS * 6]; // operand k, dimension j at 6k + j
} pc;

void main() {
	uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += step) {
		uint o[NOPS];
		for (int k = 0; k < NOPS; k++) {
			o[k] = pc.off[k];
		}
		if (CONTIG) {
			for (int k = 0; k < NOPS; k++) {
				o[k] += i;
			}
		} else {
			uint rem = i;
			for (int j = int(pc.rank) - 1; j >= 0; j--) {
				uint c = rem % pc.shape[j];
				rem /= pc.shape[j];
				for (int k = 0; k < NOPS; k++) {
					o[k] += c * pc.stride[6 * k + j];
				}
			}
		}
#ifdef COPY
		d[o[0]] = x0[o[1]];
#elif NIN == 1
		d[pc.dOff + i] = unary_op(OP, x0[o[0]], pc.p, pc.plo);
#elif NIN == 2
		d[pc.dOff + i] = binary_op(OP, x0[o[0]], x1[o[1]]);
#else
		d[pc.dOff + i] = x0[o[0]] != 0.0 ? x1[o[1]] : x2[o[2]];
#endif
	}
}
