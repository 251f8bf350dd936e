// Command seiko-train runs SEIKO (ALGORITHMS.md §2): online fine-tuning of a
// pre-trained diffusion model from a counted budget of genuine-reward
// queries, in rounds, with the variants Non-adaptive, Greedy, UCB, Bootstrap
// and TS, and writes what it measured.
//
//	seiko-train                                        # gmm2d, every variant, CPU
//	seiko-train -task tfbind8 -variant ucb,greedy -budget 2048
//	seiko-train -task tfbind8 -seeds 1,2,3 -out runs/seiko_tf3
//	seiko-train -quick                                 # the CI preset
//	seiko-train -variant ucb -view                     # watch the samples move, round by round
//
// Outputs in -out (package algos/report): config.json, metrics.jsonl,
// summary.json (each variant's oracle_queries, reward_genuine and curve of
// [queries spent, mean genuine reward]), results.md, samples, plots,
// checkpoints/ and queries_seiko-<variant>.jsonl, one line per query.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"slices"
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

func main() { viewer.RunMain(func() { cli.Main("seiko-train", run) }) }

// The window of -view wants the window system's calls on the main thread
// (viewer.RunMain).
func init() { runtime.LockOSThread() }

// options are the flags that every task takes.
type options struct {
	task, variant, schedule, alphas, seeds, device, out, cache string
	mssSelect                                                  string
	rounds, budget, evalSamples, iters, k                      int
	beta, noise                                                float64
	seed                                                       uint64
	quick, force, resume                                       bool
	watch                                                      watch.Flags
	set                                                        map[string]bool
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.task, "task", "gmm2d", "task: "+strings.Join(algos.TaskNames(), ", "))
	fs.StringVar(&o.variant, "variant", "all", "comma-separated variants ("+strings.Join(algos.SEIKOVariants, ", ")+"), or all")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds of queries (default: the schedule's length; a longer run repeats its last batch)")
	fs.IntVar(&o.budget, "budget", 0, "total queries of each variant (default: the schedule's sum); the last rounds shrink to fit")
	fs.StringVar(&o.schedule, "batch-schedule", "", "comma-separated queries of each round, e.g. 256,512,1024,2048 (default: the task's)")
	fs.StringVar(&o.alphas, "alpha", "", "KL weight α > 0 to the pre-trained model (default: the task's first)")
	fs.Float64Var(&o.beta, "beta", 0, "KL weight β ≥ 0 to the previous round's model (default: α)")
	fs.Float64Var(&o.noise, "noise", 0, "standard deviation of the oracle's observation noise (default: the task's)")
	fs.IntVar(&o.iters, "iters", 0, "fine-tuning iterations of each round (default: the task's)")
	fs.IntVar(&o.k, "k", 0, "impulses of continuous SEIKO (variant mss), at K grid times chosen by -mss-select (default: the task's, 5)")
	fs.StringVar(&o.mssSelect, "mss-select", "value", "impulse times of mss: value (largest first-order worth of an impulse to the optimistic reward), spread (largest ensemble spread on x̂₀, seed 003 as written) or last (the K last steps, a baseline)")
	fs.IntVar(&o.evalSamples, "eval-samples", 0, "samples drawn to evaluate each variant (default: the task's)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed reproduces the run")
	fs.StringVar(&o.seeds, "seeds", "", "comma-separated seeds: the plan once per seed into DIR/seed<N>/, means ± sd in DIR (instead of -seed)")
	fs.StringVar(&o.device, "device", "", "backend: cpu (default, or $"+tensor.EnvDevice+"), cpu-ref, vulkan")
	fs.StringVar(&o.out, "out", "", "output directory (default runs/seiko_<task>)")
	fs.StringVar(&o.cache, "cache", cli.DefaultCache(), "directory of cached models (empty: no cache)")
	fs.BoolVar(&o.quick, "quick", false, "the task's small preset for smoke tests; flags given still win")
	fs.BoolVar(&o.force, "force", false, "replace a run of another configuration in -out (without it, such a run is refused)")
	fs.BoolVar(&o.resume, "resume", true, "resume a stopped run of the same configuration in -out, reusing its finished runs; false starts it over")
	o.watch.Register(fs)
}

// parse reads the flags into options, the task and the plan.
func parse(args []string, stderr io.Writer) (options, algos.Task, algos.Plan, error) {
	var o options
	task, spec, set, err := cli.ParseTask("seiko-train", args, stderr, o.register, &o.quick)
	if err != nil {
		return o, nil, algos.Plan{}, err
	}
	o.set = set
	if ot, ok := task.(algos.OnlineTask); ok {
		ot.UseOnline(set) // the task's online setting, flags given win
	}
	if o.out == "" {
		o.out = "runs/seiko_" + spec.Name
	}
	plan, err := o.plan(task)
	if err != nil {
		return o, nil, algos.Plan{}, usageError{Err: err}
	}
	return o, task, plan, cli.Check(task, plan)
}

// plan is the task's default plan, its methods the variants asked for, with
// the flags given applied.
func (o *options) plan(task algos.Task) (algos.Plan, error) {
	p := task.Defaults()
	s := &p.Recipe.SEIKO
	if len(s.Schedule) == 0 {
		*s = algos.DefaultSEIKOOptions()
	}
	p.Methods = nil
	variants := algos.SEIKOVariants
	if o.variant != "all" {
		variants = nil
		for v := range strings.SplitSeq(o.variant, ",") {
			v = strings.TrimPrefix(strings.TrimSpace(v), "seiko-")
			if !slices.Contains(algos.SEIKOVariants, v) || slices.Contains(variants, v) {
				return p, fmt.Errorf("-variant must be all or distinct variants of %v, got %q", algos.SEIKOVariants, o.variant)
			}
			variants = append(variants, v)
		}
	}
	for _, v := range variants {
		p.Methods = append(p.Methods, "seiko-"+v)
	}
	if o.set["batch-schedule"] {
		s.Schedule = nil
		for f := range strings.SplitSeq(o.schedule, ",") {
			b, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || b < 2 {
				return p, fmt.Errorf("-batch-schedule must be a comma-separated list of integers ≥ 2, got %q", o.schedule)
			}
			s.Schedule = append(s.Schedule, b)
		}
	}
	if o.set["rounds"] {
		if o.rounds < 1 {
			return p, fmt.Errorf("-rounds must be ≥ 1, got %d", o.rounds)
		}
		for len(s.Schedule) < o.rounds {
			s.Schedule = append(s.Schedule, s.Schedule[len(s.Schedule)-1])
		}
		s.Schedule = s.Schedule[:o.rounds]
	}
	if o.set["budget"] {
		if o.budget < 2 {
			return p, fmt.Errorf("-budget must be ≥ 2, got %d", o.budget)
		}
		s.Budget = o.budget
	}
	if o.set["alpha"] {
		a, err := strconv.ParseFloat(strings.TrimSpace(o.alphas), 64)
		if err != nil || !(a > 0) || math.IsInf(a, 0) {
			return p, fmt.Errorf("-alpha must be a positive number, got %q", o.alphas)
		}
		p.Alphas = []float64{a}
	}
	nonNeg := func(name string, v float64) error {
		if o.set[name] && !(v >= 0 && !math.IsInf(v, 0)) {
			return fmt.Errorf("-%s must be a finite number ≥ 0, got %v", name, v)
		}
		return nil
	}
	for _, err := range []error{nonNeg("beta", o.beta), nonNeg("noise", o.noise)} {
		if err != nil {
			return p, err
		}
	}
	if o.set["beta"] {
		s.Beta = o.beta
	}
	if o.set["noise"] {
		s.Noise = o.noise
	}
	if o.set["iters"] {
		if o.iters < 0 {
			return p, fmt.Errorf("-iters must be ≥ 0, got %d", o.iters)
		}
		s.Iters = o.iters
	}
	if o.set["k"] {
		if o.k < 1 {
			return p, fmt.Errorf("-k must be ≥ 1, got %d", o.k)
		}
		s.K = o.k
	}
	if o.set["mss-select"] {
		if o.mssSelect != "spread" && o.mssSelect != "value" && o.mssSelect != "last" {
			return p, fmt.Errorf("-mss-select must be spread, value or last, got %q", o.mssSelect)
		}
		s.Select = o.mssSelect
	}
	if o.set["eval-samples"] {
		if o.evalSamples < 2 {
			return p, fmt.Errorf("-eval-samples must be ≥ 2, got %d", o.evalSamples)
		}
		p.EvalSamples, p.TargetSamples = o.evalSamples, max(p.TargetSamples, o.evalSamples)
	}
	s.QueryLog, s.QueryLogSeed = o.out, o.set["seeds"]
	p.Seed = o.seed
	if len(s.Rounds()) == 0 {
		return p, fmt.Errorf("a budget of %d queries leaves no round of the schedule %v", s.Budget, s.Schedule)
	}
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
	if err := o.watch.Check(task); err != nil {
		return err
	}
	b, err := cli.OpenDevice(o.device)
	if err != nil {
		return err
	}
	w, err := o.watch.Open("seiko-train", task, plan, b, o.out, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	err = report.Execute(report.Options{Task: task, Plan: plan, Backend: b, Cache: o.cache, Out: o.out, Seeds: seeds,
		Force: o.force, Restart: !o.resume, Stdout: stdout, Stderr: stderr, Observe: w.Hooks, SeedStarts: w.SeedStarts})
	if bad := (report.InputError{}); errors.As(err, &bad) {
		return usageError{Err: bad.Err}
	}
	if err != nil {
		return err
	}
	dirs := []string{o.out}
	if len(seeds) > 0 {
		dirs = nil
		for _, s := range seeds {
			dirs = append(dirs, filepath.Join(o.out, fmt.Sprintf("seed%d", s)))
		}
	}
	for _, d := range dirs {
		if err := report.WriteQueryReport(stdout, d); err != nil {
			return err
		}
	}
	if len(seeds) > 0 {
		return report.WriteQuerySeedsReport(stdout, o.out, seeds, dirs)
	}
	return nil
}
