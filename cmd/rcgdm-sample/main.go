// Command rcgdm-sample runs reward-directed guided sampling (RCGDM,
// ALGORITHMS.md §4): it labels the task's data with the genuine reward plus
// noise, trains a reward predictor μ(x_t, t) on inputs noised by the forward
// process, and samples the pre-trained model guided toward target reward
// values, once per (target, guidance) pair, and writes what it measured.
//
//	rcgdm-sample                                        # gmm2d, r = x₁, targets from the data's reward, CPU
//	rcgdm-sample --target 1 --guidance 100 --num_images 100   # the seed's command: one pair
//	rcgdm-sample -targets 0,2,4,6 -guidances 1,4 -out runs/rc
//	rcgdm-sample -task tfbind8 -targets 0.4,0.6,0.8,1 -out runs/rc_tf
//	rcgdm-sample -quick                                 # the CI preset
//
// The predictor is trained once; every pair samples the same predictor with
// the same noise. Without -target or -targets the targets are the data's
// mean genuine reward plus 0, 0.5, …, 3 of its standard deviations, so that
// the last ones lie beyond what the data holds; without -guidance or
// -guidances the strength is the task's (that of its classifier guidance).
//
// Outputs in -out (package algos/report): config.json, metrics.jsonl (the
// predictor's loss), summary.json (each pair's run rcgdm_t<target>_g<guidance>
// with the genuine and the predicted reward of its samples, mean and sd, and
// the task's metrics: the fraction off the support on gmm2d, the distance
// from the one-hot vertices and the fraction in r̂'s half on tfbind8;
// details.rcgdm holds the curve, details.rcgdm_predictor the predictor's
// training seconds), results.md, samples_<run>.npy (and .fasta
// for sequences), reward_vs_target.png (genuine and predicted reward against
// the target, one line per guidance) and checkpoints/rcgdm_predictor.safetensors.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/report"
	_ "github.com/difftune/difftune/algos/tasks" // registers the tasks
	"github.com/difftune/difftune/cmd/internal/cli"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// usageError is a bad flag or value: one line, exit status 2.
type usageError = cli.UsageError

func main() { cli.Main("rcgdm-sample", run) }

// options are the flags that every task takes.
type options struct {
	task, targets, guidances, device, out, cache string
	target, guidance, labelNoise                 float64
	numImages, iters                             int
	seed                                         uint64
	quick, force                                 bool
	set                                          map[string]bool
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.task, "task", "gmm2d", "task: "+strings.Join(algos.TaskNames(), ", "))
	fs.Float64Var(&o.target, "target", 0, "the target reward value of one run (instead of -targets)")
	fs.StringVar(&o.targets, "targets", "", "comma-separated target reward values, each run at every guidance (default: the data's mean genuine reward + 0, 0.5, …, 3 sd)")
	fs.Float64Var(&o.guidance, "guidance", 0, "guidance strength ≥ 0 of one run (instead of -guidances; default: the task's)")
	fs.StringVar(&o.guidances, "guidances", "", "comma-separated guidance strengths ≥ 0, each run at every target")
	fs.IntVar(&o.numImages, "num_images", 500, "samples drawn for every (target, guidance) pair and for the pre-trained model")
	fs.Float64Var(&o.labelNoise, "label-noise", 0, "standard deviation of the noise ε of the labels y = r(x) + ε (default: the task's)")
	fs.IntVar(&o.iters, "predictor-iters", 0, "training batches of the reward predictor (default: the task's)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed reproduces the run")
	fs.StringVar(&o.device, "device", "", "backend: cpu (default, or $"+tensor.EnvDevice+"), cpu-ref, vulkan")
	fs.StringVar(&o.out, "out", "", "output directory (default runs/rcgdm_<task>)")
	fs.StringVar(&o.cache, "cache", cli.DefaultCache(), "directory of cached models (empty: no cache)")
	fs.BoolVar(&o.quick, "quick", false, "the task's small preset for smoke tests; flags given still win")
	fs.BoolVar(&o.force, "force", false, "replace a run of another configuration in -out (without it, such a run is refused; one of the same configuration starts over)")
}

// sweep is the (target, guidance) grid: targets nil for the default ones,
// computed from the data once the task is set up.
type sweep struct {
	Targets   []float64 `json:"targets"`
	Guidances []float64 `json:"guidances"`
}

// config is what config.json records: the report's, the sweep and the
// number of samples.
type config struct {
	report.Config
	Sweep     sweep `json:"sweep"`
	NumImages int   `json:"num_images"`
}

// parse reads the flags into options, the task, the plan and the sweep.
func parse(args []string, stderr io.Writer) (options, algos.Task, algos.Plan, sweep, error) {
	var o options
	task, spec, set, err := cli.ParseTask("rcgdm-sample", args, stderr, o.register, &o.quick)
	if err != nil {
		return o, nil, algos.Plan{}, sweep{}, err
	}
	o.set = set
	if o.out == "" {
		o.out = "runs/rcgdm_" + spec.Name
	}
	plan, sw, err := o.plan(task)
	if err != nil {
		return o, nil, algos.Plan{}, sweep{}, usageError{Err: err}
	}
	return o, task, plan, sw, cli.Check(task, plan)
}

// list reads a comma-separated list of distinct finite numbers (≥ 0 if
// nonNeg).
func list(name, arg string, nonNeg bool) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(arg, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || (nonNeg && v < 0) || slices.Contains(out, v) {
			kind := "finite numbers"
			if nonNeg {
				kind = "finite numbers ≥ 0"
			}
			return nil, fmt.Errorf("-%s must be distinct %s separated by commas, got %q", name, kind, arg)
		}
		out = append(out, v)
	}
	return out, nil
}

// plan is the task's default plan running rcgdm alone, with the flags given
// applied, and the sweep.
func (o *options) plan(task algos.Task) (algos.Plan, sweep, error) {
	var sw sweep
	p := task.Defaults()
	p.Methods = []string{"rcgdm"}
	r := &p.Recipe
	r.RCGDM = algos.RCGDMFor(*r)
	var err error
	switch {
	case o.set["target"] && o.set["targets"]:
		return p, sw, errors.New("-target and -targets exclude each other: give one target or a list")
	case o.set["target"]:
		if math.IsNaN(o.target) || math.IsInf(o.target, 0) {
			return p, sw, fmt.Errorf("-target must be a finite number, got %v", o.target)
		}
		sw.Targets = []float64{o.target}
	case o.set["targets"]:
		if sw.Targets, err = list("targets", o.targets, false); err != nil {
			return p, sw, err
		}
	}
	switch {
	case o.set["guidance"] && o.set["guidances"]:
		return p, sw, errors.New("-guidance and -guidances exclude each other: give one strength or a list")
	case o.set["guidance"]:
		if !(o.guidance >= 0) || math.IsInf(o.guidance, 0) {
			return p, sw, fmt.Errorf("-guidance must be a finite number ≥ 0, got %v", o.guidance)
		}
		sw.Guidances = []float64{o.guidance}
	case o.set["guidances"]:
		if sw.Guidances, err = list("guidances", o.guidances, true); err != nil {
			return p, sw, err
		}
	default:
		sw.Guidances = []float64{r.RCGDM.Guidance}
	}
	if o.numImages < 2 {
		return p, sw, fmt.Errorf("-num_images must be ≥ 2, got %d", o.numImages)
	}
	p.EvalSamples, p.TargetSamples = o.numImages, max(o.numImages, 2000)
	if o.set["label-noise"] {
		r.RCGDM.LabelNoise = o.labelNoise
	}
	if o.set["predictor-iters"] {
		r.RCGDM.Iters = o.iters
	}
	// The runner's own run of rcgdm samples the first pair; the sweep
	// samples every pair again from the same predictor.
	if len(sw.Targets) > 0 {
		r.RCGDM.Target = sw.Targets[0]
	}
	r.RCGDM.Guidance = sw.Guidances[0]
	if err := r.RCGDM.Validate(); err != nil {
		return p, sw, err
	}
	p.Seed = o.seed
	return p, sw, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, task, plan, sw, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ro := report.Options{Task: task, Plan: plan, Cache: o.cache, Out: o.out}
	if err := ro.Check(); err != nil {
		return usageError{Err: err}
	}
	b, err := cli.OpenDevice(o.device)
	if err != nil {
		return usageError{Err: err}
	}
	notice := func(msg string) { fmt.Fprintln(stderr, msg) }
	// One run at a time in -out, Ctrl-C a clean stop. A run takes seconds:
	// a stopped one of the same configuration starts over, another
	// configuration's is replaced only with -force.
	release, err := report.Hold(o.out, stderr)
	if err != nil {
		return err
	}
	defer release()
	cfg := config{Config: report.Config{Task: task.Name(), TaskConfig: task.Config(), Plan: plan}, Sweep: sw, NumImages: o.numImages}
	d, _, err := report.OpenRun(o.out, cfg, b.Name(), o.force, true, notice, "")
	if bad := (report.InputError{}); errors.As(err, &bad) {
		return usageError{Err: bad.Err}
	} else if err != nil {
		return err
	}
	defer d.Close()
	if err := clearOld(o.out); err != nil {
		return err
	}
	env := algos.Env{Backend: b, Cache: o.cache, Hooks: algos.Hooks{Log: d.Log, Notice: notice, Progress: quarters(stderr)}}
	res, err := algos.Run(env, task, plan)
	if err != nil {
		return err
	}
	curve, err := sample(env, res, plan, sw)
	if err != nil {
		return err
	}
	return write(d, res, curve, stdout)
}

// quarters reports the progress of a phase on w at every quarter of it.
func quarters(w io.Writer) func(phase string, done, total int) {
	return func(phase string, done, total int) {
		if total > 0 && done*4/total != (done-1)*4/total {
			fmt.Fprintf(w, "  %s: %d/%d\n", phase, done, total)
		}
	}
}

// clearOld removes what an earlier run left in dir that this one may not
// write again (the samples and plots of other pairs; report.OpenRun removed
// summary.json first).
func clearOld(dir string) error {
	for _, pat := range []string{"samples_*", "scatter_*", "results.md", "reward_vs_target.png"} {
		old, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// point is one (target, guidance) run of the sweep: the genuine and the
// predicted reward of its samples and the task's measures of the support.
type point struct {
	Run       string                  `json:"run"`
	Target    float64                 `json:"target"`
	Guidance  float64                 `json:"guidance"`
	Genuine   algos.Number            `json:"reward_genuine"`
	GenuineSD algos.Number            `json:"reward_genuine_sd"`
	Predicted algos.Number            `json:"reward_predicted"`
	PredSD    algos.Number            `json:"reward_predicted_sd"`
	KL        algos.Number            `json:"kl"`
	Support   map[string]algos.Number `json:"support,omitempty"`
}

// supportKeys are the task metrics that tell whether samples left the data:
// gmm2d's fraction off the support, tfbind8's distance from the one-hot
// vertices and fraction in r̂'s training half.
var supportKeys = []string{"off_support", "vertex_distance", "in_train_half"}

// labelStats are the mean, standard deviation and maximum of the genuine
// reward on a batch of the task's data.
func labelStats(b tensor.Backend, task algos.Task, seed uint64) (mean, sd, top float64) {
	y := task.Oracle().Score(task.Data(b, seed^0x7a)(0, 4096).Float64s())
	return algos.Mean(y), algos.Stddev(y), slices.Max(y)
}

// round keeps 3 significant digits (the names of the runs).
func round(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return r
}

// sample runs the sweep on the runner's fit: every pair samples the same
// predictor with the same noise, and replaces the runner's own rcgdm run in
// res.
func sample(env algos.Env, res *algos.Result, plan algos.Plan, sw sweep) ([]point, error) {
	fit := res.Fits["rcgdm"]
	if fit == nil {
		return nil, errors.New("the runner returned no fit of rcgdm")
	}
	g, ok := fit.Sampler.(*algos.Guided)
	if !ok {
		return nil, fmt.Errorf("rcgdm fitted a %T, not a guided sampler", fit.Sampler)
	}
	b, task, s := env.Backend, res.Task, &res.Summary
	mean, sd, top := labelStats(b, task, plan.Seed)
	s.Details = mapOr(s.Details)
	s.Details["rcgdm_data"] = map[string]algos.Number{"genuine_mean": algos.Number(mean), "genuine_sd": algos.Number(sd), "genuine_max": algos.Number(top)}
	targets := sw.Targets
	if targets == nil {
		for k := range 7 {
			targets = append(targets, round(mean+0.5*float64(k)*sd))
		}
		env.Hooks.Noticef("targets from the data's genuine reward (mean %.3g, sd %.3g, max %.3g): %v", mean, sd, top, targets)
	}
	// The predictor's training time, in details (a note would make two runs'
	// summaries differ by more than their timing fields).
	s.Details["rcgdm_predictor"] = map[string]algos.Number{"seconds": s.Methods["rcgdm"].Seconds}
	s.Runs = slices.DeleteFunc(s.Runs, func(r algos.RunInfo) bool { return r.Name == "rcgdm" })
	delete(s.Methods, "rcgdm")
	delete(res.Samples, "rcgdm")
	var curve []point
	for _, w := range sw.Guidances {
		for _, target := range targets {
			name := fmt.Sprintf("rcgdm_t%g_g%g", target, w)
			env.Hooks.Noticef("sampling %s (%d samples)", name, plan.EvalSamples)
			start := time.Now()
			x, klInit, klDrift := g.With(target, w).Sample(b, plan.EvalSamples, &sde.Streams{Seed: plan.Seed + 13})
			kl := make([]float64, len(klInit))
			for i := range kl {
				kl[i] = klInit[i] + klDrift[i]
			}
			ms := task.Evaluate(x, kl, s.Alpha)
			genuine, pred := task.Oracle().Score(x), g.Predict(b, x)
			pt := point{Run: name, Target: target, Guidance: w, Genuine: algos.Number(algos.Mean(genuine)), GenuineSD: algos.Number(algos.Stddev(genuine)),
				Predicted: algos.Number(algos.Mean(pred)), PredSD: algos.Number(algos.Stddev(pred)), KL: ms.KL}
			ms.SetExtra("target", target)
			ms.SetExtra("guidance", w)
			ms.SetExtra("reward_genuine_sd", float64(pt.GenuineSD))
			ms.SetExtra("reward_predicted", float64(pt.Predicted))
			ms.SetExtra("reward_predicted_sd", float64(pt.PredSD))
			if !pt.Predicted.Finite() || !pt.GenuineSD.Finite() {
				ms.Note("reward_predicted", "not finite: the guided samples overflowed float32 (lower the guidance)")
			}
			for _, k := range supportKeys {
				if v, ok := ms.Extras[k]; ok {
					pt.Support = mapOr(pt.Support)
					pt.Support[k] = v
				}
			}
			ms.Seconds = algos.Number(time.Since(start).Seconds())
			ms.Note("setting", fmt.Sprintf("target = %g, guidance = %g; the predictor (trained once for every pair) as in checkpoints/rcgdm_predictor.safetensors", target, w))
			s.Runs = append(s.Runs, algos.RunInfo{Name: name, Method: "rcgdm"})
			s.Methods[name] = ms
			res.Samples[name] = x
			curve = append(curve, pt)
		}
	}
	s.Details["rcgdm"] = curve
	return curve, nil
}

func mapOr[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// write writes the run directory: the plot, the predictor, then
// report.WriteResult (samples, results.md, summary.json), and the sweep's
// table appended to results.md; it prints the tables.
func write(d *report.Dir, res *algos.Result, curve []point, stdout io.Writer) error {
	s := res.Summary
	if err := writePlot(d.File("reward_vs_target.png"), s.Task, curve); err != nil {
		return err
	}
	meta := map[string]string{"task": s.Task, "run": "rcgdm", "method": "rcgdm", "reward": s.Genuine}
	if err := nn.SaveCheckpoint(d.File("checkpoints/rcgdm_predictor.safetensors"), res.Fits["rcgdm"].Modules["predictor"], meta); err != nil {
		return err
	}
	if err := report.WriteResult(d, res); err != nil {
		return err
	}
	table := sweepTable(s, curve)
	md, err := os.ReadFile(d.File("results.md"))
	if err != nil {
		return err
	}
	if err := report.WriteText(d.File("results.md"), string(md)+"\n"+table); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s  genuine reward %s\n", s.Task, s.Genuine)
	fmt.Fprint(stdout, report.Table(s, res.Task.Columns()))
	fmt.Fprint(stdout, "\n"+table)
	fmt.Fprintf(stdout, "wrote %s/{config.json,metrics.jsonl,summary.json,results.md,samples_*,reward_vs_target.png,checkpoints/}\n", strings.TrimRight(d.Path, "/"))
	return nil
}

// sweepTable is the Markdown table of the sweep and, per guidance, where
// the genuine reward peaked.
func sweepTable(s algos.Summary, curve []point) string {
	var keys []string
	for _, k := range supportKeys {
		if len(curve) > 0 {
			if _, ok := curve[0].Support[k]; ok {
				keys = append(keys, k)
			}
		}
	}
	var b strings.Builder
	data := s.Details["rcgdm_data"].(map[string]algos.Number)
	fmt.Fprintf(&b, "## RCGDM: reward against the target\n\nThe data's genuine reward: mean %s, sd %s, max %s. The pre-trained model's samples: %s.\n\n",
		report.Num(data["genuine_mean"]), report.Num(data["genuine_sd"]), report.Num(data["genuine_max"]), report.Num(s.Methods["pretrained"].RewardGenuine))
	b.WriteString("| target | guidance | genuine (mean ± sd) | predicted (mean ± sd) | KL |")
	for _, k := range keys {
		b.WriteString(" " + k + " |")
	}
	b.WriteString("\n|---|---|---|---|---|" + strings.Repeat("---|", len(keys)) + "\n")
	for _, p := range curve {
		fmt.Fprintf(&b, "| %g | %g | %s ± %s | %s ± %s | %s |", p.Target, p.Guidance, report.Num(p.Genuine), report.Num(p.GenuineSD),
			report.Num(p.Predicted), report.Num(p.PredSD), report.Num(p.KL))
		for _, k := range keys {
			b.WriteString(" " + report.Num(p.Support[k]) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, line := range peaks(curve, keys) {
		b.WriteString("- " + line + "\n")
	}
	return b.String()
}

// peaks says, per guidance, at which target the genuine reward was highest
// and what the support measures were there.
func peaks(curve []point, keys []string) []string {
	var out []string
	var ws []float64
	for _, p := range curve {
		if !slices.Contains(ws, p.Guidance) {
			ws = append(ws, p.Guidance)
		}
	}
	for _, w := range ws {
		var best *point
		for i := range curve {
			p := &curve[i]
			if p.Guidance == w && p.Genuine.Finite() && (best == nil || p.Genuine > best.Genuine) {
				best = p
			}
		}
		if best == nil {
			out = append(out, fmt.Sprintf("guidance %g: no finite genuine reward", w))
			continue
		}
		line := fmt.Sprintf("guidance %g: the genuine reward peaks at %s at target %g", w, report.Num(best.Genuine), best.Target)
		for _, k := range keys {
			line += fmt.Sprintf(", %s %s", k, report.Num(best.Support[k]))
		}
		out = append(out, line)
	}
	return out
}
