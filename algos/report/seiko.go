package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
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
		line.Color, points.Color = queryPalette[k%len(queryPalette)], queryPalette[k%len(queryPalette)]
		k++
		p.Add(line, points)
		p.Legend.Add(r.Name, line, points)
	}
	if pre, ok := s.Methods["pretrained"]; ok && pre.RewardGenuine.Finite() && last > 0 {
		if err := addPretrainedLine(p, float64(pre.RewardGenuine), last); err != nil {
			return err
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	return SavePlot(p, path)
}

// addPretrainedLine draws the pre-trained model's genuine reward y as a
// dashed grey line from 0 to last queries.
func addPretrainedLine(p *plot.Plot, y, last float64) error {
	line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: y}, {X: last, Y: y}})
	if err != nil {
		return err
	}
	line.Color = color.RGBA{120, 120, 120, 255}
	line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(line)
	p.Legend.Add("pre-trained", line)
	return nil
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
	if err := appendSection(filepath.Join(dir, "results.md"), b.String()); err != nil {
		return err
	}
	return WriteQueryCurves(filepath.Join(dir, "curves_genuine.png"), sum)
}

// QuerySeeds is the SEIKO comparison over seeds (seiko_seeds.json): per
// variant, the curve of genuine reward against queries spent and the final
// numbers, each as mean ± sd over the seeds, and the paired comparisons of
// the adaptive variants with the baselines.
type QuerySeeds struct {
	Task       string                  `json:"task"`
	Seeds      []uint64                `json:"seeds"`
	Budget     int                     `json:"budget"`
	Pretrained Spread                  `json:"pretrained_reward_genuine"`
	Variants   map[string]VariantSeeds `json:"variants"`
	Order      []string                `json:"order"`
	Pairs      []PairedComparison      `json:"comparisons"`
}

// VariantSeeds is one variant over the seeds.
type VariantSeeds struct {
	Queries            Spread       `json:"queries"`
	RewardGenuine      Spread       `json:"reward_genuine"`
	RewardGenuineTop10 Spread       `json:"reward_genuine_top10"`
	KL                 Spread       `json:"kl"`
	Diversity          Spread       `json:"diversity"`
	CurveQueries       []int        `json:"curve_queries"`
	Curve              []Spread     `json:"curve"`
	AbovePretrained    int          `json:"seeds_above_pretrained"`
	Gain               algos.Number `json:"gain_over_pretrained"`
}

// PairedComparison is variant A against B at equal queries: the per-seed
// difference of their final mean genuine rewards, and in how many seeds A
// was higher.
type PairedComparison struct {
	A          string `json:"a"`
	B          string `json:"b"`
	Difference Spread `json:"difference"`
	AWins      int    `json:"a_wins"`
	Seeds      int    `json:"seeds"`
}

// AggregateQueries gathers the online variants of one summary per seed.
func AggregateQueries(seeds []uint64, sums []algos.Summary) QuerySeeds {
	q := QuerySeeds{Task: sums[0].Task, Seeds: seeds, Budget: sums[0].Budget, Variants: map[string]VariantSeeds{}}
	pre := make([]float64, len(sums))
	for i, s := range sums {
		pre[i] = math.NaN()
		if s.Pretrained != nil {
			pre[i] = float64(s.Pretrained.RewardGenuine)
		}
	}
	q.Pretrained = spreadOf(pre)
	for _, r := range sums[0].Runs {
		v := strings.TrimPrefix(r.Name, "seiko-")
		if _, ok := sums[0].Variants[v]; !ok {
			continue
		}
		q.Order = append(q.Order, v)
		col := func(f func(algos.VariantSummary) float64) Spread {
			vals := make([]float64, len(sums))
			for i, s := range sums {
				vals[i] = math.NaN()
				if vs, ok := s.Variants[v]; ok {
					vals[i] = f(vs)
				}
			}
			return spreadOf(vals)
		}
		vs := VariantSeeds{
			Queries:            col(func(s algos.VariantSummary) float64 { return float64(s.Queries) }),
			RewardGenuine:      col(func(s algos.VariantSummary) float64 { return float64(s.RewardGenuine) }),
			RewardGenuineTop10: col(func(s algos.VariantSummary) float64 { return float64(s.RewardGenuineTop10) }),
			KL:                 col(func(s algos.VariantSummary) float64 { return float64(s.KL) }),
			Diversity:          col(func(s algos.VariantSummary) float64 { return float64(s.Diversity) }),
		}
		for j, p := range sums[0].Variants[v].Curve {
			vs.CurveQueries = append(vs.CurveQueries, int(p[0]))
			vs.Curve = append(vs.Curve, col(func(s algos.VariantSummary) float64 {
				if j < len(s.Curve) && s.Curve[j][0] == p[0] {
					return float64(s.Curve[j][1])
				}
				return math.NaN() // another schedule: not comparable
			}))
		}
		for i := range sums {
			if float64(vs.RewardGenuine.Values[i]) > pre[i] {
				vs.AbovePretrained++
			}
		}
		vs.Gain = vs.RewardGenuine.Mean - q.Pretrained.Mean
		q.Variants[v] = vs
	}
	for _, a := range []string{"ucb", "bootstrap", "ts", "mss"} {
		for _, b := range []string{"greedy", "nonadaptive"} {
			va, okA := q.Variants[a]
			vb, okB := q.Variants[b]
			if !okA || !okB {
				continue
			}
			diff := make([]float64, len(sums))
			c := PairedComparison{A: a, B: b, Seeds: len(sums)}
			for i := range sums {
				diff[i] = float64(va.RewardGenuine.Values[i]) - float64(vb.RewardGenuine.Values[i])
				if diff[i] > 0 {
					c.AWins++
				}
			}
			c.Difference = spreadOf(diff)
			q.Pairs = append(q.Pairs, c)
		}
	}
	return q
}

// Markdown is the table of the variants over the seeds and the findings
// read from it.
func (q QuerySeeds) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## SEIKO over seeds %v: genuine reward at a budget of %d queries\n\n", q.Seeds, q.Budget)
	fmt.Fprintf(&b, "pre-trained model: %s\n\n| variant | queries | genuine (mean ± sd) | top-10 %% | KL | diversity | seeds above pre-trained | per seed |\n|---|---|---|---|---|---|---|---|\n", q.Pretrained)
	for _, v := range q.Order {
		s := q.Variants[v]
		var per []string
		for _, x := range s.RewardGenuine.Values {
			per = append(per, Num(x))
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s | %d of %d | %s |\n", v, float64(s.Queries.Mean), s.RewardGenuine, s.RewardGenuineTop10, s.KL, s.Diversity,
			s.AbovePretrained, len(q.Seeds), strings.Join(per, ", "))
	}
	b.WriteString("\nFindings (computed from the table):\n\n")
	for _, v := range q.Order {
		s := q.Variants[v]
		if v == "nonadaptive" {
			continue
		}
		if s.AbovePretrained == len(q.Seeds) {
			fmt.Fprintf(&b, "- %s ends above the pre-trained model's genuine reward in every seed (mean gain %s).\n", v, Num(s.Gain))
		} else {
			fmt.Fprintf(&b, "- %s does NOT end above the pre-trained model's genuine reward in %d of %d seeds (mean gain %s).\n", v, len(q.Seeds)-s.AbovePretrained, len(q.Seeds), Num(s.Gain))
		}
	}
	for _, c := range q.Pairs {
		d := c.Difference
		word := "does not clearly beat"
		if d.Mean.Finite() && d.SD.Finite() && float64(d.Mean) > 0 && c.AWins == c.Seeds {
			word = "beats"
		} else if float64(d.Mean) < 0 && c.AWins == 0 {
			word = "loses to"
		}
		fmt.Fprintf(&b, "- %s %s %s at equal queries: difference %s, higher in %d of %d seeds.\n", c.A, word, c.B, d, c.AWins, c.Seeds)
	}
	return b.String()
}

// WriteQuerySeedsReport aggregates the SEIKO runs of every seed's directory
// into dir: seiko_seeds.json, curves_genuine.png (each variant's mean
// curve with a band of ± one standard deviation) and the table and
// findings appended to results.md, also printed to w.
func WriteQuerySeedsReport(w io.Writer, dir string, seeds []uint64, seedDirs []string) error {
	var sums []algos.Summary
	for _, d := range seedDirs {
		s, err := ReadSummary(d)
		if err != nil {
			return err
		}
		sums = append(sums, s)
	}
	q := AggregateQueries(seeds, sums)
	if len(q.Order) == 0 {
		return nil
	}
	md := q.Markdown()
	fmt.Fprint(w, md)
	if err := appendSection(filepath.Join(dir, "results.md"), md); err != nil {
		return err
	}
	if err := WriteJSON(filepath.Join(dir, "seiko_seeds.json"), q); err != nil {
		return err
	}
	return writeQueryBands(filepath.Join(dir, "curves_genuine.png"), q)
}

// writeQueryBands plots each variant's mean curve over the seeds with a
// band of ± one standard deviation, and the pre-trained model's mean.
func writeQueryBands(path string, q QuerySeeds) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: genuine reward against queries (mean ± sd over %d seeds)", q.Task, len(q.Seeds))
	p.X.Label.Text, p.Y.Label.Text = "queries spent", "mean genuine reward"
	last := 0.0
	for k, v := range q.Order {
		s := q.Variants[v]
		var mean, lo, hi plotter.XYs
		for j, c := range s.Curve {
			if !c.Mean.Finite() {
				continue
			}
			x, m, sd := float64(s.CurveQueries[j]), float64(c.Mean), float64(c.SD)
			mean = append(mean, plotter.XY{X: x, Y: m})
			lo, hi = append(lo, plotter.XY{X: x, Y: m - sd}), append(hi, plotter.XY{X: x, Y: m + sd})
			last = math.Max(last, x)
		}
		if len(mean) == 0 {
			continue
		}
		col := queryPalette[k%len(queryPalette)]
		band := append(slices.Clone(lo), reversed(hi)...)
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return err
		}
		poly.Color = color.NRGBA{R: col.R, G: col.G, B: col.B, A: 50} // not premultiplied
		poly.LineStyle.Width = 0
		line, points, err := plotter.NewLinePoints(mean)
		if err != nil {
			return err
		}
		line.Color, points.Color = col, col
		p.Add(poly, line, points)
		p.Legend.Add(v, line, points)
	}
	if q.Pretrained.Mean.Finite() && last > 0 {
		if err := addPretrainedLine(p, float64(q.Pretrained.Mean), last); err != nil {
			return err
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	return SavePlot(p, path)
}

// queryPalette colours the variants of the SEIKO plots.
var queryPalette = []color.RGBA{{200, 30, 30, 255}, {30, 120, 30, 255}, {30, 30, 200, 255}, {200, 120, 0, 255}, {120, 0, 160, 255}, {0, 150, 150, 255}}

func reversed(xy plotter.XYs) plotter.XYs {
	out := slices.Clone(xy)
	slices.Reverse(out)
	return out
}

// appendSection appends a section (text starting with "\n## ") to the
// Markdown file at path, replacing the same section that an earlier
// invocation appended, so that a resumed run's report holds it once.
func appendSection(path, text string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	head, _, _ := strings.Cut(text, "\n\n")
	body := string(old)
	if i := strings.Index(body, head+"\n"); i >= 0 {
		body = body[:i] // the old section, and whatever an earlier invocation appended after it
	}
	return WriteText(path, body+text)
}
