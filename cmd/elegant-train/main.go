// Command elegant-train fine-tunes a pre-trained diffusion model toward a
// reward with ELEGANT and its baselines, and writes what it measured.
//
//	elegant-train                                   # gmm2d, r(x) = x₁, α = 1, its comparison, CPU
//	elegant-train -reward quadratic:1,0 -alpha 0.5 -method elegant -out runs/q
//	elegant-train -beta-max 5 -out runs/b5          # where the learned initial law matters
//	elegant-train -task tfbind8 -out runs/tf        # DNA 8-mers: ELEGANT at an α grid and every baseline
//	elegant-train -task tfbind8 -method guidance -guidance-scale 50 -target 0.8
//	elegant-train -task tfbind8 -seeds 1,2,3 -out runs/tf3
//
// Outputs in -out (package algos/report): config.json, metrics.jsonl,
// summary.json, results.md, samples_<run>.npy (and .fasta for sequences),
// plots and checkpoints/.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/report"
	_ "github.com/difftune/difftune/algos/tasks" // registers the tasks
	"github.com/difftune/difftune/cmd/internal/cli"
	"github.com/difftune/difftune/cmd/internal/viewer"
	"github.com/difftune/difftune/cmd/internal/watch"
	"github.com/difftune/difftune/tensor"
)

// usageError is a bad flag or value: one line, exit status 2.
type usageError = cli.UsageError

func main() { viewer.RunMain(func() { cli.Main("elegant-train", run) }) }

// The window of -view wants the window system's calls on the main thread
// (viewer.RunMain).
func init() { runtime.LockOSThread() }

// options are the flags that every task takes.
type options struct {
	task, method, alphas, seeds, device, out, cache string
	iters, batch, evalSamples, k                    int
	lr, guidanceScale, target, beta, maxMemory      float64
	seed                                            uint64
	quick                                           bool
	dir                                             cli.RunDirFlags
	watch                                           watch.Flags
	set                                             map[string]bool
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.task, "task", "gmm2d", "task: "+strings.Join(algos.TaskNames(), ", "))
	fs.StringVar(&o.method, "method", "", "comma-separated methods ("+strings.Join(algos.MethodNames(), ", ")+"), or all; default: the task's comparison")
	fs.StringVar(&o.alphas, "alpha", "", "comma-separated KL weights α > 0 (ELEGANT runs at each, the baselines at the first); default: the task's")
	fs.IntVar(&o.iters, "iters", 0, "fine-tuning iterations of every method (default: the task's)")
	fs.IntVar(&o.batch, "batch", 0, "rollouts per fine-tuning iteration (default: the task's)")
	fs.Float64Var(&o.lr, "lr", 0, "fine-tuning learning rate, cosine-decayed to a tenth (default: the task's)")
	fs.IntVar(&o.evalSamples, "eval-samples", 0, "samples drawn to evaluate each run (default: the task's)")
	fs.IntVar(&o.k, "k", 0, "Truncation's last steps that gradients flow through (default: the task's)")
	fs.Float64Var(&o.guidanceScale, "guidance-scale", 0, "guidance strength w ≥ 0 (default: the task's)")
	fs.Float64Var(&o.target, "target", 0, "guidance's target y_target (default: the target's E_α[r̂] at the first α)")
	fs.Float64Var(&o.beta, "beta", 0, "PPO's per-step KL weight β ≥ 0 against the standardized advantage (default: the first α over r̂'s spread)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed reproduces the run")
	fs.StringVar(&o.seeds, "seeds", "", "comma-separated seeds: the plan once per seed into DIR/seed<N>/, means ± sd in DIR (instead of -seed)")
	fs.StringVar(&o.device, "device", "", "backend: cpu (default, or $"+tensor.EnvDevice+"), cpu-ref, vulkan")
	fs.StringVar(&o.out, "out", "", "output directory (default runs/<task>)")
	fs.StringVar(&o.cache, "cache", cli.DefaultCache(), "directory of cached models (empty: no cache)")
	fs.BoolVar(&o.quick, "quick", false, "the task's small preset for smoke tests; flags given still win")
	o.dir.Register(fs, "-out")
	o.watch.Register(fs)
	fs.Float64Var(&o.maxMemory, "max-memory", 0, "GiB a run may expect to hold: a larger -batch or -eval-samples is refused (0: 80% of the physical memory)")
}

// parse reads the flags into options, the task (its defaults, or its quick
// preset, then the flags given) and the plan.
func parse(args []string, stderr io.Writer) (options, algos.Task, algos.Plan, error) {
	var o options
	task, spec, set, err := cli.ParseTask("elegant-train", args, stderr, o.register, &o.quick)
	if err != nil {
		return o, nil, algos.Plan{}, err
	}
	o.set = set
	if o.out == "" {
		o.out = "runs/" + spec.Name
	}
	plan, err := o.plan(task)
	if err != nil {
		return o, nil, algos.Plan{}, usageError{Err: err}
	}
	return o, task, plan, cli.Check(task, plan)
}

// plan is the task's default plan with the flags given applied.
func (o *options) plan(task algos.Task) (algos.Plan, error) {
	p := task.Defaults()
	r := &p.Recipe
	switch o.method {
	case "":
	case "all":
		p.Methods = algos.MethodNames()
	default:
		p.Methods = nil
		for _, m := range strings.Split(o.method, ",") {
			if _, err := algos.LookupMethod(strings.TrimSpace(m)); err != nil {
				return p, err
			}
			p.Methods = append(p.Methods, strings.TrimSpace(m))
		}
	}
	if o.set["alpha"] {
		p.Alphas = nil
		for f := range strings.SplitSeq(o.alphas, ",") {
			a, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || !(a > 0) || math.IsInf(a, 0) {
				return p, fmt.Errorf("-alpha must be a comma-separated list of positive numbers, got %q", o.alphas)
			}
			p.Alphas = append(p.Alphas, a)
		}
	}
	positive := func(name string, v int) error {
		if o.set[name] && v < 1 {
			return fmt.Errorf("-%s must be ≥ 1, got %d", name, v)
		}
		return nil
	}
	finite := func(name string, v float64) error {
		if o.set[name] && (math.IsNaN(v) || math.IsInf(v, 0)) {
			return fmt.Errorf("-%s must be a finite number, got %v", name, v)
		}
		return nil
	}
	for _, err := range []error{positive("batch", o.batch), positive("k", o.k), positive("eval-samples", o.evalSamples),
		finite("lr", o.lr), finite("guidance-scale", o.guidanceScale), finite("target", o.target), finite("beta", o.beta)} {
		if err != nil {
			return p, err
		}
	}
	if o.set["iters"] {
		if o.iters < 0 {
			return p, fmt.Errorf("-iters must be ≥ 0, got %d", o.iters)
		}
		r.Drift.Iters, r.BaselineIters, r.PPO.Iters = o.iters, 0, o.iters
	}
	if o.set["batch"] {
		r.Drift.Batch, r.PPO.Batch = o.batch, o.batch
	}
	if o.set["lr"] {
		if !(o.lr > 0) {
			return p, fmt.Errorf("-lr must be > 0, got %v", o.lr)
		}
		r.Drift.LR, r.Drift.LRMin = o.lr, o.lr/10
	}
	if o.set["eval-samples"] {
		if o.evalSamples < 2 {
			return p, fmt.Errorf("-eval-samples must be ≥ 2, got %d", o.evalSamples)
		}
		p.EvalSamples, p.TargetSamples = o.evalSamples, max(p.TargetSamples, o.evalSamples)
	}
	if o.set["k"] {
		r.TruncK = o.k
	}
	if o.set["guidance-scale"] {
		if o.guidanceScale < 0 {
			return p, fmt.Errorf("-guidance-scale must be ≥ 0, got %v", o.guidanceScale)
		}
		r.Guidance.Scale = o.guidanceScale
	}
	if o.set["target"] {
		r.Guidance.Target = new(o.target)
	}
	if o.set["beta"] {
		if o.beta < 0 {
			return p, fmt.Errorf("-beta must be ≥ 0, got %v", o.beta)
		}
		r.PPO.Beta = o.beta
	}
	p.Seed = o.seed
	return p, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, task, plan, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var seeds []uint64
	if o.set["seeds"] {
		if o.set["seed"] {
			return usageError{Err: errors.New("-seed and -seeds exclude each other: give one seed or a list")}
		}
		if seeds, err = cli.SeedList(o.seeds); err != nil {
			return usageError{Err: err}
		}
	}
	if o.set["max-memory"] && !(o.maxMemory > 0 && !math.IsInf(o.maxMemory, 0)) {
		return usageError{Err: fmt.Errorf("-max-memory must be a finite number of GiB > 0, got %v", o.maxMemory)}
	}
	if err := o.dir.Check(); err != nil {
		return err
	}
	if err := o.watch.Check(task); err != nil {
		return err
	}
	b, err := cli.OpenDevice(o.device)
	if err != nil {
		return err
	}
	w, err := o.watch.Open("elegant-train", task, plan, b, o.out, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	err = report.Execute(report.Options{Task: task, Plan: plan, Backend: b, Cache: o.cache, Out: o.out, Seeds: seeds,
		Force: o.dir.Force, Restart: !o.dir.Resume, MaxMemory: o.maxMemory * (1 << 30),
		CheckpointEvery: o.dir.CheckpointEvery, Stdout: stdout, Stderr: stderr, Observe: w.Hooks, SeedStarts: w.SeedStarts})
	if bad := (report.InputError{}); errors.As(err, &bad) {
		return usageError{Err: bad.Err}
	}
	return err
}
