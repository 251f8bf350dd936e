//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"math"
	"strings"
	"testing"
)

// TestViewKernels renders a small View on the device (under the validation
// layer where installed) and checks pixels whose values follow from the
// documented formulas: an opaque rectangle, a half-transparent one blended
// as (dst·(255 − a) + src·a + 127)/255, a glyph's lit and unlit cells, a
// nearest-sampled 2×1 image, and a point layer whose two coinciding points
// cover 255 − ⌊⌊255·(255 − a)/255⌋·(255 − a)/255⌋. Package
// cmd/internal/viewer checks whole frames against its Go reference.
func TestViewKernels(t *testing.T) {
	b := testBackend(t)
	const w, h = 13, 11
	font := []uint32{0b101, 0, 0, 0} // glyph 0: row 0 has columns 0 and 2
	v := View{Width: w, Height: h, Background: 0xff102030, Font: font, FontW: 3, FontH: 1,
		Images: []uint32{0xff0000ff, 0xff00ff00}, Counts: 4 * 4,
		Splats: []ViewSplat{{Points: []float32{2.5, 2.5, 2.5, 2.5, float32(nanf()), 1}, Stride: 2, Offset: 0, Width: 4, Height: 4, SX: 1, SY: 1, Radius: 0}},
		Items: []uint32{
			ViewRect, 0, 0, 2, 2, 0xff0000ff, 0, 0, // opaque red
			ViewRect, 1, 1, 3, 3, 0x8000ff00, 0, 0, // green at a = 128
			ViewGlyph, 4, 0, 7, 1, 0xffffffff, 0, 0,
			ViewImage, 8, 0, 12, 1, 0, 1 | 2<<16, 0, // 2×1 stretched over 4×1
			ViewPoints, 9, 5, 13, 9, 0, 0x40ffffff, 0, // white at a = 64
		}}
	px := make([]uint32, w*h)
	b.RenderView(v, px)
	at := func(x, y int) uint32 { return px[y*w+x] }
	blend := func(d, s, a uint32) uint32 { return (d*(255-a) + s*a + 127) / 255 }
	rem := 255 * (255 - 64) / 255
	rem = rem * (255 - 64) / 255
	cov := uint32(255 - rem)
	// Colours as (R, G, B): the background is R 0x30, G 0x20, B 0x10.
	pack := func(r, g, b uint32) uint32 { return 0xff000000 | b<<16 | g<<8 | r }
	for _, c := range []struct {
		x, y int
		want uint32
	}{
		{0, 0, pack(0xff, 0, 0)}, {12, 10, pack(0x30, 0x20, 0x10)},
		{2, 2, pack(blend(0x30, 0, 128), blend(0x20, 0xff, 128), blend(0x10, 0, 128))}, // green over the background
		{1, 1, pack(blend(0xff, 0, 128), blend(0, 0xff, 128), 0)},                      // green over red
		{4, 0, pack(0xff, 0xff, 0xff)}, {5, 0, pack(0x30, 0x20, 0x10)}, {6, 0, pack(0xff, 0xff, 0xff)},
		{8, 0, pack(0xff, 0, 0)}, {9, 0, pack(0xff, 0, 0)}, {10, 0, pack(0, 0xff, 0)}, {11, 0, pack(0, 0xff, 0)},
		{9 + 2, 5 + 2, pack(blend(0x30, 0xff, cov), blend(0x20, 0xff, cov), blend(0x10, 0xff, cov))},
		{9 + 1, 5 + 1, pack(0x30, 0x20, 0x10)},
	} {
		if got := at(c.x, c.y); got != c.want {
			t.Errorf("pixel (%d, %d) = %#08x, want %#08x", c.x, c.y, got, c.want)
		}
	}
}

func nanf() float64 { return math.NaN() }

// TestViewValidate: Views the kernels could not draw safely are refused
// (and RenderView panics on them) before anything is recorded.
func TestViewValidate(t *testing.T) {
	ok := func() View {
		return View{Width: 4, Height: 4, Font: make([]uint32, 4), FontW: 5, FontH: 7, Counts: 16, Images: make([]uint32, 4),
			Items:  []uint32{ViewRect, 0, 0, 4, 4, 0, 0, 0, ViewGlyph, 0, 0, 1, 1, 0, 0, 0, ViewImage, 0, 0, 4, 4, 0, 2 | 2<<16, 0, ViewPoints, 0, 0, 4, 4, 0, 0, 0},
			Splats: []ViewSplat{{Points: []float32{1, 2}, Stride: 2, Width: 4, Height: 4}}}
	}
	if v := ok(); v.Validate() != nil {
		t.Fatalf("a valid view refused: %v", v.Validate())
	}
	for name, bad := range map[string]func(*View){
		"zero width":     func(v *View) { v.Width = 0 },
		"ragged items":   func(v *View) { v.Items = v.Items[:7] },
		"outside":        func(v *View) { v.Items[3] = 5 },
		"inverted":       func(v *View) { v.Items[1], v.Items[3] = 3, 2 },
		"unknown kind":   func(v *View) { v.Items[0] = 9 },
		"missing glyph":  func(v *View) { v.Items[8+6] = 1 },
		"short image":    func(v *View) { v.Items[16+5] = 1 },
		"empty image":    func(v *View) { v.Items[16+6] = 0 },
		"short counts":   func(v *View) { v.Counts = 15 },
		"wide font":      func(v *View) { v.FontW = 9 },
		"splat stride":   func(v *View) { v.Splats[0].Stride = 1 },
		"splat ragged":   func(v *View) { v.Splats[0].Points = []float32{1, 2, 3} },
		"splat past end": func(v *View) { v.Splats[0].Offset = 1 },
		"splat radius":   func(v *View) { v.Splats[0].Radius = -1 },
	} {
		v := ok()
		bad(&v)
		if err := v.Validate(); err == nil || !strings.HasPrefix(err.Error(), "view: ") {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
}
