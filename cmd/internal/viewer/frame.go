package viewer

import (
	"image"
	"image/color"
)

// The layout shared by the frames of every task: FrameW × FrameH, up to
// two status lines of 2× text at the top, the task's picture below them
// in Body.
const (
	FrameW, FrameH = 640, 480
	textScale      = 2
	bodyTop        = 6 + 2*(glyphH+2)*textScale
)

// Body is the part of a frame below its status lines.
var Body = image.Rect(0, bodyTop, FrameW, FrameH)

// Colours shared by the views.
var (
	background   = color.RGBA{12, 12, 16, 255}
	textColour   = color.RGBA{235, 235, 235, 255}
	dimText      = color.RGBA{150, 150, 160, 255}
	borderColour = color.RGBA{90, 90, 100, 255}
	preColour    = color.RGBA{200, 200, 200, 40} // faint: one hit covers 16 %
	curColour    = color.RGBA{80, 230, 255, 220} // the current samples
)

// NewFrame starts a frame of the standard layout: the background and the
// status lines (at most two fit above Body), in 2× text, or 1× where a
// line is too long for it.
func NewFrame(status ...string) *DrawList {
	d := NewDrawList(FrameW, FrameH, background)
	for i, s := range status {
		scale := textScale
		if TextWidth(s, scale) > FrameW-16 {
			scale = 1
		}
		d.Text(8, 6+i*(glyphH+2)*textScale, scale, s, textColour)
	}
	return d
}
