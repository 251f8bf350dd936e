//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"math"
	"unsafe"
)

var (
	// kViewSplat (glsl/view_splat.comp). Bindings: counts, points. Push: n,
	// stride, offset, width, height, sx, ox, sy, oy, radius.
	// Specialization: the workgroup size.
	kViewSplat = &kernel{name: "view_splat", bindings: 2, push: 10}
	// kViewCompose (glsl/view_compose.comp). Bindings: out, items, font,
	// images, counts. Push: width, height, items, background, fontW,
	// fontH. Workgroups of 8×8 pixels.
	kViewCompose = &kernel{name: "view_compose", bindings: 5, push: 6}
)

// RenderView draws v into dst (v.Width·v.Height RGBA8 words, row major): it
// zeroes the counts, records one splat dispatch per point set and one
// compose dispatch, and waits for the pixels. An invalid View
// (View.Validate) or a dst of the wrong length panics.
func (b *Backend) RenderView(v View, dst []uint32) {
	if err := v.Validate(); err != nil {
		panic("vulkan: " + err.Error())
	}
	if len(dst) != v.Width*v.Height {
		panic("vulkan: RenderView into a buffer of the wrong size")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	// Every binding needs a buffer: empty ones get a word.
	buffer := func(words []uint32, n int) *slot {
		s := b.allocSlot(kindDevice, uint64(4*max(n, len(words), 1)))
		if len(words) > 0 {
			b.upload(s, 0, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), 4*len(words)))
		}
		return s
	}
	counts := buffer(nil, v.Counts)
	b.rec.fill(counts, 0, uint64(4*max(v.Counts, 1)), 0)
	var temps []*slot
	for _, sp := range v.Splats {
		n := len(sp.Points) / sp.Stride
		if n == 0 {
			continue
		}
		pts := b.allocSlot(kindDevice, uint64(4*len(sp.Points)))
		b.upload(pts, 0, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(sp.Points))), 4*len(sp.Points)))
		f := math.Float32bits
		push := []uint32{u32(n), u32(sp.Stride), u32(sp.Offset), u32(sp.Width), u32(sp.Height),
			f(sp.SX), f(sp.OX), f(sp.SY), f(sp.OY), u32(sp.Radius)}
		b.launch(kViewSplat, []uint32{b.cfg.wg}, []access{{counts, true}, {pts, false}}, push, b.cfg.groups1D(n, b.cfg.wg), 1, 1)
		temps = append(temps, pts)
	}
	out := b.allocSlot(kindDevice, uint64(4*len(dst)))
	items, font, images := buffer(v.Items, 0), buffer(v.Font, 0), buffer(v.Images, 0)
	push := []uint32{u32(v.Width), u32(v.Height), u32(len(v.Items) / ViewItemWords), v.Background, u32(v.FontW), u32(v.FontH)}
	bind := []access{{out, true}, {items, false}, {font, false}, {images, false}, {counts, false}}
	b.launch(kViewCompose, nil, bind, push, uint32((v.Width+7)/8), uint32((v.Height+7)/8), 1)
	b.download(out, 0, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)))
	for _, s := range append(temps, out, items, font, images, counts) {
		b.retire(s)
	}
}
