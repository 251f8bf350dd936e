package main

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/difftune/difftune/algos/report"
)

// writePlot draws the paper's plot: the mean genuine reward (solid) and the
// mean predicted reward (dashed) of the samples against the target, one
// colour per guidance, with the line reward = target (grey). Points that
// are not finite are left out.
func writePlot(path, task string, curve []point) error {
	p := plot.New()
	p.Title.Text = task + ": RCGDM, reward of the samples against the target"
	p.X.Label.Text, p.Y.Label.Text = "target", "mean reward of the samples"
	palette := []color.RGBA{{200, 30, 30, 255}, {30, 30, 200, 255}, {30, 120, 30, 255}, {200, 120, 0, 255}, {120, 0, 160, 255}, {0, 150, 150, 255}}
	var ws []float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, pt := range curve {
		if !slices.Contains(ws, pt.Guidance) {
			ws = append(ws, pt.Guidance)
		}
		lo, hi = math.Min(lo, pt.Target), math.Max(hi, pt.Target)
	}
	for i, w := range ws {
		var gen, pred plotter.XYs
		for _, pt := range curve {
			if pt.Guidance != w {
				continue
			}
			if pt.Genuine.Finite() {
				gen = append(gen, plotter.XY{X: pt.Target, Y: float64(pt.Genuine)})
			}
			if pt.Predicted.Finite() {
				pred = append(pred, plotter.XY{X: pt.Target, Y: float64(pt.Predicted)})
			}
		}
		c := palette[i%len(palette)]
		for _, l := range []struct {
			xy     plotter.XYs
			label  string
			dashed bool
		}{{gen, fmt.Sprintf("genuine, guidance %g", w), false}, {pred, fmt.Sprintf("predicted, guidance %g", w), true}} {
			if len(l.xy) == 0 {
				continue
			}
			line, pts, err := plotter.NewLinePoints(l.xy)
			if err != nil {
				return err
			}
			line.Color, pts.Color = c, c
			if l.dashed {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				pts.Shape = draw.BoxGlyph{}
			}
			p.Add(line, pts)
			p.Legend.Add(l.label, line, pts)
		}
	}
	if lo < hi {
		diag, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
		if err != nil {
			return err
		}
		diag.Color = color.RGBA{150, 150, 150, 255}
		diag.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(diag)
		p.Legend.Add("reward = target", diag)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return report.SavePlot(p, path)
}
