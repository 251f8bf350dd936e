//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

// config holds the launch parameters chosen for a device.
type config struct {
	wg        uint32 // workgroup size of the elementwise and 1-D kernels
	maxGroups uint32 // most workgroups of a 1-D dispatch (grid-stride loops cover the rest)
	matmul    matmulConfig
	conv      convConfig
	// fused: run the fused convolution and attention kernels. Off on CPU
	// implementations: on lavapipe, composing them from Im2Col, MatMul and
	// Softmax (whose kernels have lavapipe variants) measured 2–9× faster,
	// since it runs shared-memory reads and barriers as loops over lanes.
	fused bool
	// reduceGroupMin is the axis length from which a reduction row gets a
	// whole workgroup rather than one invocation.
	reduceGroupMin int
}

func defaultConfig(d *device) config {
	c := config{wg: 256, maxGroups: 65535, reduceGroupMin: 128, fused: !d.isCPU}
	if lim := d.phys.limits.MaxComputeWorkGroupCount[0]; lim < c.maxGroups {
		c.maxGroups = lim
	}
	if d.isCPU {
		// On a CPU implementation (lavapipe) invocations are SIMD lanes and
		// a dispatch's workgroups are spread over threads: fewer, larger
		// chunks of work per group cost less.
		c.maxGroups = min(c.maxGroups, 4096)
		c.reduceGroupMin = 512
	}
	c.matmul = defaultMatmulConfig(d)
	c.conv = defaultConvConfig(d)
	return c
}

// groups1D returns the workgroup count for n invocations of wg each.
func (c config) groups1D(n int, wg uint32) uint32 {
	g := (uint64(n) + uint64(wg) - 1) / uint64(wg)
	return uint32(max(1, min(g, uint64(c.maxGroups))))
}
