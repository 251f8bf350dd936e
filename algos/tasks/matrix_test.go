package tasks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/tensor"

	// The Vulkan backend registers itself as "vulkan".
	_ "github.com/difftune/difftune/shaders"
)

// tinySteps is the Euler–Maruyama steps of a rollout of the tiny presets
// (the most), tinyEval their evaluation samples (the most).
const tinySteps, tinyEval = 6, 64

// tinyTask returns a registered task made quick, with the presets of the
// real tasks shrunk to a pre-training of seconds. Any other task (one
// registered by a test, gauss3d) runs as its quick preset, which must then
// be tiny itself: adding a task to the matrix is its registration alone.
func tinyTask(t *testing.T, name string) algos.Task {
	t.Helper()
	spec, err := algos.LookupTask(name)
	if err != nil {
		t.Fatal(err)
	}
	task := spec.New(true)
	var d *algos.Diffusion
	switch tk := task.(type) {
	case *tasks.GMM2D:
		d = &tk.Diffusion
	case *tasks.TFBind8:
		d = &tk.Diffusion
		tk.Reward.Iters = min(tk.Reward.Iters, 30)
	case *tasks.FMNIST:
		d = &tk.Diffusion
		tk.TestImages = 100 // the classifiers' accuracy and Fréchet statistics
	}
	if d != nil {
		d.Pretrain.Iters, d.Steps = min(d.Pretrain.Iters, 30), min(d.Steps, tinySteps)
	}
	return task
}

// tinyPlan is the task's default plan, running method m, with its sizes
// shrunk (never grown) to seconds.
func tinyPlan(task algos.Task, m string) algos.Plan {
	p := task.Defaults()
	p.Methods = []string{m}
	p.EvalSamples, p.TargetSamples = min(p.EvalSamples, tinyEval), min(p.TargetSamples, 128)
	r := &p.Recipe
	r.Drift.Iters, r.Drift.Batch = min(r.Drift.Iters, 3), min(r.Drift.Batch, 16)
	r.BaselineIters = min(r.BaselineIters, 3)
	r.Value.Points, r.Value.Rollouts, r.Value.Iters = min(r.Value.Points, 16), min(r.Value.Rollouts, 2), min(r.Value.Iters, 5)
	r.Initial.Iters, r.Initial.Batch = min(r.Initial.Iters, 3), min(r.Initial.Batch, 16)
	r.Guidance.Iters, r.Guidance.Batch = min(r.Guidance.Iters, 5), min(r.Guidance.Batch, 32)
	r.PPO.Iters, r.PPO.Batch, r.PPO.Minibatch = min(r.PPO.Iters, 2), min(r.PPO.Batch, 16), min(r.PPO.Minibatch, 64)
	r.TruncK = min(r.TruncK, tinySteps)
	s := &r.SEIKO
	if len(s.Schedule) == 0 {
		*s = algos.DefaultSEIKOOptions() // a task without SEIKO settings
	}
	s.Schedule, s.Iters, s.Model.Iters = []int{8, 8}, min(s.Iters, 2), min(s.Model.Iters, 5)
	s.Heads, s.CurveSamples = min(s.Heads, 2), min(s.CurveSamples, 16)
	r.Bilevel = algos.DefaultBilevelOptions()
	r.Bilevel.Samples, r.Bilevel.Pool, r.Bilevel.Steps, r.Bilevel.EvalSamples = 8, 64, 3, 16
	return p
}

// TestMatrix runs every registered method on every registered task, on a
// tiny preset, on the CPU and on Vulkan (which must open in CI, CI=true),
// and checks what the runner returns. The pre-trained models (and
// tfbind8's r̂) are cached once for all.
func TestMatrix(t *testing.T) {
	cache := t.TempDir()
	t.Run("cpu", func(t *testing.T) { runMatrix(t, tensor.CPU(), cache) })
	t.Run("vulkan", func(t *testing.T) {
		vk, err := tensor.Open("vulkan")
		switch {
		case err == nil:
		case os.Getenv("CI") == "true":
			t.Fatalf("no Vulkan device in CI: %v", err)
		default:
			t.Skipf("no Vulkan device: %v", err)
		}
		runMatrix(t, vk, cache)
	})
}

func runMatrix(t *testing.T, b tensor.Backend, cache string) {
	start := time.Now()
	defer func() { t.Logf("%s: %.1fs", b.Name(), time.Since(start).Seconds()) }()
	if len(algos.TaskNames()) == 0 || len(algos.MethodNames()) == 0 {
		t.Fatalf("tasks %v, methods %v: nothing registered", algos.TaskNames(), algos.MethodNames())
	}
	for _, taskName := range algos.TaskNames() {
		for _, m := range matrixMethods(b, taskName) {
			t.Run(taskName+"/"+m, func(t *testing.T) {
				spec, err := algos.LookupMethod(m)
				if err != nil {
					t.Fatal(err)
				}
				task := tinyTask(t, taskName)
				var notices, aims []string
				env := algos.Env{Backend: b, Cache: cache, Hooks: algos.Hooks{Notice: func(s string) { notices = append(notices, s) },
					Target: func(r algos.Reward, alpha float64) { aims = append(aims, fmt.Sprintf("%s at %g", r, alpha)) }}}
				defer func() {
					if t.Failed() {
						t.Logf("notices:\n  %s", strings.Join(notices, "\n  "))
					}
				}()
				p := tinyPlan(task, m)
				res, err := algos.Run(env, task, p)
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, res, spec, p.EvalSamples)
				// Each fit told the hooks its target: the task's r̂ at the
				// run's α (and the bilevel tuner then its r₂ at λ_final).
				var want []string
				for _, r := range res.Summary.Runs[1:] {
					a := r.Alpha
					if a == 0 { // an unregularized run fits at the plan's first α
						a = res.Summary.Alpha
					}
					want = append(want, fmt.Sprintf("%s at %g", task.Nominal(), a))
					if r.Method == "bilevel" && len(aims) > len(want) {
						want = append(want, aims[len(want)]) // λ_final is the tuner's
					}
				}
				if !slices.Equal(aims, want) {
					t.Errorf("the fits aimed at %q, want %q", aims, want)
				}
			})
		}
	}
}

// matrixMethods is the methods the matrix runs on a task: all of them,
// except for the image task off the CPU, where a pathwise method (elegant)
// and a guided one (rcgdm) stand for the rest: on lavapipe a UNet run
// takes about a minute, every method would take most of CI's time; the
// CPU covers every method on images, and TestFMNISTVulkanMatchesCPU the
// parity.
func matrixMethods(b tensor.Backend, task string) []string {
	if task != "fmnist" || b.Name() == tensor.CPU().Name() {
		return algos.MethodNames()
	}
	return []string{"elegant", "rcgdm"}
}

// checkResult checks the result of a run of one method: its summary as
// strict JSON, its core metrics, its samples and its fit.
func checkResult(t *testing.T, res *algos.Result, spec algos.MethodSpec, evalSamples int) {
	t.Helper()
	run := spec.Name
	sum := res.Summary
	raw, err := json.Marshal(sum)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	for _, tok := range []string{"NaN", "Infinity"} {
		if bytes.Contains(raw, []byte(tok)) {
			t.Errorf("summary holds %s: %s", tok, raw)
		}
	}
	if !json.Valid(raw) {
		t.Fatalf("summary is not valid JSON: %s", raw)
	}
	var back algos.Summary
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("summary does not parse back: %v", err)
	}
	if _, ok := back.Methods[run]; !ok {
		t.Errorf("parsed summary lacks %s", run)
	}
	for _, name := range []string{"pretrained", run} {
		if _, ok := sum.Run(name); !ok {
			t.Errorf("summary lists no run %s: %+v", name, sum.Runs)
		}
		ms, ok := sum.Methods[name]
		if !ok {
			t.Errorf("summary has no evaluation of %s", name)
			continue
		}
		var bad []string
		for _, key := range []string{"reward_nominal", "reward_genuine", "kl", "diversity"} {
			if v, ok := ms.Metric(key); !ok || !v.Finite() {
				bad = append(bad, key)
			}
		}
		switch {
		case ms.DivergedAt != nil && (name == "pretrained" || !spec.Unregularized):
			t.Errorf("%s diverged at iteration %d (allowed only for the unregularized baselines)", name, *ms.DivergedAt)
		case ms.DivergedAt != nil:
			t.Logf("%s diverged at iteration %d; not finite: %v", name, *ms.DivergedAt, bad)
		case len(bad) > 0:
			t.Errorf("%s: %v not finite and no divergence recorded: %+v", name, bad, ms)
		}
		if x := res.Samples[name]; len(x) != evalSamples*res.Pre.Dim {
			t.Errorf("%s: %d sample values, want %d × %d", name, len(x), evalSamples, res.Pre.Dim)
		}
	}
	if fit := res.Fits[run]; fit == nil || fit.Sampler == nil {
		t.Errorf("no sampler for %s: %+v", run, fit)
	}
}

// TestMatrixUnknownMethod checks that a plan naming an unknown method is
// refused before any work: nothing reported, nothing cached.
func TestMatrixUnknownMethod(t *testing.T) {
	for _, taskName := range algos.TaskNames() {
		t.Run(taskName, func(t *testing.T) {
			cache := t.TempDir()
			task := tinyTask(t, taskName)
			p := tinyPlan(task, "elegant")
			p.Methods = append(p.Methods, "no-such-method")
			var heard []string
			hooks := algos.Hooks{
				Log:      func(e algos.Event) { heard = append(heard, "log "+e.Phase) },
				Progress: func(phase string, _, _ int) { heard = append(heard, "progress "+phase) },
				Notice:   func(s string) { heard = append(heard, s) },
			}
			res, err := algos.Run(algos.Env{Backend: tensor.CPU(), Cache: cache, Hooks: hooks}, task, p)
			if err == nil || !strings.Contains(err.Error(), "no-such-method") {
				t.Fatalf("unknown method: result %v, error %v", res != nil, err)
			}
			if len(heard) > 0 {
				t.Errorf("work before the error: %q", heard)
			}
			if entries, _ := os.ReadDir(cache); len(entries) > 0 {
				t.Errorf("%d files cached before the error", len(entries))
			}
		})
	}
}

// TestMatrixPlanValidate checks that Plan.Validate accepts each task's
// default plan and refuses a zero α, an infinite learning rate and a single
// evaluation sample.
func TestMatrixPlanValidate(t *testing.T) {
	for _, taskName := range algos.TaskNames() {
		t.Run(taskName, func(t *testing.T) {
			task := tinyTask(t, taskName)
			if err := task.Defaults().Validate(); err != nil {
				t.Fatalf("default plan: %v", err)
			}
			for name, change := range map[string]func(p *algos.Plan){
				"zero α":         func(p *algos.Plan) { p.Alphas = []float64{0} },
				"infinite lr":    func(p *algos.Plan) { p.Recipe.Drift.LR = math.Inf(1) },
				"1 eval sample":  func(p *algos.Plan) { p.EvalSamples = 1 },
				"no method":      func(p *algos.Plan) { p.Methods = nil },
				"unknown method": func(p *algos.Plan) { p.Methods = []string{"no-such-method"} },
			} {
				p := task.Defaults()
				change(&p)
				if err := p.Validate(); err == nil {
					t.Errorf("%s accepted", name)
				}
			}
		})
	}
}
