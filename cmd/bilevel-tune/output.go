package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/report"
	"github.com/difftune/difftune/nn/atomicfile"
)

// summary is summary.json.
type summary struct {
	Task  string `json:"task"`
	Upper string `json:"upper"`
	Lower string `json:"lower"`
	Seed  uint64 `json:"seed"`
	// Options are the descent's settings.
	Options algos.BilevelOptions `json:"options"`
	// LambdaFinal is λ after the last step; F, KL and ESS are f(λ_final),
	// KL(p*(λ_final) ‖ p_data) and the effective sample size of the weights,
	// estimated on the whole pool of pre-trained samples; Grad the penalty
	// estimate there and Hypergrad its γ → ∞ limit.
	LambdaFinal algos.Number `json:"lambda_final"`
	F           algos.Number `json:"f"`
	KL          algos.Number `json:"kl"`
	ESS         algos.Number `json:"ess"`
	Grad        algos.Number `json:"grad"`
	Hypergrad   algos.Number `json:"hypergrad"`
	// Samplers are E[r₁], E[r₂] and the KL of the pre-trained model's
	// samples and of the two lower-level samplers at λ_final.
	Samplers map[string]algos.SamplerResult `json:"samplers"`
	// Exact is what the task knows in closed form (gmm2d), else absent.
	Exact *exactSummary     `json:"exact,omitempty"`
	Notes map[string]string `json:"notes,omitempty"`
}

// exactSummary holds the closed-form answers: λ* and f(λ*), and at
// λ_final f, E[r₂] and KL(p* ‖ p_data).
type exactSummary struct {
	LambdaStar algos.Number `json:"lambda_star"`
	FStar      algos.Number `json:"f_star"`
	F          algos.Number `json:"f"`
	MeanUpper  algos.Number `json:"mean_upper"`
	MeanLower  algos.Number `json:"mean_lower"`
	KL         algos.Number `json:"kl"`
}

func newSummary(o options, task algos.Task, res *algos.BilevelResult, r1, r2 algos.Reward) summary {
	f := res.Final
	s := summary{Task: task.Name(), Upper: r1.String(), Lower: r2.String(), Seed: o.seed,
		Options: algos.BilevelOptions{Samples: o.samples, Pool: o.pool, LambdaInit: o.lambdaInit, LambdaMin: o.lambdaMin,
			LambdaMax: o.lambdaMax, Gamma: o.gamma, LR: o.lr, Steps: o.steps, EvalSamples: o.evalSamples},
		LambdaFinal: algos.Number(res.LambdaFinal), F: algos.Number(f.F), KL: algos.Number(f.KL), ESS: algos.Number(f.ESS),
		Grad: algos.Number(f.Grad), Hypergrad: algos.Number(f.Hypergrad),
		Samplers: map[string]algos.SamplerResult{"pretrained": res.Pretrained, "guided": res.Guided}}
	if res.Elegant != nil {
		s.Samplers["elegant"] = *res.Elegant
	}
	note := func(k, v string) {
		if s.Notes == nil {
			s.Notes = map[string]string{}
		}
		s.Notes[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(s.Samplers)) {
		if n := s.Samplers[k].Note; n != "" {
			note(k, n)
		}
	}
	for name, v := range map[string]algos.Number{"f": s.F, "kl": s.KL, "grad": s.Grad, "hypergrad": s.Hypergrad} {
		if !v.Finite() {
			note(name, "not finite at λ_final (written as null)")
		}
	}
	if ess := float64(f.ESS); ess < algos.MinESS {
		note("ess", fmt.Sprintf("the weights at λ_final rest on an effective sample size of %.3g of %d pool samples: f and the KL are unreliable", ess, o.pool))
	}
	if et, ok := task.(algos.ExactTilter); ok {
		mu, ml, kl, ok1 := et.ExactTilt(r1, r2, res.LambdaFinal)
		star, fStar, ok2 := algos.ExactLambdaStar(et, r1, r2, o.lambdaMin, o.lambdaMax)
		if ok1 && ok2 {
			s.Exact = &exactSummary{LambdaStar: algos.Number(star), FStar: algos.Number(fStar), F: algos.Number(-mu),
				MeanUpper: algos.Number(mu), MeanLower: algos.Number(ml), KL: algos.Number(kl)}
		}
	}
	return s
}

// text is what the binary prints.
func (s summary) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "λ_final = %.4g after %d steps from %g (f = %.4g, KL = %.4g by the weights of %d pre-trained samples)\n",
		float64(s.LambdaFinal), s.Options.Steps, s.Options.LambdaInit, float64(s.F), float64(s.KL), s.Options.Pool)
	if e := s.Exact; e != nil {
		fmt.Fprintf(&b, "exact: λ* = %.4g, f(λ*) = %.4g; at λ_final f = %.4g, E[r₁] = %.4g, E[r₂] = %.4g, KL = %.4g\n",
			float64(e.LambdaStar), float64(e.FStar), float64(e.F), float64(e.MeanUpper), float64(e.MeanLower), float64(e.KL))
	}
	fmt.Fprintf(&b, "%-10s %10s %10s %10s %10s\n", "sampler", "E[r₁]", "E[r₂]", "KL", "energy-d")
	for _, k := range []string{"pretrained", "guided", "elegant"} {
		r, ok := s.Samplers[k]
		if !ok {
			continue
		}
		ed := "—"
		if r.EnergyDistance != nil {
			ed = report.Num(*r.EnergyDistance)
		}
		fmt.Fprintf(&b, "%-10s %10s %10s %10s %10s\n", k, report.Num(r.MeanUpper), report.Num(r.MeanLower), report.Num(r.KL), ed)
	}
	return b.String()
}

// writeOutputs writes every file, atomically, summary.json last.
func writeOutputs(dir string, task algos.Task, res *algos.BilevelResult, s summary) error {
	fw, seqs := task.(report.FASTAWriter)
	for _, name := range slices.Sorted(maps.Keys(res.Samples)) {
		x := res.Samples[name]
		if err := report.WriteNPY(filepath.Join(dir, "samples", name+".npy"), x, res.Dim); err != nil {
			return err
		}
		if seqs {
			if err := atomicfile.WriteFile(filepath.Join(dir, "samples", name+".fasta"), func(w io.Writer) error { return fw.WriteFASTA(w, name, x) }); err != nil {
				return err
			}
		}
	}
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	for _, st := range res.Trace {
		if err := enc.Encode(st); err != nil {
			return err
		}
	}
	if err := report.WriteText(filepath.Join(dir, "logs", "lambda.jsonl"), lines.String()); err != nil {
		return err
	}
	if err := writeTracePlot(filepath.Join(dir, "logs", "lambda.png"), res.Trace); err != nil {
		return err
	}
	if err := report.WriteText(filepath.Join(dir, "lambda_final.txt"), formatLambda(res.LambdaFinal)+"\n"); err != nil {
		return err
	}
	return report.WriteJSON(filepath.Join(dir, "summary.json"), s)
}

// writeTracePlot draws λ (top) and f (bottom) against the step.
func writeTracePlot(path string, trace []algos.BilevelStep) error {
	lam, f := make(plotter.XYs, 0, len(trace)), make(plotter.XYs, 0, len(trace))
	for _, st := range trace {
		if st.Lambda.Finite() {
			lam = append(lam, plotter.XY{X: float64(st.Step), Y: float64(st.Lambda)})
		}
		if st.F.Finite() {
			f = append(f, plotter.XY{X: float64(st.Step), Y: float64(st.F)})
		}
	}
	var rows [][]*plot.Plot
	for _, panel := range []struct {
		title, y string
		xy       plotter.XYs
		c        color.Color
	}{{"λ against the step", "λ", lam, color.RGBA{200, 30, 30, 255}}, {"f(λ) = −E[r₁] under p*(λ), by the step's weights", "f", f, color.RGBA{30, 30, 200, 255}}} {
		p := plot.New()
		p.Title.Text = panel.title
		p.X.Label.Text, p.Y.Label.Text = "step", panel.y
		if len(panel.xy) > 0 {
			line, err := plotter.NewLine(panel.xy)
			if err != nil {
				return err
			}
			line.Color = panel.c
			p.Add(line)
		}
		if len(panel.xy) < 2 {
			// An empty or one-point panel still gets a range.
			p.X.Min, p.X.Max = 0, math.Max(1, float64(len(trace)))
		}
		rows = append(rows, []*plot.Plot{p})
	}
	img := vgimg.New(6*vg.Inch, 6*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(12)}
	canvases := plot.Align(rows, tiles, dc)
	for i, r := range rows {
		r[0].Draw(canvases[i][0])
	}
	canvas := vgimg.PngCanvas{Canvas: img}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := canvas.WriteTo(w)
		return err
	})
}
