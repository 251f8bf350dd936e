package shaders

import (
	"errors"
	"fmt"
)

// ViewItemWords is the number of words of one draw-list item of a View:
// kind, x0, y0, x1, y1, then three arguments (glsl/view_compose.comp).
const ViewItemWords = 8

// Draw-list item kinds of a View (glsl/view_compose.comp documents their
// arguments).
const (
	ViewRect   = 1
	ViewGlyph  = 2
	ViewImage  = 3
	ViewPoints = 4
)

// View is a frame for Backend.RenderView: a draw list painted in order over
// a background, with the buffers its items refer to. Colours are RGBA8
// words, R in the low byte. Package cmd/internal/viewer builds Views and
// holds the plain-Go reference of the two kernels.
type View struct {
	Width, Height int
	Background    uint32
	// Items holds ViewItemWords words per item.
	Items []uint32
	// Font holds 4 words per glyph of FontW × FontH cells (FontW ≤ 8,
	// FontH ≤ 16).
	Font         []uint32
	FontW, FontH int
	// Images holds the RGBA8 texels of the image items.
	Images []uint32
	// Counts is the number of words of the point grids, zeroed and then
	// filled by Splats before the items are painted.
	Counts int
	Splats []ViewSplat
}

// ViewSplat adds a set of points to a grid of hit counts
// (glsl/view_splat.comp): point i, at (Points[i·Stride], Points[i·Stride+1]),
// lands at pixel (x·SX + OX, y·SY + OY) of the Width × Height grid that
// starts at word Offset of the counts, and counts in the disc of Radius
// around it.
type ViewSplat struct {
	Points         []float32
	Stride         int
	Offset         int
	Width, Height  int
	SX, OX, SY, OY float32
	Radius         int
}

// maxViewSide bounds a frame's sides and a splat's radius so that every
// index the kernels compute fits in 32 bits.
const maxViewSide = 1 << 14

// Validate reports a View that the kernels cannot draw safely: an item
// outside the frame or of an unknown kind, a glyph, image or grid that
// reaches past its buffer, a splat outside the counts.
func (v *View) Validate() error {
	if v.Width < 1 || v.Height < 1 || v.Width > maxViewSide || v.Height > maxViewSide {
		return fmt.Errorf("view: a %d×%d frame (each side 1 to %d)", v.Width, v.Height, maxViewSide)
	}
	if len(v.Items)%ViewItemWords != 0 {
		return fmt.Errorf("view: %d item words, not a multiple of %d", len(v.Items), ViewItemWords)
	}
	if v.FontW < 1 || v.FontW > 8 || v.FontH < 1 || v.FontH > 16 || len(v.Font)%4 != 0 {
		return fmt.Errorf("view: a font of %d words with %d×%d glyphs (at most 8×16, 4 words each)", len(v.Font), v.FontW, v.FontH)
	}
	if v.Counts < 0 {
		return errors.New("view: negative counts")
	}
	for k := 0; k < len(v.Items); k += ViewItemWords {
		it := v.Items[k : k+ViewItemWords]
		x0, y0, x1, y1 := int(it[1]), int(it[2]), int(it[3]), int(it[4])
		if x0 > x1 || y0 > y1 || x1 > v.Width || y1 > v.Height {
			return fmt.Errorf("view: item %d's rectangle [%d,%d)×[%d,%d) is not inside the %d×%d frame", k/ViewItemWords, x0, x1, y0, y1, v.Width, v.Height)
		}
		var need, have int
		switch it[0] {
		case ViewRect:
		case ViewGlyph:
			need, have = 4*(int(it[6])+1), len(v.Font)
		case ViewImage:
			h, w := int(it[6]&0xffff), int(it[6]>>16)
			if h == 0 || w == 0 {
				return fmt.Errorf("view: item %d is an empty image", k/ViewItemWords)
			}
			need, have = int(it[5])+h*w, len(v.Images)
		case ViewPoints:
			need, have = int(it[5])+(x1-x0)*(y1-y0), v.Counts
		default:
			return fmt.Errorf("view: item %d has unknown kind %d", k/ViewItemWords, it[0])
		}
		if need > have {
			return fmt.Errorf("view: item %d (kind %d) reads %d words of a buffer of %d", k/ViewItemWords, it[0], need, have)
		}
	}
	for i, s := range v.Splats {
		if s.Stride < 2 || len(s.Points)%s.Stride != 0 {
			return fmt.Errorf("view: splat %d has %d coordinates, not rows of stride %d ≥ 2", i, len(s.Points), s.Stride)
		}
		if s.Width < 1 || s.Height < 1 || s.Width > maxViewSide || s.Height > maxViewSide || s.Radius < 0 || s.Radius > maxViewSide ||
			s.Offset < 0 || s.Offset+s.Width*s.Height > v.Counts {
			return fmt.Errorf("view: splat %d's %d×%d grid at %d (radius %d) does not fit %d counts", i, s.Width, s.Height, s.Offset, s.Radius, v.Counts)
		}
	}
	return nil
}
