//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/tensor"
)

// The convolution kernels (glsl/conv2d.comp, one build per mode): implicit
// GEMMs that gather their operands from the tensors. Bindings: dst, A, B,
// then bias (forward) or the partial sums and tile counters of split-k
// (grad weight). Push constants: N, C, H, W, O, KH, KW, stride, pad, OH,
// OW, offsets of A, B, dst and bias, flags (1: bias), column tiles, depth
// of a split, splits. Specialization: BM, BN, BK, TM, TN, workgroup size.
var (
	kConv2d           = &kernel{name: "conv2d", bindings: 4, push: 19}
	kConv2dGradInput  = &kernel{name: "conv2d_grad_input", bindings: 3, push: 19}
	kConv2dGradWeight = &kernel{name: "conv2d_grad_weight", bindings: 5, push: 19}
)

// convConfig holds the tilings of the convolution kernels on a device:
// large and small as for matmul, narrow for GEMMs of few rows (the output
// channels of a small network); and when to split the long reduction of
// the weight gradient (n·oh·ow deep, over a small output) across
// workgroups: until a dispatch has minGroups workgroups, each reducing at
// least minChunk.
type convConfig struct {
	large, small, narrow tiles
	minGroups, minChunk  int
}

// defaultConvConfig picks the tilings for d (gpuConvConfig or
// cpuConvConfig); one that does not fit the device (convFits) falls back
// to 32×32 tiles.
func defaultConvConfig(d *device) convConfig {
	c := gpuConvConfig()
	if d.isCPU {
		c = cpuConvConfig()
	}
	fallback := tiles{bm: 32, bn: 32, bk: 8, tm: 4, tn: 4, shmem: true}
	for _, t := range []*tiles{&c.large, &c.small, &c.narrow} {
		if !convFits(d, *t) {
			*t = fallback
		}
	}
	return c
}

// gpuConvConfig is matmul's shared-memory tilings, with a 32-row one for
// narrow GEMMs.
func gpuConvConfig() convConfig {
	return convConfig{
		large:     tiles{bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, shmem: true},
		small:     tiles{bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, shmem: true},
		narrow:    tiles{bm: 32, bn: 128, bk: 16, tm: 4, tn: 8, shmem: true},
		minGroups: 256, minChunk: 256,
	}
}

// cpuConvConfig is for CPU implementations (lavapipe), where a barrier is
// a thread switch: 8×8 blocks per invocation and 16-deep slices, so that
// few barriers are paid per multiply-add.
func cpuConvConfig() convConfig {
	t := tiles{bm: 64, bn: 64, bk: 16, tm: 8, tn: 8, shmem: true}
	return convConfig{large: t, small: t, narrow: tiles{bm: 32, bn: 64, bk: 16, tm: 4, tn: 8, shmem: true},
		minGroups: 16, minChunk: 2048}
}

// convFits reports whether tiling t suits conv2d.comp on d: the slices fit
// in shared memory, the workgroup in the device's limits, and the
// workgroup size is a multiple of the slice depth and width (the kernel's
// load loops assume it).
func convFits(d *device, t tiles) bool {
	lim := d.phys.limits
	nt := t.invocations()
	shared := 4 * t.bk * (t.bm + 1 + t.bn + 1)
	return t.bm%t.tm == 0 && t.bn%t.tn == 0 && nt%t.bk == 0 && nt%t.bn == 0 &&
		nt <= lim.MaxComputeWorkGroupInvocations && nt <= lim.MaxComputeWorkGroupSize[0] &&
		shared <= lim.MaxComputeSharedMemorySize
}

// pick chooses the tiling for a GEMM of m rows and n columns.
func (c convConfig) pick(m, n int) tiles {
	switch {
	case m <= int(c.narrow.bm):
		return c.narrow
	case m >= int(c.large.bm) && n >= int(c.large.bn) && m*n >= 512*512:
		return c.large
	}
	return c.small
}

// splitK returns into how many parts to split a reduction of depth k run
// by groups workgroups, and the depth of each part (a multiple of bk).
func (c convConfig) splitK(groups, k, bk int) (splits, chunk int) {
	splits = min((c.minGroups+groups-1)/groups, k/max(c.minChunk, 1))
	if splits <= 1 {
		return 1, k
	}
	chunk = ((k+splits-1)/splits + bk - 1) / bk * bk
	return (k + chunk - 1) / chunk, chunk
}

var _ tensor.Convolver = (*Backend)(nil)

// Conv2d records y = conv(x, w) + bias (see tensor.Convolver) as one
// dispatch: the GEMM w·x̂ with the patches x̂ gathered from x tile by tile;
// bias may be nil. The three convolutions decline unless cfg.fused.
func (b *Backend) Conv2d(y, x, w, bias *tensor.Tensor, g tensor.ConvGeom) bool {
	out := w.Dim(0)
	ys := b.slotOf(y)
	bind := []access{{ys, true}, {b.slotOf(w), false}, {b.slotOf(x), false}, {ys, false}}
	var flags, biasOff uint32
	if bias != nil {
		bind[3] = access{b.slotOf(bias), false}
		flags, biasOff = 1, u32(bias.Offset())
	}
	return b.conv(kConv2d, g, out, out, g.N*g.OutH*g.OutW, g.C*g.KH*g.KW, bind, w, x, y, biasOff, flags)
}

// Conv2dGradInput records dx = Col2Im(wᵀ·dy) (see tensor.Convolver) as one
// dispatch: a gather over the kernel taps that reach each element of dx.
func (b *Backend) Conv2dGradInput(dx, dy, w *tensor.Tensor, g tensor.ConvGeom) bool {
	out := w.Dim(0)
	bind := []access{{b.slotOf(dx), true}, {b.slotOf(w), false}, {b.slotOf(dy), false}}
	return b.conv(kConv2dGradInput, g, out, g.C, g.N*g.H*g.W, out*g.KH*g.KW, bind, w, dy, dx, 0, 0)
}

// Conv2dGradWeight records dw = Σ_n dy[n]·x̂[n]ᵀ (see tensor.Convolver) as
// one dispatch. The reduction over n·oh·ow is split across workgroups
// where the output has too few tiles to occupy the device (convConfig):
// each writes its partial tile to a scratch buffer, and the last of a
// tile's to finish sums them in a fixed order (deterministic).
func (b *Backend) Conv2dGradWeight(dw, dy, x *tensor.Tensor, g tensor.ConvGeom) bool {
	out := dy.Dim(1)
	bind := []access{{b.slotOf(dw), true}, {b.slotOf(dy), false}, {b.slotOf(x), false}}
	return b.conv(kConv2dGradWeight, g, out, out, g.C*g.KH*g.KW, g.N*g.OutH*g.OutW, bind, dy, x, dw, 0, 0)
}

// conv records convolution kernel k for geometry g with out output
// channels: its GEMM has m rows, n columns and depth depth; opA, opB and
// dst are the tensors bound to A, B and dst (for their offsets). Column
// tiles past the limit on workgroups in x continue in z, and so do the
// splits of the grad-weight reduction. It declines (false) unless
// cfg.fused.
func (b *Backend) conv(k *kernel, g tensor.ConvGeom, out, m, n, depth int, bind []access, opA, opB, dst *tensor.Tensor, biasOff, flags uint32) bool {
	if !b.cfg.fused {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	for _, t := range []*tensor.Tensor{opA, opB, dst} {
		if t.Offset()+t.Len() > math.MaxInt32 {
			panic(fmt.Sprintf("vulkan: %s on a tensor of more than 2³¹ elements", k.name))
		}
	}
	if m == 0 || n == 0 {
		return true
	}
	t := b.cfg.conv.pick(m, n)
	tilesX := (n + int(t.bn) - 1) / int(t.bn)
	gy := (m + int(t.bm) - 1) / int(t.bm)
	gx := min(tilesX, int(b.cfg.maxGroups))
	foldZ := (tilesX + gx - 1) / gx
	splits, chunk := 1, depth
	if k == kConv2dGradWeight {
		splits, chunk = b.cfg.conv.splitK(tilesX*gy, depth, int(t.bk))
		if splits*m*n > math.MaxInt32 {
			splits, chunk = 1, depth
		}
		part, done := bind[0].s, bind[0].s // unused without splits
		if splits > 1 {
			part = b.allocSlot(kindDevice, uint64(4*splits*m*n))
			done = b.allocSlot(kindDevice, uint64(4*tilesX*gy))
			b.rec.fill(done, 0, uint64(4*tilesX*gy), 0)
			defer b.retire(part)
			defer b.retire(done)
		}
		bind = append(bind, access{part, splits > 1}, access{done, splits > 1})
	}
	if lim := b.dev.phys.limits.MaxComputeWorkGroupCount; gy > int(lim[1]) || foldZ*splits > int(lim[2]) {
		panic(fmt.Sprintf("vulkan: %s of a %d×%d GEMM exceeds the device's workgroup counts", k.name, m, n))
	}
	push := []uint32{u32(g.N), u32(g.C), u32(g.H), u32(g.W), u32(out), u32(g.KH), u32(g.KW), u32(g.Stride), u32(g.Pad),
		u32(g.OutH), u32(g.OutW), u32(opA.Offset()), u32(opB.Offset()), u32(dst.Offset()), biasOff, flags, u32(tilesX),
		u32(max(chunk, 1)), u32(splits)}
	spec := []uint32{t.bm, t.bn, t.bk, t.tm, t.tn, t.invocations()}
	b.launch(k, spec, bind, push, uint32(gx), uint32(gy), uint32(foldZ*splits))
	return true
}
