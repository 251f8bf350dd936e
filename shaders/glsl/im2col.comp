#version 450
// im2col.comp: Im2Col (MODE 0) unfolds the patches of an image [n, c, h, w]
// into columns [n, c·kh·kw, oh·ow] (zero padding); Col2Im (MODE 1), its
// adjoint, folds columns back. Col2Im is a gather: each invocation owns
// one image element and sums the column entries that cover it, in the
// CPU's order (ky, then kx), so no atomics are needed.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const uint MODE = 0;

layout(std430, binding = 0) writeonly buffer Dst { float d[]; };
layout(std430, binding = 1) readonly buffer Src { float s[]; };

layout(push_constant) uniform Push {
	int N, C, H, W, KH, KW, stride, pad, OH, OW;
	uint sOff, dOff, total;
} pc;

void main() {
	uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	int rows = pc.C * pc.KH * pc.KW;
	int spatial = pc.OH * pc.OW;
	for (uint e = gl_GlobalInvocationID.x; e < pc.total; e += step) {
		int ie = int(e);
		if (MODE == 0u) {
			int sp = ie % spatial;
			int row = (ie / spatial) % rows;
			int n = ie / (spatial * rows);
			int ch = row / (pc.KH * pc.KW);
			int ky = (row / pc.KW) % pc.KH;
			int kx = row % pc.KW;
			int y = (sp / pc.OW) * pc.stride - pc.pad + ky;
			int x = (sp % pc.OW) * pc.stride - pc.pad + kx;
			float v = 0.0;
			if (y >= 0 && y < pc.H && x >= 0 && x < pc.W) {
				v = s[pc.sOff + uint(((n * pc.C + ch) * pc.H + y) * pc.W + x)];
			}
			d[pc.dOff + e] = v;
		} else {
			int x = ie % pc.W;
			int y = (ie / pc.W) % pc.H;
			int ch = (ie / (pc.W * pc.H)) % pc.C;
			int n = ie / (pc.W * pc.H * pc.C);
			float acc = 0.0;
			for (int ky = 0; ky < pc.KH; ky++) {
				int ty = y + pc.pad - ky;
				if (ty < 0 || ty % pc.stride != 0 || ty / pc.stride >= pc.OH) {
					continue;
				}
				for (int kx = 0; kx < pc.KW; kx++) {
					int tx = x + pc.pad - kx;
					if (tx < 0 || tx % pc.stride != 0 || tx / pc.stride >= pc.OW) {
						continue;
					}
					int row = (ch * pc.KH + ky) * pc.KW + kx;
					acc += s[pc.sOff + uint((n * rows + row) * spatial + (ty / pc.stride) * pc.OW + tx / pc.stride)];
				}
			}
			d[pc.dOff + e] = acc;
		}
	}
}
