package main

import (
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/nn/atomicfile"
	"github.com/difftune/difftune/tensor"
)

// tfbind8Options are the flags of -task tfbind8 only.
type tfbind8Options struct {
	landscape, split            string
	k                           int
	guidanceScale, target, beta float64
	alphas                      []float64 // from -alpha (nil: the grid of the task)
	seedsArg                    string
	seeds                       []uint64 // from -seeds (nil: the one run of -seed)
}

// tfbind8Flags names the flags that only tfbind8 takes.
var tfbind8Flags = []string{"landscape", "reward-split", "k", "guidance-scale", "target", "beta", "seeds"}

func (t *tfbind8Options) register(fs *flag.FlagSet) {
	def := algos.DefaultTFBind8Config()
	fs.StringVar(&t.landscape, "landscape", def.Landscape, "tfbind8: landscape file (8-mer, reverse complement, E-score, median, Z-score)")
	fs.StringVar(&t.split, "reward-split", def.Reward.Split, "tfbind8: half of the sequences that r̂ is fit on: random or bottom (lowest y)")
	fs.IntVar(&t.k, "k", def.FineTune.TruncK, "tfbind8: Truncation's last steps that gradients flow through")
	fs.Float64Var(&t.guidanceScale, "guidance-scale", def.Guidance.Scale, "tfbind8: guidance strength w ≥ 0")
	fs.Float64Var(&t.target, "target", def.Guidance.Target, "tfbind8: guidance's target y_target (negative: ELEGANT's target E_α[r̂] at the first α)")
	fs.StringVar(&t.seedsArg, "seeds", "", "tfbind8: comma-separated seeds: the comparison once per seed into DIR/seed<N>/, and means ± sd over them in DIR/results.md and DIR/summary.json (instead of -seed)")
	fs.Float64Var(&t.beta, "beta", def.PPO.Beta, "tfbind8: PPO's per-step KL weight β ≥ 0 against the standardized advantage (negative: the first α over r̂'s spread, the same trade-off as ELEGANT's)")
}

// given returns the first tfbind8 flag set on the command line ("" if none).
func (t *tfbind8Options) given(set map[string]bool) string {
	for _, f := range tfbind8Flags {
		if set[f] {
			return f
		}
	}
	return ""
}

// validateTFBind8 checks the flags of tfbind8: an α list, its methods and
// knobs, none of gmm2d's flags.
func (o *options) validateTFBind8() error {
	if o.set["reward"] {
		return fmt.Errorf("-reward is a gmm2d flag: tfbind8's nominal reward is an MLP r̂ fit on half of the sequences (see -reward-split)")
	}
	if o.set["alpha"] {
		for f := range strings.SplitSeq(o.alphaArg, ",") {
			a, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || !(a > 0) || math.IsInf(a, 0) {
				return fmt.Errorf("-alpha must be a comma-separated list of positive numbers, got %q", o.alphaArg)
			}
			o.tf.alphas = append(o.tf.alphas, a)
		}
	}
	switch {
	case o.tf.split != "random" && o.tf.split != "bottom":
		return fmt.Errorf("-reward-split must be random or bottom, got %q", o.tf.split)
	case !(o.tf.guidanceScale >= 0) || math.IsInf(o.tf.guidanceScale, 0):
		return fmt.Errorf("-guidance-scale must be ≥ 0, got %v", o.tf.guidanceScale)
	case math.IsNaN(o.tf.target) || math.IsInf(o.tf.target, 0):
		return fmt.Errorf("-target must be a number, got %v", o.tf.target)
	case math.IsNaN(o.tf.beta) || math.IsInf(o.tf.beta, 0):
		return fmt.Errorf("-beta must be a number, got %v", o.tf.beta)
	case o.tf.landscape == "":
		return fmt.Errorf("-landscape must name a file")
	}
	if o.method != "all" {
		if _, err := algos.ParseTFBind8Method(o.method); err != nil {
			return err
		}
	}
	if o.set["seeds"] {
		if o.set["seed"] {
			return fmt.Errorf("-seed and -seeds exclude each other: give one seed or a list")
		}
		seeds, err := parseSeeds(o.tf.seedsArg)
		if err != nil {
			return err
		}
		o.tf.seeds = seeds
	}
	c := o.tfbind8Config()
	if c.FineTune.TruncK < 1 || c.FineTune.TruncK > c.Steps {
		return fmt.Errorf("-k must be between 1 and the %d steps, got %d", c.Steps, c.FineTune.TruncK)
	}
	return c.Validate()
}

// tfbind8Config turns the options into the experiment's configuration: the
// defaults, then the -quick preset, then the flags given.
func (o options) tfbind8Config() algos.TFBind8Config {
	c := algos.DefaultTFBind8Config()
	if o.quick {
		c.Steps = 20
		c.Pretrain.Iters, c.Pretrain.Batch, c.Pretrain.LR = 600, 256, 3e-3
		c.Reward.Iters = 600
		c.FineTune.Iters, c.FineTune.Batch = 20, 128
		c.BaselineIters = 15
		c.FineTune.ValuePoints, c.FineTune.ValueRollouts, c.FineTune.ValueIters = 64, 16, 150
		c.FineTune.InitIters, c.FineTune.InitBatch = 40, 128
		c.Guidance.Iters, c.Guidance.Batch = 200, 256
		c.PPO.Iters, c.PPO.Batch = 10, 128
		c.EvalSamples, c.TargetSamples = 500, 2000
		c.AlphaGrid = []float64{0.5}
	}
	c.Landscape, c.Reward.Split, c.Alphas = o.tf.landscape, o.tf.split, o.tf.alphas
	c.Seed, c.CacheDir, c.VP.BetaMax = o.seed, o.cache, o.betaMax
	c.FineTune.TruncK, c.Guidance.Scale, c.Guidance.Target, c.PPO.Beta = o.tf.k, o.tf.guidanceScale, o.tf.target, o.tf.beta
	if o.set["iters"] {
		c.FineTune.Iters, c.BaselineIters, c.PPO.Iters = o.iters, 0, o.iters
	}
	if o.set["batch"] {
		c.FineTune.Batch, c.PPO.Batch = o.batch, o.batch
	}
	if o.set["steps"] {
		c.Steps = o.steps
	}
	if o.set["lr"] {
		c.FineTune.LR, c.FineTune.LRMin = o.lr, o.lr/10
	}
	if o.set["eval-samples"] {
		c.EvalSamples, c.TargetSamples = o.evalSamples, max(c.TargetSamples, o.evalSamples)
	}
	if o.set["pretrain-iters"] {
		c.Pretrain.Iters = o.pretrainIters
	}
	if o.set["width"] {
		c.Pretrain.Width = o.width
	}
	if o.method != "all" {
		m, _ := algos.ParseTFBind8Method(o.method)
		c.Methods = []algos.Method{m}
	}
	return c
}

// runTFBind8 runs the tfbind8 comparison (once, or once per seed of -seeds)
// and writes its outputs.
func runTFBind8(o options, b tensor.Backend, stdout, stderr io.Writer) error {
	if len(o.tf.seeds) > 0 {
		return runTFBind8Seeds(o, b, stdout, stderr)
	}
	_, err := runTFBind8Once(o, b, stdout, stderr)
	return err
}

// runTFBind8Once runs the comparison at -seed into -out.
func runTFBind8Once(o options, b tensor.Backend, stdout, stderr io.Writer) (*algos.TFBind8Result, error) {
	var res *algos.TFBind8Result
	err := runTask(o.out, o.tfbind8Config(), b, stderr, func(cfg algos.TFBind8Config, h algos.Hooks) (err error) {
		res, err = algos.RunTFBind8(b, cfg, h)
		return err
	}, func(w *runDir) error {
		table := resultsTable(res)
		if err := w.WriteTFBind8(res, o.tfbind8Config(), table); err != nil {
			return err
		}
		fmt.Fprint(stdout, table)
		fmt.Fprintf(stdout, "wrote %s/{config.json,metrics.jsonl,summary.json,results.md,samples_*.fasta,curve_*.png,hist_y_elegant.png,checkpoints/}\n", strings.TrimRight(o.out, "/"))
		return nil
	})
	return res, err
}

// WriteTFBind8 writes summary.json, results.md, the samples as FASTA, the
// plots and the fine-tuned networks.
func (w *runDir) WriteTFBind8(res *algos.TFBind8Result, cfg algos.TFBind8Config, table string) error {
	if err := writeJSON(filepath.Join(w.dir, "summary.json"), res.Summary); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(w.dir, "results.md"), func(out io.Writer) error {
		_, err := io.WriteString(out, resultsMarkdown(res, cfg, table))
		return err
	}); err != nil {
		return err
	}
	for _, run := range res.Runs {
		if err := writeFASTA(filepath.Join(w.dir, "samples_"+run+".fasta"), run, res.Task, res.Samples[run]); err != nil {
			return err
		}
		if len(res.Curves[run]) > 0 {
			if err := writeCurve(filepath.Join(w.dir, "curve_"+run+".png"), run, res.Curves[run], runTarget(res.Summary, run)); err != nil {
				return err
			}
		}
	}
	if err := writeHistograms(filepath.Join(w.dir, "hist_y_elegant.png"), res); err != nil {
		return err
	}
	for _, run := range res.Runs {
		ft, ok := res.Models[run]
		if !ok {
			continue
		}
		meta := map[string]string{"run": run, "task": "tfbind8"}
		if err := nn.SaveCheckpoint(filepath.Join(w.dir, "checkpoints", run+"_control.safetensors"), ft.Control, meta); err != nil {
			return err
		}
		if ctrl, ok := ft.Init.Control.(nn.Module); ok {
			if err := nn.SaveCheckpoint(filepath.Join(w.dir, "checkpoints", run+"_initial_law.safetensors"), ctrl, meta); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFASTA writes decoded samples, each headed by its run, index, genuine
// reward y, r̂ of its one-hot vertex and the distance of x_T from it.
func writeFASTA(path, run string, task *algos.TFBind8Task, x []float64) error {
	seqs, dist := tasks.DecodeAll(x)
	rhat := task.Reward.Batch(tasks.OneHots(seqs))
	return atomicfile.WriteFile(path, func(out io.Writer) error {
		for i, s := range seqs {
			if _, err := fmt.Fprintf(out, ">%s_%d y=%.4f rhat=%.4f dist=%.3f\n%s\n", run, i, task.Land.Y[s], rhat[i], dist[i], tasks.SeqString(s)); err != nil {
				return err
			}
		}
		return nil
	})
}

// runAlpha is the α of a run ("" for runs without one).
func runAlpha(s algos.TFBind8Summary, run string) string {
	for _, e := range s.Sweep {
		if run == "elegant" && e.Alpha == s.Alpha || run == fmt.Sprintf("elegant_a%g", e.Alpha) {
			return fmt.Sprint(e.Alpha)
		}
	}
	if run == "ppokl" || run == "guidance" {
		return fmt.Sprint(s.Alpha)
	}
	return ""
}

// runSummary finds a run's evaluation.
func runSummary(s algos.TFBind8Summary, run string) (algos.MethodSummary, bool) {
	if m, ok := s.Methods[run]; ok {
		return m, true
	}
	for _, e := range s.Sweep {
		if run == fmt.Sprintf("elegant_a%g", e.Alpha) {
			m, ok := e.Methods["elegant"]
			return m, ok
		}
	}
	return algos.MethodSummary{}, false
}

// resultsTable is the Markdown table of every run.
func resultsTable(res *algos.TFBind8Result) string {
	var b strings.Builder
	b.WriteString(tableHeader("seconds"))
	for _, run := range res.Runs {
		m, ok := runSummary(res.Summary, run)
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s |", run, runAlpha(res.Summary, run))
		for _, c := range runColumns {
			b.WriteString(" " + opt(c.get(m)) + " |")
		}
		fmt.Fprintf(&b, " %.0f |\n", float64(m.Seconds))
	}
	return b.String()
}

func opt(n *algos.Number) string {
	if n == nil {
		return ""
	}
	return num(*n)
}

// resultsMarkdown is results.md: the setting, r̂'s fit, the pre-trained
// model's statistics, the targets and the table of runs.
func resultsMarkdown(res *algos.TFBind8Result, cfg algos.TFBind8Config, table string) string {
	s := res.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "# tfbind8: ELEGANT against its baselines\n\n")
	fmt.Fprintf(&b, "Landscape %s; seed %d; %d Euler–Maruyama steps, β_max = %g; every run evaluated on %d samples.\n\n",
		cfg.Landscape, cfg.Seed, cfg.Steps, s.BetaMax, cfg.EvalSamples)
	rm := s.RewardModel
	fmt.Fprintf(&b, "Nominal reward r̂: %s (%d sequences). RMSE / Spearman against y: %s / %s on its half, %s / %s on the other; spread of r̂ on pre-trained samples %s; argmax %s (y = %s, r̂ = %s).\n\n",
		s.Reward, rm.TrainSize, num(rm.TrainRMSE), num(rm.TrainSpearman), num(rm.OtherRMSE), num(rm.OtherSpearman), num(rm.RHatStdOfPre),
		rm.TopSequence, num(rm.TopSequenceY), num(rm.TopSequenceHat))
	ps := s.PretrainedStats
	fmt.Fprintf(&b, "Pre-trained transformer (width %d, %d blocks, %d heads, %d DSM steps × %d) against the data (all 4⁸ sequences), %d decoded samples: largest per-position frequency difference %s (sampling noise %s), largest pairwise %s (noise %s), mean total variation of the 28 pair tables %s.\n\n",
		cfg.Pretrain.Width, cfg.Pretrain.Depth, cfg.Pretrain.Heads, cfg.Pretrain.Iters, cfg.Pretrain.Batch, ps.Samples,
		num(ps.PositionMaxAbsDiff), num(ps.PositionNoise), num(ps.PairMaxAbsDiff), num(ps.PairNoise), num(ps.PairTV))
	fmt.Fprintf(&b, "## Targets without training\n\np_α ∝ exp(r̂/α)·p: by self-normalized weights on %d pre-trained samples (r̂ on x_T, y of the decoded sequence), and exactly over the data (uniform on all 8-mers, r̂ on the one-hot vertices).\n\n", cfg.TargetSamples)
	fmt.Fprintln(&b, "| α | E_α[r̂] | E_α[y] | KL(p_α ‖ p_pre) | ESS | data: E[r̂] | E[y] | KL |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|")
	for _, e := range s.Sweep {
		x := e.Exact
		fmt.Fprintf(&b, "| %g | %s | %s | %s | %.0f | %s | %s | %s |\n", e.Alpha, num(x.PretrainedTarget), opt(x.PretrainedTargetGenuine),
			num(x.PretrainedTargetKL), float64(x.ESS), num(x.Reward), opt(x.Genuine), num(x.KL))
	}
	fmt.Fprintf(&b, "\n## Runs\n\nr̂ and KL of ELEGANT against its target at its α (gain/target: its gain in r̂ over the pre-trained model as a fraction of the target's; KL/target: its KL over the target's). PPO's β and guidance's target come from the first α unless given.\n\n")
	b.WriteString(table)
	return b.String()
}

// runTarget is E_α[r̂] of the target at an ELEGANT run's α (NaN for other
// runs).
func runTarget(s algos.TFBind8Summary, run string) float64 {
	for _, e := range s.Sweep {
		if run == "elegant" && e.Alpha == s.Alpha || run == fmt.Sprintf("elegant_a%g", e.Alpha) {
			return float64(e.Exact.PretrainedTarget)
		}
	}
	return math.NaN()
}

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
		genuine = append(genuine, plotter.XY{X: float64(c.Iter), Y: c.Genuine})
	}
	for _, l := range []struct {
		name string
		xy   plotter.XYs
		c    color.Color
	}{{"r̂(x_T)", nominal, color.RGBA{200, 30, 30, 255}}, {"y (decoded)", genuine, color.RGBA{30, 30, 200, 255}},
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
	return savePlot(p, path)
}

// targetLine is a horizontal line at target across the curve (none for NaN).
func targetLine(curve []algos.CurvePoint, target float64) plotter.XYs {
	if math.IsNaN(target) || math.IsInf(target, 0) || len(curve) == 0 {
		return nil
	}
	return plotter.XYs{{X: float64(curve[0].Iter), Y: target}, {X: float64(curve[len(curve)-1].Iter), Y: target}}
}

// writeHistograms plots the distribution of y of the decoded samples of the
// pre-trained model and of ELEGANT at every α.
func writeHistograms(path string, res *algos.TFBind8Result) error {
	p := plot.New()
	p.Title.Text = "y of decoded samples: pre-trained and ELEGANT at each α"
	p.X.Label.Text, p.Y.Label.Text = "y", "density"
	const bins = 25
	palette := []color.RGBA{{0, 0, 0, 255}, {200, 30, 30, 255}, {30, 120, 30, 255}, {30, 30, 200, 255}, {200, 120, 0, 255}, {120, 0, 160, 255}}
	var runs []string
	for _, r := range res.Runs {
		if r == "pretrained" || strings.HasPrefix(r, "elegant") {
			runs = append(runs, r)
		}
	}
	for i, run := range runs {
		seqs, _ := tasks.DecodeAll(res.Samples[run])
		counts := make([]float64, bins)
		for _, s := range seqs {
			counts[min(bins-1, int(res.Task.Land.Y[s]*bins))]++
		}
		xy := make(plotter.XYs, 0, 2*bins)
		for j, c := range counts {
			d := c / float64(len(seqs)) * bins
			xy = append(xy, plotter.XY{X: float64(j) / bins, Y: d}, plotter.XY{X: float64(j+1) / bins, Y: d})
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		label := run
		if a := runAlpha(res.Summary, run); a != "" {
			label += " (α = " + a + ")"
		}
		p.Legend.Add(label, line)
	}
	p.Legend.Top = true
	p.X.Min, p.X.Max = 0, 1
	return savePlot(p, path)
}

func savePlot(p *plot.Plot, path string) error {
	canvas := vgimg.PngCanvas{Canvas: vgimg.New(6*vg.Inch, 4*vg.Inch)}
	p.Draw(draw.New(canvas))
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := canvas.WriteTo(w)
		return err
	})
}
