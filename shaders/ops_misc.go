//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"math"
	"unsafe"

	"github.com/difftune/difftune/tensor"
)

var (
	// kIndex (glsl/index.comp). Bindings: dst, src, table. Push: total, n,
	// len, inner, sOff, dOff, tOff.
	kIndex = &kernel{name: "index", bindings: 3, push: 7}
	// kIm2Col (glsl/im2col.comp). Push: N, C, H, W, KH, KW, stride, pad, OH,
	// OW, sOff, dOff, total.
	kIm2Col = &kernel{name: "im2col", bindings: 2, push: 13}
	// kRandom (glsl/random.comp). Push: n, dOff, seed lo/hi, draw lo/hi.
	kRandom = &kernel{name: "random", bindings: 1, push: 6}
	// kAdam (glsl/adam.comp). Push: n, offsets of p, g, m, v, then lr, β1,
	// 1−β1, β2, 1−β2, ε, wd, c1, c2.
	kAdam = &kernel{name: "adam", bindings: 4, push: 14}
)

// table uploads words into a temporary device buffer that returns to the
// pool once the commands recorded after it have run.
func (b *Backend) table(words []uint32) *slot {
	s := b.allocSlot(kindDevice, uint64(4*len(words)))
	b.upload(s, 0, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), 4*len(words)))
	return s
}

// IndexSelect gathers the entries idx of src along axis into dst.
func (b *Backend) IndexSelect(dst, src *tensor.Tensor, axis int, idx []int) {
	src = src.Contiguous() // before locking: Contiguous may record a Copy
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	outer, n, inner := tensor.AxisGeometry(src.Shape(), axis)
	total := outer * len(idx) * inner
	if total == 0 {
		return
	}
	words := make([]uint32, len(idx))
	for i, v := range idx {
		words[i] = u32(v)
	}
	t := b.table(words)
	push := []uint32{u32(total), u32(n), u32(len(idx)), u32(inner), u32(src.Offset()), u32(dst.Offset()), 0}
	b.launch(kIndex, []uint32{0, b.cfg.wg}, []access{{b.slotOf(dst), true}, {b.slotOf(src), false}, {t, false}}, push, b.cfg.groups1D(total, b.cfg.wg), 1, 1)
	b.retire(t)
}

// IndexAdd adds the slices of src to dst at positions idx along axis.
func (b *Backend) IndexAdd(dst, src *tensor.Tensor, axis int, idx []int) {
	src = src.Contiguous()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	outer, n, inner := tensor.AxisGeometry(dst.Shape(), axis)
	total := outer * n * inner
	if total == 0 || len(idx) == 0 {
		return
	}
	// Counting sort of the source positions by target: starts[n+1], then
	// the sources of target 0, of target 1, ..., each in increasing order.
	words := make([]uint32, n+1+len(idx))
	for _, i := range idx {
		words[i+1]++
	}
	for i := range n {
		words[i+1] += words[i]
	}
	next := append([]uint32(nil), words[:n]...)
	for j, i := range idx {
		words[n+1+int(next[i])] = uint32(j)
		next[i]++
	}
	t := b.table(words)
	push := []uint32{u32(total), u32(n), u32(len(idx)), u32(inner), u32(src.Offset()), u32(dst.Offset()), 0}
	ds := b.slotOf(dst)
	b.launch(kIndex, []uint32{1, b.cfg.wg}, []access{{ds, true}, {b.slotOf(src), false}, {t, false}}, push, b.cfg.groups1D(total, b.cfg.wg), 1, 1)
	b.retire(t)
}

func (b *Backend) im2col(mode uint32, dst, src *tensor.Tensor, g tensor.ConvGeom) {
	total := dst.Len()
	if total == 0 {
		return
	}
	push := []uint32{u32(g.N), u32(g.C), u32(g.H), u32(g.W), u32(g.KH), u32(g.KW), u32(g.Stride), u32(g.Pad), u32(g.OutH), u32(g.OutW),
		u32(src.Offset()), u32(dst.Offset()), u32(total)}
	if total > math.MaxInt32 {
		panic("vulkan: Im2Col/Col2Im of more than 2³¹ elements")
	}
	b.launch(kIm2Col, []uint32{mode, b.cfg.wg}, []access{{b.slotOf(dst), true}, {b.slotOf(src), false}}, push, b.cfg.groups1D(total, b.cfg.wg), 1, 1)
}

// Im2Col unfolds the patches of src [n, c, h, w] into dst [n, c·kh·kw, oh·ow].
func (b *Backend) Im2Col(dst, src *tensor.Tensor, g tensor.ConvGeom) {
	src = src.Contiguous()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	b.im2col(0, dst, src, g)
}

// Col2Im folds the columns src back into the image dst, summing overlaps.
func (b *Backend) Col2Im(dst, src *tensor.Tensor, g tensor.ConvGeom) {
	src = src.Contiguous()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	b.im2col(1, dst, src, g)
}

func (b *Backend) random(normal bool, dst *tensor.Tensor, seed, draw uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	n := dst.Len()
	if n == 0 {
		return
	}
	push := []uint32{u32(n), u32(dst.Offset()), uint32(seed), uint32(seed >> 32), uint32(draw), uint32(draw >> 32)}
	b.launch(kRandom, []uint32{b2u(normal), b.cfg.wg}, []access{{b.slotOf(dst), true}}, push, b.cfg.groups1D((n+3)/4, b.cfg.wg), 1, 1)
}

// RandNormal fills dst with the normals of the Philox stream (seed, draw),
// element for element those of the CPU backend.
func (b *Backend) RandNormal(dst *tensor.Tensor, seed, draw uint64) { b.random(true, dst, seed, draw) }

// RandUniform fills dst with the uniforms of the Philox stream (seed, draw),
// bit for bit those of the CPU backend.
func (b *Backend) RandUniform(dst *tensor.Tensor, seed, draw uint64) {
	b.random(false, dst, seed, draw)
}

// AdamStep applies one fused Adam/AdamW update to param, m and v.
func (b *Backend) AdamStep(param, grad, m, v *tensor.Tensor, h tensor.AdamHyper) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	n := param.Len()
	if n == 0 {
		return
	}
	f := func(x float64) uint32 { return math.Float32bits(float32(x)) }
	c1 := 1 - math.Pow(h.Beta1, float64(h.Step))
	c2 := 1 - math.Pow(h.Beta2, float64(h.Step))
	push := []uint32{u32(n), u32(param.Offset()), u32(grad.Offset()), u32(m.Offset()), u32(v.Offset()),
		f(h.LR), f(h.Beta1), f(1 - h.Beta1), f(h.Beta2), f(1 - h.Beta2), f(h.Eps), f(h.WeightDecay), f(c1), f(c2)}
	bind := []access{{b.slotOf(param), true}, {b.slotOf(grad), false}, {b.slotOf(m), true}, {b.slotOf(v), true}}
	b.launch(kAdam, []uint32{b.cfg.wg}, bind, push, b.cfg.groups1D(n, b.cfg.wg), 1, 1)
}
