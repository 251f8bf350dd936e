#version 450
// view_splat.comp: the point layers of a viewer frame (package
// cmd/internal/viewer, shaders.Backend.RenderView). One invocation per point
// (a grid-stride loop covers the rest): it maps the point's first two
// coordinates to pixels of a width × height grid,
//   px = x·sx + ox,   py = y·sy + oy    (float32, no fused multiply-add),
// and adds 1 to the count of every pixel (X, Y) of the grid with
// (X − ⌊px⌋)² + (Y − ⌊py⌋)² ≤ r² + r, a disc of radius r. The counts are
// added atomically, so they do not depend on the order the points are
// processed in, and view_compose.comp turns them into colour. A point that
// is not finite, or whose disc misses the grid, is skipped. The plain-Go
// reference (viewer.splat) computes the same counts bit for bit.

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Counts { uint cnt[]; };
layout(std430, binding = 1) readonly buffer Points { float p[]; };

layout(push_constant) uniform Push {
	uint n, stride, cOff, width, height;
	float sx, ox, sy, oy;
	int radius;
} pc;

void main() {
	uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	int r = pc.radius;
	int w = int(pc.width), h = int(pc.height);
	for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += step) {
		// precise: a fused multiply-add would round differently from the
		// reference at pixel borders.
		precise float fx = p[i * pc.stride] * pc.sx + pc.ox;
		precise float fy = p[i * pc.stride + 1u] * pc.sy + pc.oy;
		// False for NaN too; keeps the int conversion in range.
		if (!(fx > float(-r - 1) && fx < float(w + r + 1) && fy > float(-r - 1) && fy < float(h + r + 1))) {
			continue;
		}
		int cx = int(floor(fx)), cy = int(floor(fy));
		for (int dy = -r; dy <= r; dy++) {
			int y = cy + dy;
			if (y < 0 || y >= h) {
				continue;
			}
			for (int dx = -r; dx <= r; dx++) {
				int x = cx + dx;
				if (x < 0 || x >= w || dx * dx + dy * dy > r * r + r) {
					continue;
				}
				atomicAdd(cnt[pc.cOff + uint(y * w + x)], 1u);
			}
		}
	}
}
