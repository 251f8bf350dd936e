package main

import (
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/difftune/difftune/nn/atomicfile"
)

// writeScatter draws a method's samples (rows of 2) over exact samples of the
// tilted target.
func writeScatter(path, method string, x, exact []float64) error {
	p := plot.New()
	p.Title.Text = method + " samples against the exact target"
	p.X.Label.Text, p.Y.Label.Text = "x₁", "x₂"
	for _, s := range []struct {
		name string
		pts  []float64
		c    color.Color
	}{{"exact p*", exact, color.RGBA{150, 150, 150, 255}}, {method, x, color.RGBA{200, 30, 30, 255}}} {
		xy := make(plotter.XYs, 0, len(s.pts)/2)
		for i := 0; i+1 < len(s.pts); i += 2 {
			xy = append(xy, plotter.XY{X: s.pts[i], Y: s.pts[i+1]})
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = s.c, vg.Points(1.2), draw.CircleGlyph{}
		p.Add(sc)
		p.Legend.Add(s.name, sc)
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -7, 7, -7, 7
	canvas := vgimg.PngCanvas{Canvas: vgimg.New(5*vg.Inch, 5*vg.Inch)}
	p.Draw(draw.New(canvas))
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := canvas.WriteTo(w)
		return err
	})
}
