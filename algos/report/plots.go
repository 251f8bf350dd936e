package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn/atomicfile"
)

var nan = math.NaN()

// writeCurve plots the batch means of r̂(x_T) and of y against the
// training iteration of one run, with the target's E_α[r̂] when known.
func writeCurve(path, run string, curve []algos.CurvePoint, target float64) error {
	p := plot.New()
	p.Title.Text = run + ": training batch means"
	p.X.Label.Text, p.Y.Label.Text = "iteration", "reward"
	nominal, genuine := make(plotter.XYs, 0, len(curve)), make(plotter.XYs, 0, len(curve))
	for _, c := range curve {
		if !math.IsNaN(c.Nominal) && !math.IsInf(c.Nominal, 0) {
			nominal = append(nominal, plotter.XY{X: float64(c.Iter), Y: c.Nominal})
		}
		if !math.IsNaN(c.Genuine) && !math.IsInf(c.Genuine, 0) {
			genuine = append(genuine, plotter.XY{X: float64(c.Iter), Y: c.Genuine})
		}
	}
	for _, l := range []struct {
		name string
		xy   plotter.XYs
		c    color.Color
	}{{"r̂(x_T)", nominal, color.RGBA{200, 30, 30, 255}}, {"genuine", genuine, color.RGBA{30, 30, 200, 255}},
		{"target E_α[r̂]", targetLine(curve, target), color.RGBA{120, 120, 120, 255}}} {
		if len(l.xy) == 0 {
			continue
		}
		line, err := plotter.NewLine(l.xy)
		if err != nil {
			return err
		}
		line.Color = l.c
		if strings.HasPrefix(l.name, "target") {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	p.Legend.Top = true
	return SavePlot(p, path)
}

// targetLine is a horizontal line at target across the curve (none for NaN).
func targetLine(curve []algos.CurvePoint, target float64) plotter.XYs {
	if math.IsNaN(target) || math.IsInf(target, 0) || len(curve) == 0 {
		return nil
	}
	return plotter.XYs{{X: float64(curve[0].Iter), Y: target}, {X: float64(curve[len(curve)-1].Iter), Y: target}}
}

// writeHistograms plots the distribution of the genuine reward of the
// pre-trained model's samples and of every run of a sweep method (ELEGANT
// at each α).
func writeHistograms(path string, res *algos.Result) error {
	p := plot.New()
	p.Title.Text = "genuine reward of the samples: pre-trained and each α"
	p.X.Label.Text, p.Y.Label.Text = res.Summary.Genuine, "density"
	const bins = 25
	palette := []color.RGBA{{0, 0, 0, 255}, {200, 30, 30, 255}, {30, 120, 30, 255}, {30, 30, 200, 255}, {200, 120, 0, 255}, {120, 0, 160, 255}}
	var runs []algos.RunInfo
	values := map[string][]float64{}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range res.Summary.Runs {
		spec, err := algos.LookupMethod(r.Method)
		if r.Name != "pretrained" && (err != nil || !spec.Sweep) {
			continue
		}
		var finite []float64
		for _, v := range res.Task.Oracle().Score(res.Samples[r.Name]) {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				finite = append(finite, v)
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if len(finite) > 0 {
			runs, values[r.Name] = append(runs, r), finite
		}
	}
	if len(runs) == 0 {
		return nil
	}
	if !(hi > lo) {
		hi = lo + 1
	}
	width := (hi - lo) / bins
	for i, run := range runs {
		counts := make([]float64, bins)
		for _, v := range values[run.Name] {
			counts[min(bins-1, int((v-lo)/width))]++
		}
		xy := make(plotter.XYs, 0, 2*bins)
		for j, c := range counts {
			dens := c / float64(len(values[run.Name])) / width
			xy = append(xy, plotter.XY{X: lo + float64(j)*width, Y: dens}, plotter.XY{X: lo + float64(j+1)*width, Y: dens})
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		label := run.Name
		if run.Alpha != 0 {
			label += fmt.Sprintf(" (α = %g)", run.Alpha)
		}
		p.Legend.Add(label, line)
	}
	p.Legend.Top = true
	p.X.Min, p.X.Max = lo, hi
	return SavePlot(p, path)
}

// SavePlot draws p into a 6 × 4 inch PNG written atomically at path.
func SavePlot(p *plot.Plot, path string) error {
	canvas := vgimg.PngCanvas{Canvas: vgimg.New(6*vg.Inch, 4*vg.Inch)}
	p.Draw(draw.New(canvas))
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := canvas.WriteTo(w)
		return err
	})
}

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
