// Command bilevel-tune chooses the entropy strength λ of reward fine-tuning
// by a bilevel problem (ALGORITHMS.md §3): λ minimizes the upper objective
// f(λ) = −E_{p*(λ)}[r₁] where p*(λ) ∝ exp(r₂/λ)·p_data solves the lower,
// entropy-regularized problem for the lower reward r₂. λ descends by projected
// gradient steps with the first-order penalty estimate of the hypergradient
// from pre-trained samples; the lower level is then sampled at λ_final by the
// guided backward SDE and by ELEGANT at α = λ_final.
//
//	bilevel-tune -quick --output_dir runs/bl-quick             # seconds: a smoke test
//	bilevel-tune --num_samples 256 --lambda_init 0.01 --gamma 1e3 --steps 500 --output_dir runs/bl
//	bilevel-tune -upper quadratic:1,0,4.5,0 -lower linear:1,0 --output_dir runs/bl45
//	bilevel-tune -task tfbind8 -upper y -lower rhat --output_dir runs/bltf
//	bilevel-tune -quick -view                                  # watch ELEGANT's fit at λ_final
//
// Rewards (-upper r₁, -lower r₂): for gmm2d linear:w1,w2, quadratic:c1,c2 or
// the centred quadratic:c1,c2,m1,m2 (−c1(x₁−m1)² − c2(x₂−m2)²); for tfbind8
// rhat (the nominal MLP r̂), letters:wA,wC,wG,wT (a linear score of the
// letters at every position) or, as the upper reward only (it is not
// differentiable), y (the genuine reward of the landscape). The diffusion's own Euler–Maruyama steps are
// -sde-steps here, since --steps is the seed's number of steps on λ.
//
// Outputs in --output_dir: lambda_final.txt (the number alone), samples/
// (pretrained, guided and elegant as .npy, and .fasta for sequences), logs/
// (lambda.jsonl: λ, the gradient estimate, f and the KL per step;
// lambda.png: λ and f against the step; metrics.jsonl: the fits' steps;
// config.json: what ran; checkpoints/: ELEGANT's fit in progress) and
// summary.json, written last: a folder without it holds no finished run.
// Every file is written atomically. A stopped run (kill, Ctrl-C: exit
// status 130) resumes with the same command, ELEGANT's fit from its last
// checkpoint, to the same numbers; a run of another configuration in the
// folder is refused without -force.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
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

func main() { viewer.RunMain(func() { cli.Main("bilevel-tune", run) }) }

// The window of -view wants the window system's calls on the main thread
// (viewer.RunMain).
func init() { runtime.LockOSThread() }

// options are the binary's flags (the task's own come on top).
type options struct {
	task, upper, lower, device, out, cache      string
	samples, pool, steps, evalSamples           int
	elegantIters, elegantBatch                  int
	lambdaInit, gamma, lr, lambdaMin, lambdaMax float64
	seed                                        uint64
	quick, elegant                              bool
	dir                                         cli.RunDirFlags
	watch                                       watch.Flags
	set                                         map[string]bool
}

// taskDefaults are the rewards and bounds of a task's default job.
var taskDefaults = map[string]struct{ upper, lower string }{
	// λ* ≈ 0.99 in closed form: r₂ = x₁ pushes the samples right, r₁ wants x₁ at 3.
	"gmm2d": {"quadratic:1,0,3,0", "linear:1,0"},
	// r₂ = r̂ (fit on half of the sequences), r₁ = the genuine y: the λ at
	// which fine-tuning toward r̂ gives the best y.
	"tfbind8": {"y", "rhat"},
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.task, "task", "gmm2d", "task: "+strings.Join(algos.TaskNames(), ", "))
	fs.StringVar(&o.upper, "upper", "", "upper reward r₁, whose mean under p*(λ) λ maximizes (default: the task's)")
	fs.StringVar(&o.lower, "lower", "", "lower reward r₂ of p*(λ) ∝ exp(r₂/λ)·p_data (default: the task's)")
	fs.IntVar(&o.samples, "num_samples", 256, "pre-trained samples n per gradient estimate")
	fs.IntVar(&o.pool, "pool", 20000, "pre-trained samples drawn once; each step takes num_samples of them (≥ num_samples)")
	fs.Float64Var(&o.lambdaInit, "lambda_init", 0.01, "initial λ, in [lambda-min, lambda-max]")
	fs.Float64Var(&o.gamma, "gamma", 1e3, "penalty constant γ > 0 of the first-order estimate")
	fs.IntVar(&o.steps, "steps", 500, "projected gradient steps on λ")
	fs.StringVar(&o.out, "output_dir", "", "output directory (default runs/bilevel-<task>)")
	fs.Float64Var(&o.lr, "lr", 0.01, "step size η of λ ← clip(λ − η·∇̂, λ_min, λ_max)")
	fs.Float64Var(&o.lambdaMin, "lambda-min", 1e-3, "lower bound λ_min > 0 of the projection")
	fs.Float64Var(&o.lambdaMax, "lambda-max", 100, "upper bound λ_max of the projection")
	fs.IntVar(&o.evalSamples, "eval-samples", 2000, "samples of each sampler at λ_final")
	fs.BoolVar(&o.elegant, "elegant", true, "also fine-tune ELEGANT at α = λ_final (false: the guided SDE only)")
	fs.IntVar(&o.elegantIters, "elegant-iters", 0, "ELEGANT's drift iterations (step 3; default: the task's)")
	fs.IntVar(&o.elegantBatch, "elegant-batch", 0, "ELEGANT's drift rollouts per iteration (default: the task's)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed reproduces the run")
	fs.StringVar(&o.device, "device", "", "backend: cpu (default, or $"+tensor.EnvDevice+"), cpu-ref, vulkan")
	fs.StringVar(&o.cache, "cache", cli.DefaultCache(), "directory of cached models (empty: no cache)")
	fs.BoolVar(&o.quick, "quick", false, "a tiny preset for smoke tests (the task's quick preset, fewer samples and steps); flags given still win")
	o.dir.Register(fs, "--output_dir")
	o.watch.Register(fs)
}

// bindTask adds the task's flags to fs, its Euler–Maruyama -steps renamed
// -sde-steps (the seed's --steps is the descent's).
func bindTask(fs *flag.FlagSet, task algos.Task) {
	fsr, ok := task.(algos.FlagSetter)
	if !ok {
		return
	}
	tfs := flag.NewFlagSet("task", flag.ContinueOnError)
	fsr.SetFlags(tfs)
	tfs.VisitAll(func(f *flag.Flag) {
		name := f.Name
		if name == "steps" {
			name = "sde-steps"
		}
		fs.Var(f.Value, name, f.Usage)
	})
}

// parse reads the flags into options and the task (its defaults, or its
// quick preset, then the flags given) and checks every value: nothing is
// written before it returns.
func parse(args []string, stderr io.Writer) (options, algos.Task, algos.BilevelOptions, algos.Reward, algos.Reward, error) {
	var o options
	var bo algos.BilevelOptions
	spec, err := algos.LookupTask(cli.TaskArg(args))
	if err != nil {
		return o, nil, bo, nil, nil, usageError{Err: err}
	}
	task := spec.New(false)
	fs := flag.NewFlagSet("bilevel-tune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs)
	bindTask(fs, task)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, nil, bo, nil, nil, err
		}
		return o, nil, bo, nil, nil, usageError{Err: err}
	}
	if fs.NArg() > 0 {
		return o, nil, bo, nil, nil, usageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if o.quick {
		// The task's quick preset with the task flags given applied again.
		task = spec.New(true)
		qs := flag.NewFlagSet("task", flag.ContinueOnError)
		bindTask(qs, task)
		var qerr error
		fs.Visit(func(f *flag.Flag) {
			if qs.Lookup(f.Name) != nil {
				if err := qs.Set(f.Name, f.Value.String()); err != nil && qerr == nil {
					qerr = err
				}
			}
		})
		if qerr != nil {
			return o, nil, bo, nil, nil, usageError{Err: qerr}
		}
		o.applyQuick()
	}
	if o.out == "" {
		o.out = "runs/bilevel-" + spec.Name
	}
	def := taskDefaults[spec.Name]
	if o.upper == "" {
		o.upper = def.upper
	}
	if o.lower == "" {
		o.lower = def.lower
	}
	if o.upper == "" || o.lower == "" {
		return o, nil, bo, nil, nil, usageError{Err: fmt.Errorf("-task %s has no default rewards: give -upper and -lower", spec.Name)}
	}
	for name, v := range map[string]float64{"lambda_init": o.lambdaInit, "gamma": o.gamma, "lr": o.lr, "lambda-min": o.lambdaMin, "lambda-max": o.lambdaMax} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return o, nil, bo, nil, nil, usageError{Err: fmt.Errorf("-%s must be a finite number, got %v", name, v)}
		}
	}
	if (o.set["elegant-iters"] && o.elegantIters < 1) || (o.set["elegant-batch"] && o.elegantBatch < 1) {
		return o, nil, bo, nil, nil, usageError{Err: fmt.Errorf("-elegant-iters and -elegant-batch must be ≥ 1, got %d and %d", o.elegantIters, o.elegantBatch)}
	}
	if err := o.dir.Check(); err != nil {
		return o, nil, bo, nil, nil, err
	}
	if o.pool < o.samples && !o.set["pool"] {
		o.pool = o.samples
	}
	bo = algos.BilevelOptions{Samples: o.samples, Pool: o.pool, LambdaInit: o.lambdaInit, LambdaMin: o.lambdaMin, LambdaMax: o.lambdaMax,
		Gamma: o.gamma, LR: o.lr, Steps: o.steps, EvalSamples: o.evalSamples}
	if err := bo.Validate(); err != nil {
		return o, nil, bo, nil, nil, usageError{Err: flagNames(err)}
	}
	if err := task.Validate(); err != nil {
		return o, nil, bo, nil, nil, usageError{Err: err}
	}
	r1, r2, err := algos.ParseBilevelRewards(task, o.upper, o.lower)
	if err != nil {
		return o, nil, bo, nil, nil, usageError{Err: err}
	}
	return o, task, bo, r1, r2, nil
}

// applyQuick shrinks the sizes that were not given to the quick preset's.
func (o *options) applyQuick() {
	for _, q := range []struct {
		name string
		v    *int
		to   int
	}{{"num_samples", &o.samples, 128}, {"pool", &o.pool, 1024}, {"steps", &o.steps, 60}, {"eval-samples", &o.evalSamples, 256}} {
		if !o.set[q.name] {
			*q.v = q.to
		}
	}
}

// flagNames names the flags in an options error.
func flagNames(err error) error {
	return fmt.Errorf("%s (flags --num_samples, -pool, --lambda_init, -lambda-min, -lambda-max, --gamma, -lr, --steps, -eval-samples)", err)
}

// config is what logs/config.json records: a stopped run of the same
// configuration resumes, another is refused without -force.
type config struct {
	Task       string               `json:"task"`
	TaskConfig any                  `json:"task_config"`
	Upper      string               `json:"upper"`
	Lower      string               `json:"lower"`
	Seed       uint64               `json:"seed"`
	Options    algos.BilevelOptions `json:"options"`
	Elegant    *algos.Recipe        `json:"elegant"`
}

func run(args []string, stdout, stderr io.Writer) error {
	o, task, bo, r1, r2, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := o.watch.Check(task); err != nil {
		return err
	}
	b, err := cli.OpenDevice(o.device)
	if err != nil {
		return usageError{Err: err}
	}
	if st, err := os.Stat(o.out); err == nil && !st.IsDir() {
		return usageError{Err: fmt.Errorf("--output_dir %s is a file", o.out)}
	}
	if l, ok := task.(algos.Loader); ok {
		if err := l.Load(); err != nil {
			return usageError{Err: err}
		}
	}
	recipe := o.recipe(task)
	notice := func(msg string) { fmt.Fprintln(stderr, msg) }
	// One run at a time in an output folder, Ctrl-C a clean stop (the
	// run directory of package report, in logs/, with summary.json beside
	// it as the mark of a finished run).
	release, err := report.Hold(o.out, stderr)
	if err != nil {
		return err
	}
	defer release()
	cfg := config{Task: task.Name(), TaskConfig: task.Config(), Upper: r1.String(), Lower: r2.String(), Seed: o.seed, Options: bo, Elegant: recipe}
	d, resumed, err := report.OpenRun(filepath.Join(o.out, "logs"), cfg, b.Name(), o.dir.Force, !o.dir.Resume, notice, filepath.Join(o.out, "summary.json"))
	if bad := (report.InputError{}); errors.As(err, &bad) {
		return usageError{Err: bad.Err}
	} else if err != nil {
		return err
	}
	defer d.Close()
	if resumed {
		notice(fmt.Sprintf("resuming the run of the same configuration in %s: ELEGANT's fit from its last checkpoint (-resume=false starts over)", o.out))
	}
	if err := os.MkdirAll(filepath.Join(o.out, "samples"), 0o755); err != nil {
		return err
	}
	ck, log, done := d.Checkpoints(o.dir.CheckpointEvery, notice)
	w, err := o.watch.Open("bilevel-tune", task, algos.Plan{}, b, o.out, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	hooks := w.Observe(algos.Hooks{Notice: notice, Log: log, Progress: progress(stderr)})
	env := algos.Env{Backend: b, Cache: o.cache, Hooks: hooks, Seed: o.seed, Checkpoints: ck}
	if err := task.Setup(env); err != nil {
		return err
	}
	pre, err := task.Pretrain(env)
	if err != nil {
		return err
	}
	res, err := algos.TuneBilevel(env, task, pre, bo, r1, r2, recipe, o.seed)
	if err != nil {
		return err
	}
	sum := newSummary(o, task, res, r1, r2)
	if err := writeOutputs(o.out, task, res, sum); err != nil {
		return err
	}
	if err := done("elegant"); err != nil {
		return err
	}
	fmt.Fprint(stdout, sum.text())
	return nil
}

// recipe is ELEGANT's recipe at λ_final (nil: -elegant=false).
func (o options) recipe(task algos.Task) *algos.Recipe {
	if !o.elegant {
		return nil
	}
	r := task.Defaults().Recipe
	if o.quick {
		// ELEGANT at seconds' scale: a smoke test, not a measurement.
		r.Value.Points, r.Value.Rollouts, r.Value.Iters = min(r.Value.Points, 128), min(r.Value.Rollouts, 4), min(r.Value.Iters, 60)
		r.Initial.Iters, r.Initial.Batch = min(r.Initial.Iters, 30), min(r.Initial.Batch, 128)
		r.Drift.Iters, r.Drift.Batch = min(r.Drift.Iters, 30), min(r.Drift.Batch, 128)
	}
	if o.set["elegant-iters"] {
		r.Drift.Iters = o.elegantIters
	}
	if o.set["elegant-batch"] {
		r.Drift.Batch = o.elegantBatch
	}
	return &r
}

// formatLambda is λ as written to lambda_final.txt: the shortest decimal
// that reads back exactly.
func formatLambda(l float64) string { return strconv.FormatFloat(l, 'g', -1, 64) }

// progress prints a phase's progress to w at every tenth of it.
func progress(w io.Writer) func(phase string, done, total int) {
	last := map[string]int{}
	return func(phase string, done, total int) {
		if total <= 0 {
			return
		}
		if tenth := done * 10 / total; tenth > last[phase] {
			last[phase] = tenth
			fmt.Fprintf(w, "%s: %d/%d\n", phase, done, total)
		}
	}
}
