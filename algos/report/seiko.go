package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

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

// WriteQueryReport reads the summary.json of a finished run directory and,
// for every run with a query curve (the SEIKO variants), prints its queries
// spent and its curve to w, appends the same table to results.md and plots
// the curves (curves_genuine.png).
func WriteQueryReport(w io.Writer, dir string) error {
	sum, err := ReadSummary(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## SEIKO: genuine reward against queries spent\n\npre-trained model: %s\n\n| variant | queries | final genuine | curve [queries: mean genuine] |\n|---|---|---|---|\n",
		Num(sum.Methods["pretrained"].RewardGenuine))
	fmt.Fprintf(w, "\n%s: SEIKO, genuine reward against queries spent (pre-trained %s)\n", dir, Num(sum.Methods["pretrained"].RewardGenuine))
	for _, r := range sum.Runs {
		ms := sum.Methods[r.Name]
		if len(ms.Curve) == 0 {
			continue
		}
		var pts []string
		for _, p := range ms.Curve {
			pts = append(pts, fmt.Sprintf("%.0f: %s", float64(p[0]), Num(p[1])))
		}
		fmt.Fprintf(w, "  %-18s %5d queries  final %s  curve %s\n", r.Name, ms.Queries, Num(ms.RewardGenuine), strings.Join(pts, ", "))
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", r.Name, ms.Queries, Num(ms.RewardGenuine), strings.Join(pts, ", "))
	}
	md := filepath.Join(dir, "results.md")
	old, err := os.ReadFile(md)
	if err != nil {
		return err
	}
	if err := WriteText(md, string(old)+b.String()); err != nil {
		return err
	}
	return WriteQueryCurves(filepath.Join(dir, "curves_genuine.png"), sum)
}
