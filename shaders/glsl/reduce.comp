#version 450
// reduce.comp: reductions along one axis (sum, max, min, logsumexp,
// argmax) and softmax / log-softmax, for strided sources.
//
// The rows (every position of the other dimensions) are walked like the
// elementwise kernels walk elements: up to six merged dimensions with a
// stride per operand. Along the axis, the source advances by sAxis and the
// destination (softmax) by dAxis. Two shapes of launch (constant GROUP):
//   - one invocation per row, for short axes: neighbouring invocations read
//     neighbouring rows, which is coalesced when the axis is not innermost;
//   - one workgroup per row, for long axes: each invocation reduces a
//     strided share of the row, then the workgroup combines the partial
//     results in shared memory.
// Sums are compensated (Kahan) and combined pairwise, so float32 sums over
// long rows stay close to the CPU's float64 accumulation.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 2) in;
// OP: 0 sum, 1 max, 2 min, 3 logsumexp, 4 argmax (tensor.ReduceOp), then
// 5 softmax and 6 log-softmax.
layout(constant_id = 0) const uint OP = 0;
layout(constant_id = 1) const bool GROUP = false;

const uint MAXWG = 256; // GROUP launches use at most this many invocations
shared float sv[MAXWG];
shared float sc[MAXWG];
shared uint si[MAXWG];

layout(std430, binding = 0) writeonly buffer Dst { float d[]; };
layout(std430, binding = 1) readonly buffer Src { float s[]; };

layout(push_constant) uniform Push {
	uint rows;  // positions of the other dimensions
	uint n;     // length of the axis
	uint rank;  // merged dimensions of the rows, 1..6
	uint sOff;
	uint dOff;
	uint sAxis; // source stride along the axis
	uint dAxis; // destination stride along the axis (softmax)
	uint shape[6];
	uint sStride[6];
	uint dStride[6];
} pc;

// Compensated accumulation: (sum, compensation).
void kahan_add(inout float sum, inout float comp, float x) {
	precise float y = x - comp;
	precise float t = sum + y;
	comp = (t - sum) - y;
	sum = t;
}

// pick reports whether (v, i) replaces (w, k) as the extremum a sequential
// scan keeps: the first maximum (or minimum), a NaN beating any number.
bool pick(float v, uint i, float w, uint k, bool isMin) {
	bool vn = isnan(v), wn = isnan(w);
	if (vn || wn) {
		return vn && (!wn || i < k);
	}
	if (v == w) {
		return i < k;
	}
	return isMin ? v < w : v > w;
}

// The row's own partial results, then the workgroup's (GROUP).
uint lid() { return GROUP ? gl_LocalInvocationID.x : 0u; }
uint lsize() { return GROUP ? gl_WorkGroupSize.x : 1u; }

// combine_sum returns the row's sum from each invocation's (sum, comp).
float combine_sum(float sum, float comp) {
	if (!GROUP) {
		return sum - comp;
	}
	uint l = gl_LocalInvocationID.x;
	sv[l] = sum;
	sc[l] = comp;
	barrier();
	for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h /= 2u) {
		if (l < h) {
			float s2 = sv[l], c2 = sc[l];
			kahan_add(s2, c2, sv[l + h]);
			kahan_add(s2, c2, -sc[l + h]);
			sv[l] = s2;
			sc[l] = c2;
		}
		barrier();
	}
	float r = sv[0] - sc[0];
	barrier(); // sv is reused by the next combine
	return r;
}

// combine_ext returns the row's extremum (value, index).
void combine_ext(inout float v, inout uint i, bool isMin) {
	if (!GROUP) {
		return;
	}
	uint l = gl_LocalInvocationID.x;
	sv[l] = v;
	si[l] = i;
	barrier();
	for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h /= 2u) {
		if (l < h && pick(sv[l + h], si[l + h], sv[l], si[l], isMin)) {
			sv[l] = sv[l + h];
			si[l] = si[l + h];
		}
		barrier();
	}
	v = sv[0];
	i = si[0];
	barrier();
}

// row_max is the NaN-propagating maximum of the row (math.Max semantics).
float row_max(uint sb) {
	float m = -INF;
	uint dummy = 0u;
	for (uint j = lid(); j < pc.n; j += lsize()) {
		m = max_nan(m, s[sb + j * pc.sAxis]);
	}
	// Indices do not matter here; pick keeps NaNs.
	combine_ext(m, dummy, false);
	return m;
}

// row_sumexp is the sum of exp(x - m) over the row.
float row_sumexp(uint sb, float m) {
	float sum = 0.0, comp = 0.0;
	for (uint j = lid(); j < pc.n; j += lsize()) {
		kahan_add(sum, comp, exp_f(s[sb + j * pc.sAxis] - m));
	}
	return combine_sum(sum, comp);
}

void do_row(uint r) {
	// Offsets of the row's first element.
	uint sb = pc.sOff, db = pc.dOff, rem = r;
	for (int k = int(pc.rank) - 1; k >= 0; k--) {
		uint c = rem % pc.shape[k];
		rem /= pc.shape[k];
		sb += c * pc.sStride[k];
		db += c * pc.dStride[k];
	}
	float result;
	if (OP == 0u) {
		float sum = 0.0, comp = 0.0;
		for (uint j = lid(); j < pc.n; j += lsize()) {
			kahan_add(sum, comp, s[sb + j * pc.sAxis]);
		}
		result = combine_sum(sum, comp);
	} else if (OP == 1u || OP == 2u || OP == 4u) {
		bool isMin = OP == 2u;
		float v = isMin ? INF : -INF;
		uint i = 0xffffffffu; // loses every tie
		for (uint j = lid(); j < pc.n; j += lsize()) {
			float x = s[sb + j * pc.sAxis];
			if (pick(x, j, v, i, isMin)) {
				v = x;
				i = j;
			}
		}
		combine_ext(v, i, isMin);
		result = OP == 4u ? float(i) : v;
	} else {
		float m = row_max(sb);
		float lz = m;
		// logsumexp: all −Inf gives −Inf, any +Inf gives +Inf (as the CPU).
		if (OP != 3u || !isinf(m)) {
			lz = m + log_f(row_sumexp(sb, m));
		}
		if (OP == 3u) {
			result = lz;
		} else {
			for (uint j = lid(); j < pc.n; j += lsize()) {
				float v = s[sb + j * pc.sAxis] - lz;
				d[db + j * pc.dAxis] = OP == 6u ? v : exp_f(v);
			}
			return;
		}
	}
	if (lid() == 0u) {
		d[db] = result;
	}
}

void main() {
	if (GROUP) {
		for (uint r = gl_WorkGroupID.x; r < pc.rows; r += gl_NumWorkGroups.x) {
			do_row(r); // uniform in the workgroup, so its barriers are too
		}
	} else {
		uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
		for (uint r = gl_GlobalInvocationID.x; r < pc.rows; r += step) {
			do_row(r);
		}
	}
}
