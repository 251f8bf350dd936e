#version 450
// view_compose.comp: a viewer frame (package cmd/internal/viewer,
// shaders.Backend.RenderView). One invocation per pixel paints the draw
// list in order over the background (painter's algorithm; the items are
// binned per 8 × 8 tile first, see main) and writes the
// pixel as RGBA8: R in the low byte, the byte order of Go's image.RGBA,
// alpha always 255. Every colour is RGBA8 the same way; blending is integer
// arithmetic, dst' = (dst·(255 − a) + src·a + 127) / 255 per channel, so
// the plain-Go reference (viewer.compose) gives the same bytes.
//
// Every item is 8 words: kind, x0, y0, x1, y1 (the pixel rectangle
// [x0, x1) × [y0, y1), inside the frame), a, b, c, with kinds
//   1 rect:   a = colour, its alpha the opacity;
//   2 glyph:  a = colour, b = glyph index in the font; the glyph's
//             fontW × fontH cells are stretched over the rectangle;
//   3 image:  a = offset in data of an h × w image of RGBA8 words (row
//             major), b = h | w << 16; stretched over the rectangle, nearest
//             sampling, opaque;
//   4 points: a = offset in counts of a (x1 − x0) × (y1 − y0) grid (row
//             major, see view_splat.comp), b = colour, its alpha a the
//             opacity of one hit: k hits cover 255 − rem_k, where rem_0 = 255
//             and rem_{j+1} = ⌊rem_j·(255 − a)/255⌋.
// A glyph is 4 words: its row y (y < 16) is byte y & 3 of word y >> 2,
// bit x of that byte its column x (x < 8).

layout(local_size_x = 8, local_size_y = 8) in;

layout(std430, binding = 0) writeonly buffer Out { uint px[]; };
layout(std430, binding = 1) readonly buffer Items { uint it[]; };
layout(std430, binding = 2) readonly buffer Font { uint font[]; };
layout(std430, binding = 3) readonly buffer Data { uint data[]; };
layout(std430, binding = 4) readonly buffer Counts { uint cnt[]; };

layout(push_constant) uniform Push {
	uint width, height, items, background;
	uint fontW, fontH;
} pc;

uvec3 rgb(uint c) { return uvec3(c & 255u, (c >> 8u) & 255u, (c >> 16u) & 255u); }

uvec3 over(uvec3 dst, uint c, uint a) { return (dst * (255u - a) + rgb(c) * a + 127u) / 255u; }

// Items are binned per workgroup: the tile's invocations first mark, in
// shared memory, the items whose rectangle meets the tile (a bit per item,
// so the painting order stays the list's), then each pixel paints only
// those. A list of more than maxBinned items is painted unbinned.
const uint maxBinned = 2048u;
shared uint hit[maxBinned / 32u];

// paint paints item k over col at pixel (x, y).
void paint(uint k, uint x, uint y, inout uvec3 col) {
	uint b = 8u * k;
	uint x0 = it[b + 1u], y0 = it[b + 2u], x1 = it[b + 3u], y1 = it[b + 4u];
	if (x < x0 || x >= x1 || y < y0 || y >= y1) {
		return;
	}
	uint kind = it[b], a = it[b + 5u], bb = it[b + 6u];
	uint lx = x - x0, ly = y - y0, w = x1 - x0, h = y1 - y0;
	if (kind == 1u) {
		col = over(col, a, a >> 24u);
	} else if (kind == 2u) {
		uint gx = lx * pc.fontW / w, gy = ly * pc.fontH / h;
		uint word = font[4u * bb + (gy >> 2u)];
		if (((word >> (8u * (gy & 3u) + gx)) & 1u) != 0u) {
			col = over(col, a, a >> 24u);
		}
	} else if (kind == 3u) {
		uint ih = bb & 65535u, iw = bb >> 16u;
		col = rgb(data[a + (ly * ih / h) * iw + lx * iw / w]);
	} else if (kind == 4u) {
		uint n = cnt[a + ly * w + lx];
		uint alpha = bb >> 24u, rem = 255u;
		for (uint j = 0u; j < n && rem != 0u; j++) {
			rem = rem * (255u - alpha) / 255u;
		}
		col = over(col, bb, 255u - rem);
	}
}

void main() {
	uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
	bool binned = pc.items <= maxBinned; // uniform: the barriers below are reached by all
	uint words = (pc.items + 31u) / 32u;
	if (binned) {
		uint lid = gl_LocalInvocationIndex;
		uint tx0 = gl_WorkGroupID.x * 8u, ty0 = gl_WorkGroupID.y * 8u;
		uint tx1 = tx0 + 8u, ty1 = ty0 + 8u;
		for (uint i = lid; i < words; i += 64u) {
			hit[i] = 0u;
		}
		barrier();
		for (uint k = lid; k < pc.items; k += 64u) {
			uint b = 8u * k;
			if (it[b + 1u] < tx1 && it[b + 3u] > tx0 && it[b + 2u] < ty1 && it[b + 4u] > ty0) {
				atomicOr(hit[k >> 5u], 1u << (k & 31u));
			}
		}
		barrier();
	}
	if (x >= pc.width || y >= pc.height) {
		return;
	}
	uvec3 col = rgb(pc.background);
	if (binned) {
		for (uint i = 0u; i < words; i++) {
			for (uint m = hit[i]; m != 0u; m &= m - 1u) {
				paint(32u * i + uint(findLSB(m)), x, y, col);
			}
		}
	} else {
		for (uint k = 0u; k < pc.items; k++) {
			paint(k, x, y, col);
		}
	}
	px[y * pc.width + x] = col.r | col.g << 8u | col.b << 16u | 0xff000000u;
}
