// Command elegant-train fine-tunes a pre-trained diffusion model toward a
// reward with ELEGANT and its baselines, and writes what it measured.
//
//	elegant-train                                   # gmm2d, r(x) = x₁, α = 1, every method, CPU
//	elegant-train -reward quadratic:1,0 -alpha 0.5 -method elegant -out runs/q
//	elegant-train -beta-max 5 -out runs/b5          # where the learned initial law matters
//	elegant-train -task tfbind8 -out runs/tf        # DNA 8-mers: ELEGANT at an α grid and every baseline
//	elegant-train -task tfbind8 -method guidance -guidance-scale 50 -target 0.8
//
// Outputs in -out: config.json, metrics.jsonl (one line per step),
// summary.json, and checkpoints/; gmm2d adds samples_<method>.npy and
// scatter_<method>.png, tfbind8 results.md, samples_<run>.fasta,
// curve_<run>.png and hist_y_elegant.png.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/tensor"
)

// usageError is a bad flag or value: one line, exit status 2.
type usageError struct{ error }

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "elegant-train: %v (see elegant-train -h)\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "elegant-train: %v\n", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	task, reward, method, device, out, cache string
	alpha, betaMax, lr                       float64
	iters, batch, steps, evalSamples         int
	pretrainIters, width                     int
	seed                                     uint64
	quick                                    bool
	alphaArg                                 string
	tf                                       tfbind8Options
	// set holds the flags given on the command line: a task's own defaults
	// apply to the others.
	set map[string]bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("elegant-train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := algos.DefaultGMM2DConfig()
	fs.StringVar(&o.task, "task", "gmm2d", "task: gmm2d or tfbind8 (flags of the other task are refused; unset flags take the task's defaults)")
	fs.StringVar(&o.reward, "reward", def.Reward, "reward: linear:w1,w2 (r = w·x) or quadratic:c1,c2 (r = −c1·x1² − c2·x2²)")
	fs.StringVar(&o.alphaArg, "alpha", fmt.Sprint(def.Alpha), "entropy-regularization strength α > 0; tfbind8: a comma-separated list (default: a grid from r̂'s spread on pre-trained samples)")
	fs.StringVar(&o.method, "method", "all", "method: elegant, nostep2, nokl or all; tfbind8: elegant, nokl, truncation, random, guidance, ppokl or all")
	fs.IntVar(&o.iters, "iters", def.FineTune.Iters, "fine-tuning iterations (step 3)")
	fs.IntVar(&o.batch, "batch", def.FineTune.Batch, "rollouts per fine-tuning iteration")
	fs.IntVar(&o.steps, "steps", def.Steps, "Euler–Maruyama steps per rollout")
	fs.Float64Var(&o.betaMax, "beta-max", def.VP.BetaMax, "β_max of the VP schedule (β_min = 0.1)")
	fs.Float64Var(&o.lr, "lr", def.FineTune.LR, "fine-tuning learning rate (cosine-decayed to a tenth)")
	fs.IntVar(&o.evalSamples, "eval-samples", def.EvalSamples, "samples drawn to evaluate each method")
	fs.IntVar(&o.pretrainIters, "pretrain-iters", def.Pretrain.Iters, "denoising score matching steps of pre-training")
	fs.IntVar(&o.width, "width", def.Pretrain.Width, "hidden width of the noise-prediction and control networks")
	fs.Uint64Var(&o.seed, "seed", def.Seed, "random seed: the same seed reproduces the run")
	fs.StringVar(&o.device, "device", "", "backend: cpu (default, or $"+tensor.EnvDevice+"), cpu-ref, vulkan")
	fs.StringVar(&o.out, "out", "runs/gmm2d", "output directory")
	fs.StringVar(&o.cache, "cache", defaultCache(), "directory of cached pre-trained models (empty: no cache)")
	fs.BoolVar(&o.quick, "quick", false, "small preset for smoke tests: fewer steps, iterations and samples")
	o.tf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	switch o.task {
	case "gmm2d":
		if err := o.validateGMM2D(); err != nil {
			return o, usageError{err}
		}
	case "tfbind8":
		if err := o.validateTFBind8(); err != nil {
			return o, usageError{err}
		}
	default:
		return o, usageError{fmt.Errorf("unknown task %q (available: gmm2d, tfbind8)", o.task)}
	}
	switch {
	case o.iters < 0 || o.batch < 1 || o.steps < 1 || o.evalSamples < 2 || o.pretrainIters < 1 || o.width < 1:
		return o, usageError{errors.New("-iters ≥ 0, -batch, -steps, -pretrain-iters, -width ≥ 1 and -eval-samples ≥ 2 are required")}
	case !(o.betaMax >= 0.1) || math.IsInf(o.betaMax, 0):
		return o, usageError{fmt.Errorf("-beta-max must be ≥ β_min = 0.1, got %v", o.betaMax)}
	case !(o.lr > 0):
		return o, usageError{fmt.Errorf("-lr must be > 0, got %v", o.lr)}
	case o.out == "":
		return o, usageError{errors.New("-out must name a directory")}
	}
	return o, nil
}

// validateGMM2D checks the flags of gmm2d: one α, its methods, none of
// tfbind8's flags.
func (o *options) validateGMM2D() error {
	if f := o.tf.given(o.set); f != "" {
		return fmt.Errorf("-%s is a tfbind8 flag (this is -task gmm2d)", f)
	}
	a, err := strconv.ParseFloat(strings.TrimSpace(o.alphaArg), 64)
	if err != nil || !(a > 0) || math.IsInf(a, 0) {
		return fmt.Errorf("-alpha must be a positive number, got %q", o.alphaArg)
	}
	o.alpha = a
	if o.method != "all" {
		if _, err := algos.ParseMethod(o.method); err != nil {
			return err
		}
	}
	return nil
}

func defaultCache() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return dir + "/difftune"
	}
	return ".cache/difftune"
}

// config turns the options into the experiment's configuration.
func (o options) config() algos.GMM2DConfig {
	c := algos.DefaultGMM2DConfig()
	c.Reward, c.Alpha, c.Seed, c.Steps, c.EvalSamples, c.CacheDir = o.reward, o.alpha, o.seed, o.steps, o.evalSamples, o.cache
	c.VP.BetaMax = o.betaMax
	c.Pretrain.Iters, c.Pretrain.Width = o.pretrainIters, o.width
	c.FineTune.Iters, c.FineTune.Batch, c.FineTune.LR, c.FineTune.LRMin = o.iters, o.batch, o.lr, o.lr/10
	if o.method != "all" {
		m, _ := algos.ParseMethod(o.method)
		c.Methods = []algos.Method{m}
	}
	if o.quick {
		c.Pretrain.Iters, c.Pretrain.Batch = min(c.Pretrain.Iters, 600), 512
		c.Steps = min(c.Steps, 25)
		c.FineTune.Iters, c.FineTune.Batch = min(c.FineTune.Iters, 40), min(c.FineTune.Batch, 128)
		c.FineTune.ValuePoints, c.FineTune.ValueRollouts, c.FineTune.ValueIters = 256, 8, 150
		c.FineTune.InitIters = 60
		c.NoKLIters = 20
		c.EvalSamples, c.TargetSamples = min(c.EvalSamples, 500), 2000
	}
	return c
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	b, err := openDevice(o.device, stderr)
	if err != nil {
		return err
	}
	if o.task == "tfbind8" {
		return runTFBind8(o, b, stdout, stderr)
	}
	var res *algos.GMM2DResult
	return runTask(o.out, o.config(), b, stderr, func(cfg algos.GMM2DConfig, h algos.Hooks) (err error) {
		res, err = algos.RunGMM2D(b, cfg, h)
		return err
	}, func(w *runDir) error {
		if err := w.WriteResult(res); err != nil {
			return err
		}
		printSummary(stdout, res.Summary, o.out)
		return nil
	})
}

// runTask opens the output directory for cfg (config.json, metrics.jsonl),
// runs the task with hooks that log there and show progress on stderr, then
// lets write store the results.
func runTask[C any](out string, cfg C, b tensor.Backend, stderr io.Writer, run func(C, algos.Hooks) error, write func(*runDir) error) error {
	w, err := newRunDir(out, cfg, b.Name())
	if err != nil {
		return err
	}
	defer w.Close()
	bars := newProgress(stderr)
	err = run(cfg, algos.Hooks{
		Log:      w.Log,
		Progress: bars.Update,
		Notice:   func(msg string) { bars.Notice(msg) },
	})
	bars.Done()
	if err != nil {
		return err
	}
	return write(w)
}

// openDevice opens the backend asked for; with none asked for, the default
// (cpu, or $DIFFTUNE_DEVICE).
func openDevice(name string, stderr io.Writer) (tensor.Backend, error) {
	if name == "" {
		return tensor.Default()
	}
	b, err := tensor.Open(name)
	if err != nil {
		return nil, fmt.Errorf("-device %s: %w", name, err)
	}
	return b, nil
}

func printSummary(w io.Writer, s algos.Summary, out string) {
	fmt.Fprintf(w, "gmm2d  reward %s  α = %g  β_max = %g\n", s.Reward, s.Alpha, s.BetaMax)
	fmt.Fprintf(w, "exact target: E*[r] = %.4f  KL(p*‖p_data) = %.4f   pre-trained model's target: E[r] = %.4f  KL = %.4f (ESS %.0f)\n",
		float64(s.Exact.Reward), float64(s.Exact.KL), float64(s.Exact.PretrainedTarget), float64(s.Exact.PretrainedTargetKL), float64(s.Exact.ESS))
	fmt.Fprintf(w, "%-11s %10s %10s %10s %10s %10s %8s\n", "method", "reward", "KL", "diversity", "energy-d", "off-supp", "seconds")
	names := []string{"pretrained"}
	for _, m := range algos.Methods {
		names = append(names, string(m))
	}
	for _, n := range names {
		m, ok := s.Methods[n]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "%-11s %10s %10s %10s %10s %10s %8.1f", n, num(m.RewardNominal), num(m.KL), num(m.Diversity),
			num(*m.EnergyDistance), num(*m.OffSupport), float64(m.Seconds))
		if m.PassedTargetAt != nil {
			fmt.Fprintf(w, "  passed E*[r] at iteration %d", *m.PassedTargetAt)
		}
		if m.LeftSupportAt != nil {
			fmt.Fprintf(w, ", left the support at %d", *m.LeftSupportAt)
		}
		if m.DivergedAt != nil {
			fmt.Fprintf(w, ", diverged at %d", *m.DivergedAt)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "wrote %s/{config.json,metrics.jsonl,summary.json,samples_*.npy,scatter_*.png,checkpoints/}\n", strings.TrimRight(out, "/"))
}

func num(n algos.Number) string {
	if !n.Finite() {
		return "null"
	}
	if v := math.Abs(float64(n)); v >= 1e5 {
		return fmt.Sprintf("%.3g", float64(n)) // a diverged method: keep the table aligned
	}
	return fmt.Sprintf("%.4f", float64(n))
}
