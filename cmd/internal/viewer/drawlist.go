package viewer

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/difftune/difftune/shaders"
)

// DrawList is a frame to render: its items in painting order, with the
// buffers they read (a shaders.View).
type DrawList struct {
	v shaders.View
}

// NewDrawList starts a w × h frame filled with bg (its alpha is ignored).
func NewDrawList(w, h int, bg color.RGBA) *DrawList {
	if w < 1 || h < 1 || w > 1<<14 || h > 1<<14 {
		panic(fmt.Sprintf("viewer: a %d×%d frame (each side 1 to 16384)", w, h))
	}
	return &DrawList{v: shaders.View{Width: w, Height: h, Background: rgba(bg) | 0xff000000,
		Font: font, FontW: glyphW, FontH: glyphH}}
}

// Bounds is the frame's rectangle.
func (d *DrawList) Bounds() image.Rectangle { return image.Rect(0, 0, d.v.Width, d.v.Height) }

// View is the draw list as the kernels take it (shaders.Backend.RenderView).
// It shares the list's buffers.
func (d *DrawList) View() shaders.View { return d.v }

// Len is the number of items drawn so far.
func (d *DrawList) Len() int { return len(d.v.Items) / shaders.ViewItemWords }

// rgba packs c as the kernels' colours: R in the low byte.
func rgba(c color.RGBA) uint32 {
	return uint32(c.R) | uint32(c.G)<<8 | uint32(c.B)<<16 | uint32(c.A)<<24
}

func (d *DrawList) item(kind uint32, r image.Rectangle, a, b, c uint32) {
	d.v.Items = append(d.v.Items, kind, uint32(r.Min.X), uint32(r.Min.Y), uint32(r.Max.X), uint32(r.Max.Y), a, b, c)
}

// inside panics unless r is a non-empty rectangle inside the frame.
func (d *DrawList) inside(what string, r image.Rectangle) {
	if r.Empty() || !r.In(d.Bounds()) {
		panic(fmt.Sprintf("viewer: %s rectangle %v is not a non-empty part of the %v frame", what, r, d.Bounds()))
	}
}

// Rect paints r (clipped to the frame) with c, its alpha the opacity.
func (d *DrawList) Rect(r image.Rectangle, c color.RGBA) {
	if r = r.Intersect(d.Bounds()); !r.Empty() {
		d.item(shaders.ViewRect, r, rgba(c), 0, 0)
	}
}

// Text writes s from (x, y), the top left corner of its first glyph, at
// scale pixels per font cell, in c (its alpha the opacity), and returns the
// x where a following text would start. Glyphs that do not lie wholly
// inside the frame are left out.
func (d *DrawList) Text(x, y, scale int, s string, c color.RGBA) int {
	if scale < 1 {
		panic(fmt.Sprintf("viewer: text scale %d < 1", scale))
	}
	for _, r := range s {
		cell := image.Rect(x, y, x+glyphW*scale, y+glyphH*scale)
		if r != ' ' && cell.In(d.Bounds()) {
			d.item(shaders.ViewGlyph, cell, rgba(c), glyphOf(r), 0)
		}
		x += (glyphW + 1) * scale
	}
	return x
}

// Glyph paints the glyph of ch stretched over r (nearest sampling of the
// font's cells) in c, its alpha the opacity; r must lie inside the frame.
func (d *DrawList) Glyph(r image.Rectangle, ch rune, c color.RGBA) {
	d.inside("glyph", r)
	d.item(shaders.ViewGlyph, r, rgba(c), glyphOf(ch), 0)
}

// TextWidth is the width in pixels that Text gives s at scale.
func TextWidth(s string, scale int) int {
	n := 0
	for range s {
		n++
	}
	return n * (glyphW + 1) * scale
}

// Image paints img stretched over r (nearest sampling, opaque; img's alpha
// is ignored). r must lie inside the frame.
func (d *DrawList) Image(r image.Rectangle, img *image.RGBA) {
	d.inside("image", r)
	b := img.Bounds()
	if b.Empty() || b.Dx() > 1<<15 || b.Dy() > 1<<15 {
		panic(fmt.Sprintf("viewer: an image of %v (each side 1 to 32768)", b))
	}
	off := len(d.v.Images)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			d.v.Images = append(d.v.Images, rgba(img.RGBAAt(x, y)))
		}
	}
	d.item(shaders.ViewImage, r, uint32(off), uint32(b.Dy())|uint32(b.Dx())<<16, 0)
}

// Window is the part of the plane a plot shows, y pointing up.
type Window struct{ XMin, XMax, YMin, YMax float64 }

func (w Window) check() {
	for _, v := range []float64{w.XMin, w.XMax, w.YMin, w.YMax} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			panic(fmt.Sprintf("viewer: window %+v is not finite", w))
		}
	}
	if !(w.XMax > w.XMin && w.YMax > w.YMin) {
		panic(fmt.Sprintf("viewer: window %+v is empty", w))
	}
}

// Points paints the points xy (rows of stride ≥ 2 float32s, x and y first)
// as discs of radius pixels in r, which shows win: c's alpha is the opacity
// of one disc, and k overlapping discs cover more (view_compose.comp).
// Points that are not finite or fall outside win (beyond their disc) are
// skipped. r must lie inside the frame.
func (d *DrawList) Points(r image.Rectangle, win Window, xy []float32, stride, radius int, c color.RGBA) {
	d.inside("points", r)
	win.check()
	if stride < 2 || len(xy)%stride != 0 || radius < 0 || radius > 64 {
		panic(fmt.Sprintf("viewer: %d coordinates in rows of %d, radius %d (stride ≥ 2, radius 0 to 64)", len(xy), stride, radius))
	}
	w, h := float64(r.Dx()), float64(r.Dy())
	sx, sy := w/(win.XMax-win.XMin), h/(win.YMax-win.YMin)
	off := d.v.Counts
	d.v.Counts += r.Dx() * r.Dy()
	d.v.Splats = append(d.v.Splats, shaders.ViewSplat{Points: xy, Stride: stride, Offset: off, Width: r.Dx(), Height: r.Dy(),
		SX: float32(sx), OX: float32(-win.XMin * sx), SY: float32(-sy), OY: float32(win.YMax * sy), Radius: radius})
	d.item(shaders.ViewPoints, r, uint32(off), rgba(c), 0)
}

// Float32s converts float64 coordinates for Points.
func Float32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
