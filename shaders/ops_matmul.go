//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"github.com/difftune/difftune/tensor"
)

// kMatMul (glsl/matmul.comp) and its lanes build kMatMulLanes, which reads
// a and b through texel views. Bindings: dst, a, b, bias, deriv. Push
// constants: M, N, K, aOff, bOff, dOff, biasOff, derivOff, lda, ldb,
// aBatch, bBatch, batchBase, flags.
var (
	kMatMul      = &kernel{name: "matmul", bindings: 5, push: 14}
	kMatMulLanes = &kernel{name: "matmul_lanes", bindings: 5, push: 14, texels: 1<<1 | 1<<2}
)

// tiles is one tiling of the matmul kernel: a workgroup computes bm×bn of
// the output, an invocation tm×tn; bk is the depth of the shared-memory
// slices (shmem only).
type tiles struct {
	bm, bn, bk, tm, tn uint32
	shmem              bool // stage slices in shared memory (else registers only)
	lanes              bool // the lanes build: one subgroup per workgroup, texel views
}

func (t tiles) invocations() uint32 { return (t.bm / t.tm) * (t.bn / t.tn) }

// matmulConfig holds the tilings used on a device: large for big outputs,
// small where large tiles would leave the device idle.
type matmulConfig struct {
	large, small tiles
	// regs replaces a lanes tiling for operands that no texel view can
	// cover (buffers past maxTexelBufferElements).
	regs tiles
}

func defaultMatmulConfig(d *device) matmulConfig {
	if d.isCPU {
		return cpuMatmulConfig(d, 8, 4)
	}
	return gpuMatmulConfig(d)
}

// cpuMatmulConfig is the tiling for CPU implementations (lavapipe, device
// type CPU), where invocations are the SIMD lanes of one thread and
// workgroups are spread over threads: no shared memory (a barrier is a
// thread switch), and operands read through texel views (a fetch is a
// vector gather; a storage-buffer load is a loop over the lanes, which
// costs several times more). Where subgroup shuffles and texel views
// exist, a workgroup is one subgroup sharing tm rows, tn columns per lane
// (the lanes build); else 8×8 blocks per invocation with vec4 loads.
func cpuMatmulConfig(d *device, tm, tn uint32) matmulConfig {
	regs := tiles{bm: 64, bn: 64, bk: 4, tm: 8, tn: 8}
	const shuffle, compute = 0x10, 0x20
	if s := d.phys.sub; d.texelViews && s.ok && s.ops&shuffle != 0 && s.stages&compute != 0 && s.size >= 4 && s.size <= 64 {
		t := tiles{bm: tm, bn: tn * s.size, bk: 1, tm: tm, tn: tn, lanes: true}
		return matmulConfig{large: t, small: t, regs: regs}
	}
	return matmulConfig{large: regs, small: regs, regs: regs}
}

func gpuMatmulConfig(d *device) matmulConfig {
	large := tiles{bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, shmem: true}
	small := tiles{bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, shmem: true}
	lim := d.phys.limits
	fits := func(t tiles) bool {
		shared := 4 * (t.bk*(t.bm+1) + t.bk*t.bn)
		return t.invocations() <= lim.MaxComputeWorkGroupInvocations && t.invocations() <= lim.MaxComputeWorkGroupSize[0] &&
			shared <= lim.MaxComputeSharedMemorySize
	}
	if !fits(large) {
		large = small
	}
	if !fits(small) {
		small = tiles{bm: 32, bn: 32, bk: 8, tm: 4, tn: 4, shmem: true}
		large = small
	}
	return matmulConfig{large: large, small: small}
}

// pick chooses the tiling for an m×n output (per batch).
func (c matmulConfig) pick(batch, m, n int) tiles {
	if batch*m*n >= 512*512 && m >= int(c.large.bm) && n >= int(c.large.bn) {
		return c.large
	}
	return c.small
}

func b2u(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// MatMul computes dst = act(op(a)·op(b) + bias) over the batch, with deriv
// (if not nil) receiving act'(z) at the pre-activation values z.
func (b *Backend) MatMul(dst, a, x *tensor.Tensor, transA, transB bool, bias *tensor.Tensor, act tensor.Activation, deriv *tensor.Tensor) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	b.matmul(b.cfg.matmul, dst, a, x, transA, transB, bias, act, deriv)
}

func (b *Backend) matmul(cfg matmulConfig, dst, a, x *tensor.Tensor, transA, transB bool, bias *tensor.Tensor, act tensor.Activation, deriv *tensor.Tensor) {
	ds := dst.Shape()
	batch, m, n := ds[0], ds[1], ds[2]
	k := a.Dim(2)
	if transA {
		k = a.Dim(1)
	}
	if batch*m*n == 0 {
		return
	}
	dSlot, aSlot, xSlot := b.slotOf(dst), b.slotOf(a), b.slotOf(x)
	bind := []access{{dSlot, true}, {aSlot, false}, {xSlot, false}, {dSlot, false}, {dSlot, false}}
	var flags uint32
	push := make([]uint32, 14)
	if bias != nil {
		bind[3] = access{b.slotOf(bias), false}
		flags |= 1
		push[6] = u32(bias.Offset())
	}
	if deriv != nil {
		bind[4] = access{b.slotOf(deriv), true}
		flags |= 2
		push[7] = u32(deriv.Offset())
	}
	as, xs := a.Strides(), x.Strides()
	if a.Offset()%4 == 0 && as[1]%4 == 0 && as[0]%4 == 0 {
		flags |= 4
	}
	if x.Offset()%4 == 0 && xs[1]%4 == 0 && xs[0]%4 == 0 {
		flags |= 8
	}
	push[0], push[1], push[2] = u32(m), u32(n), u32(k)
	push[3], push[4], push[5] = u32(a.Offset()), u32(x.Offset()), u32(dst.Offset())
	push[8], push[9], push[10], push[11] = u32(as[1]), u32(xs[1]), u32(as[0]), u32(xs[0])
	push[13] = flags
	t := cfg.pick(batch, m, n)
	if t.lanes && !(b.mem.viewable(aSlot) && b.mem.viewable(xSlot)) {
		t = cfg.regs
	}
	spec := []uint32{t.bm, t.bn, t.bk, t.tm, t.tn, b2u(transA), b2u(transB), uint32(act), b2u(t.shmem), t.invocations()}
	gx := uint32((n + int(t.bn) - 1) / int(t.bn))
	gy := uint32((m + int(t.bm) - 1) / int(t.bm))
	maxZ := int(b.dev.phys.limits.MaxComputeWorkGroupCount[2])
	for base := 0; base < batch; base += maxZ {
		push[12] = u32(base)
		k := kMatMul
		if t.lanes {
			k = kMatMulLanes
		}
		b.launch(k, spec, bind, append([]uint32(nil), push...), gx, gy, uint32(min(maxZ, batch-base)))
	}
}
