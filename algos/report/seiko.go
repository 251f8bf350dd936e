package report

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/difftune/difftune/algos"
)

// WriteQueryCurves plots every run of s that has a query curve (the SEIKO
// variants): the mean genuine reward of its model against the queries spent,
// with the pre-trained model's as a dashed line.
func WriteQueryCurves(path string, s algos.Summary) error {
	p := plot.New()
	p.Title.Text = s.Task + ": genuine reward against queries spent"
	p.X.Label.Text, p.Y.Label.Text = "queries spent", "mean genuine reward"
	palette := []color.RGBA{{200, 30, 30, 255}, {30, 120, 30, 255}, {30, 30, 200, 255}, {200, 120, 0, 255}, {120, 0, 160, 255}, {0, 150, 150, 255}}
	last := 0.0
	k := 0
	for _, r := range s.Runs {
		ms := s.Methods[r.Name]
		var xy plotter.XYs
		for _, q := range ms.Curve {
			if q[1].Finite() {
				xy = append(xy, plotter.XY{X: float64(q[0]), Y: float64(q[1])})
				last = math.Max(last, float64(q[0]))
			}
		}
		if len(xy) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			return err
		}
		line.Color, points.Color = palette[k%len(palette)], palette[k%len(palette)]
		k++
		p.Add(line, points)
		p.Legend.Add(r.Name, line, points)
	}
	if pre, ok := s.Methods["pretrained"]; ok && pre.RewardGenuine.Finite() && last > 0 {
		line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: float64(pre.RewardGenuine)}, {X: last, Y: float64(pre.RewardGenuine)}})
		if err != nil {
			return err
		}
		line.Color = color.RGBA{120, 120, 120, 255}
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
		p.Legend.Add("pre-trained", line)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return savePlot(p, path)
}
