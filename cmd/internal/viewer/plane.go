package viewer

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// plotSide is the side of a Plane's square plot, at the bottom of the
// frame's Body.
const plotSide = 432

// Plane draws 2-D samples as points over a heat map of a density: the view
// of gmm2d. The heat map is computed once, by NewPlane.
type Plane struct {
	win  Window
	plot image.Rectangle
	heat *image.RGBA
	pre  []float32
}

// NewPlane returns the plane of win with the heat map of logDensity
// (SetHeat).
func NewPlane(win Window, logDensity func(xy []float64) []float64) *Plane {
	win.check()
	x0, y0 := (FrameW-plotSide)/2, FrameH-plotSide-4
	p := &Plane{win: win, plot: image.Rect(x0, y0, x0+plotSide, y0+plotSide)}
	p.SetHeat(logDensity)
	return p
}

// SetHeat computes the heat map of a density over the window at the
// plot's resolution: logDensity gives, for rows of 2 (the pixels'
// centres), the log of any non-negative function, unnormalized (the exact
// target's, p_pre·exp(r/α)); the map is √(density/max) through an
// inferno-like colour map, kept dark so that points stand out, computed
// in log space so that nothing overflows. Where the log density is NaN or
// −∞ the map is black, and all of it where none is finite.
func (p *Plane) SetHeat(logDensity func(xy []float64) []float64) {
	xy := make([]float64, 0, 2*plotSide*plotSide)
	for j := range plotSide {
		y := p.win.YMax - (float64(j)+0.5)/plotSide*(p.win.YMax-p.win.YMin)
		for i := range plotSide {
			xy = append(xy, p.win.XMin+(float64(i)+0.5)/plotSide*(p.win.XMax-p.win.XMin), y)
		}
	}
	vals := logDensity(xy)
	if len(vals) != plotSide*plotSide {
		panic(fmt.Sprintf("viewer: a log density of %d values for %d points", len(vals), plotSide*plotSide))
	}
	peak := math.Inf(-1)
	for _, v := range vals {
		if !math.IsInf(v, 1) && v > peak {
			peak = v
		}
	}
	heat := image.NewRGBA(image.Rect(0, 0, plotSide, plotSide))
	for i, v := range vals {
		t := 0.0
		if !math.IsInf(peak, -1) && !math.IsNaN(v) && !math.IsInf(v, 0) {
			t = math.Exp(0.5 * (v - peak))
		}
		heat.SetRGBA(i%plotSide, i/plotSide, inferno(0.8*t))
	}
	p.heat = heat
}

// SetPretrained keeps a copy of the pre-trained samples (rows of 2), drawn
// faint behind every frame's.
func (p *Plane) SetPretrained(x []float64) {
	if len(x)%2 != 0 {
		panic(fmt.Sprintf("viewer: %d coordinates are not rows of 2", len(x)))
	}
	p.pre = Float32s(x)
}

// Frame is the draw list of one frame: the status lines over the heat map,
// the pre-trained samples and the current samples x (rows of 2; not
// retained).
func (p *Plane) Frame(x []float64, status ...string) *DrawList {
	if len(x)%2 != 0 {
		panic(fmt.Sprintf("viewer: %d coordinates are not rows of 2", len(x)))
	}
	d := NewFrame(status...)
	d.Rect(p.plot.Inset(-1), borderColour)
	d.Image(p.plot, p.heat)
	if len(p.pre) > 0 {
		d.Points(p.plot, p.win, p.pre, 2, 1, preColour)
	}
	d.Points(p.plot, p.win, Float32s(x), 2, 1, curColour)
	return d
}

// PointToPixel is where Frame draws the point (x, y): the pixel whose
// disc centre it is (for tests and overlays).
func (p *Plane) PointToPixel(x, y float64) (float64, float64) {
	sx := float64(p.plot.Dx()) / (p.win.XMax - p.win.XMin)
	sy := float64(p.plot.Dy()) / (p.win.YMax - p.win.YMin)
	return float64(p.plot.Min.X) + (x-p.win.XMin)*sx, float64(p.plot.Min.Y) + (p.win.YMax-y)*sy
}

// inferno is a piecewise-linear colour map through 6 stops of
// matplotlib's inferno, t in [0, 1].
func inferno(t float64) color.RGBA {
	stops := [6][3]float64{{0.001, 0.000, 0.014}, {0.258, 0.039, 0.406}, {0.576, 0.149, 0.404},
		{0.865, 0.317, 0.226}, {0.988, 0.645, 0.040}, {0.988, 0.998, 0.645}}
	s := min(max(t, 0), 1) * 5
	i := min(int(s), 4)
	f := s - float64(i)
	var c [3]uint8
	for k := range c {
		c[k] = uint8(math.Round(255 * (stops[i][k]*(1-f) + stops[i+1][k]*f)))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}
