package algos

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/difftune/difftune/sde"
)

// Plan is what one run of the runner does on a task: which methods, at which
// α, with which seed, evaluated on how many samples.
type Plan struct {
	// Methods are registered method names in report order.
	Methods []string
	// Alphas are the KL weights: sweep methods run at each, the others at
	// the first. Empty: the task's grid (Task.Alphas).
	Alphas []float64
	Seed   uint64
	// EvalSamples samples evaluate every run; TargetSamples pre-trained
	// samples (≥ EvalSamples) estimate the targets by self-normalized
	// weights.
	EvalSamples, TargetSamples int
	// Recipe configures the methods (Task.Recipe, then the user's changes).
	Recipe Recipe
}

// Validate reports a plan that cannot run.
func (p Plan) Validate() error {
	if len(p.Methods) == 0 {
		return errors.New("no method to run")
	}
	for _, m := range p.Methods {
		if _, err := LookupMethod(m); err != nil {
			return err
		}
	}
	for _, a := range p.Alphas {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("α must be a positive number, got %v", a)
		}
	}
	if err := p.Recipe.Drift.validate(); err != nil {
		return fmt.Errorf("fine-tuning: %w", err)
	}
	if p.EvalSamples < 2 || p.TargetSamples < p.EvalSamples {
		return fmt.Errorf("need eval samples ≥ 2 and target samples ≥ eval samples, got %d and %d", p.EvalSamples, p.TargetSamples)
	}
	return nil
}

// Result is the outcome of Run.
type Result struct {
	Summary Summary
	Task    Task
	// Samples holds the evaluation samples (rows of Pre.Dim) of every run,
	// of "pretrained" and, where the task can draw them, of "exact" (its
	// target at the first α).
	Samples map[string][]float64
	// Fits holds every run's fit, Curves its training batch means.
	Fits   map[string]*Fitted
	Curves map[string][]CurvePoint
	Pre    *Pretrained
}

// RunName is the name of a method's run at α: the method's own at the
// first α of the plan, method_a<α> at the others.
func RunName(method string, alpha, first float64) string {
	if alpha == first {
		return method
	}
	return fmt.Sprintf("%s_a%g", method, alpha)
}

// Run sets the task up, pre-trains (or loads) its model, fits every method
// of the plan at its α, and evaluates each run and the pre-trained model on
// the same number of samples against the targets.
func Run(env Env, task Task, p Plan) (*Result, error) {
	if err := task.Validate(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	env.Seed = p.Seed
	if err := task.Setup(env); err != nil {
		return nil, err
	}
	pre, err := task.Pretrain(env)
	if err != nil {
		return nil, err
	}
	res := &Result{Task: task, Pre: pre, Samples: map[string][]float64{}, Fits: map[string]*Fitted{}, Curves: map[string][]CurvePoint{}}
	b, d := env.Backend, pre.Dim
	sum := Summary{Task: task.Name(), Reward: task.Nominal().String(), Genuine: task.Oracle().String(),
		BetaMax: pre.VP.BetaMax, Seed: p.Seed, Methods: map[string]MethodSummary{}}

	// The pre-trained model: its samples, its spread of r̂, and its own
	// tilted targets by self-normalized weights.
	start := time.Now()
	nPre := max(p.TargetSamples, p.EvalSamples)
	env.Hooks.Noticef("sampling the pre-trained model (%d samples)", nPre)
	preX := pre.Sample(b, nPre, &sde.Streams{Seed: p.Seed + 11})
	preR := task.Nominal().Values(preX)
	preY := task.Oracle().Score(preX)
	spread := Stddev(preR)
	alphas := p.Alphas
	if len(alphas) == 0 {
		alphas = task.Alphas(spread)
		env.Hooks.Noticef("α grid from r̂'s spread %.3g on pre-trained samples: %v", spread, alphas)
	}
	alpha0 := alphas[0]
	sum.Alpha = alpha0
	if es, ok := task.(ExactSampler); ok {
		res.Samples["exact"] = es.ExactSamples(alpha0, p.EvalSamples)
	}
	for _, a := range alphas {
		e, err := target(task, a, preR, preY)
		if err != nil {
			return nil, err
		}
		sum.Targets = append(sum.Targets, Target{Alpha: a, Exact: e})
	}
	sum.Exact = sum.Targets[0].Exact
	for _, t := range sum.Targets {
		if ess := float64(t.Exact.ESS); !(ess >= MinESS) {
			msg := fmt.Sprintf("the pre-trained model's target at α = %g rests on an effective sample size of %.3g (< %g) of %d samples: its numbers are unreliable; raise α", t.Alpha, ess, MinESS, nPre)
			env.Hooks.Noticef("warning: %s", msg)
			if sum.Notes == nil {
				sum.Notes = map[string]string{}
			}
			sum.Notes[fmt.Sprintf("ess_a%g", t.Alpha)] = msg
		}
	}
	if ds, ok := task.(Describer); ok {
		sum.Details = ds.Details(preX)
	}
	evalPre := preX[:p.EvalSamples*d]
	res.Samples["pretrained"] = evalPre
	if env.Hooks.Pretrained != nil {
		env.Hooks.Pretrained(evalPre)
	}
	ms := task.Evaluate(evalPre, nil, alpha0)
	ms.Seconds = Number(time.Since(start).Seconds())
	sum.Methods["pretrained"] = ms
	sum.Runs = append(sum.Runs, RunInfo{Name: "pretrained", Method: "pretrained"})
	preMean := float64(ms.RewardNominal)

	for _, name := range p.Methods {
		spec, _ := LookupMethod(name)
		at := alphas[:1]
		if spec.Sweep {
			at = alphas
		}
		for _, a := range at {
			run := RunInfo{Name: RunName(name, a, alpha0), Method: name, Alpha: a}
			if spec.Unregularized {
				run.Alpha = 0
			}
			exact, _ := sum.TargetAt(a)
			ctx := &Context{Env: env, Task: task, Pre: pre, Run: run.Name, Method: name, Alpha: a, Target: exact,
				Spread: spread, Seed: p.Seed}
			ms, err := fitOrReuse(ctx, run, spec, p, res)
			if err != nil {
				if len(at) > 1 {
					return nil, fmt.Errorf("%s (α = %g): %w", name, a, err)
				}
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if spec.Tilted {
				ms.TargetGainRatio = new(Number((float64(ms.RewardNominal) - preMean) / (float64(exact.PretrainedTarget) - preMean)))
				ms.TargetKLRatio = new(Number(float64(ms.KL) / float64(exact.PretrainedTargetKL)))
			}
			sum.Methods[run.Name] = ms
			sum.Runs = append(sum.Runs, run)
		}
	}
	summarizeOnline(&sum, res, p)
	res.Summary = sum
	return res, nil
}

// MinESS is the effective sample size below which the runner warns that the
// pre-trained model's target is unreliable.
const MinESS = 10.0

// fitOrReuse returns the run saved by an earlier invocation (Env.Runs), or
// fits and evaluates it and saves it.
func fitOrReuse(ctx *Context, run RunInfo, spec MethodSpec, p Plan, res *Result) (MethodSummary, error) {
	env := ctx.Env
	if env.Runs == nil {
		return fitAndEvaluate(ctx, spec, p, res)
	}
	if saved, ok := env.Runs.Load(run); ok && len(saved.Samples) == p.EvalSamples*ctx.Pre.Dim {
		env.Hooks.Noticef("reusing the finished run %s", run.Name)
		res.Samples[run.Name], res.Curves[run.Name] = saved.Samples, saved.Curve
		return saved.Summary, nil
	}
	ms, err := fitAndEvaluate(ctx, spec, p, res)
	if err != nil {
		return ms, err
	}
	saved := SavedRun{Summary: ms, Samples: res.Samples[run.Name], Curve: res.Curves[run.Name]}
	if err := env.Runs.Save(run, saved, res.Fits[run.Name]); err != nil {
		return ms, fmt.Errorf("saving the finished run: %w", err)
	}
	return ms, nil
}

// fitAndEvaluate fits one run, samples it and evaluates it, recording its
// training curve and when its batch reward passed the target or left the
// support.
func fitAndEvaluate(ctx *Context, spec MethodSpec, p Plan, res *Result) (MethodSummary, error) {
	env := ctx.Env
	env.Hooks.Noticef("fine-tuning: %s", ctx.Run)
	var curve []CurvePoint
	var passedAt, leftAt *int
	sink := env.Hooks.Log
	ctx.Hooks.Log = func(e Event) {
		if sink != nil {
			sink(e)
		}
		if e.Phase != "drift" && e.Phase != "ppo" {
			return
		}
		genuine, ok := e.Extra["genuine"]
		if !ok {
			genuine = Number(math.NaN())
		}
		curve = append(curve, CurvePoint{Iter: e.Iter, Nominal: float64(e.Reward), Genuine: float64(genuine)})
		if e.Phase != "drift" {
			return
		}
		it := e.Iter
		if passedAt == nil && e.Reward.Finite() && e.Reward > ctx.Target.Reward {
			passedAt = &it
		}
		if off, ok := e.Extra["off_support"]; ok && leftAt == nil && off > 0.5 {
			leftAt = &it
		}
	}
	env.Hooks.Aim(ctx.Task.Nominal(), ctx.Alpha)
	ctx.start = time.Now()
	before := ctx.Task.Oracle().Queries()
	fit, err := spec.New(p.Recipe).Fit(ctx)
	if err != nil {
		return MethodSummary{}, err
	}
	seconds := time.Since(ctx.start).Seconds()
	env.Hooks.Noticef("sampling %s (%d samples)", ctx.Run, p.EvalSamples)
	x, klInit, klDrift := fit.Sampler.Sample(env.Backend, p.EvalSamples, &sde.Streams{Seed: p.Seed + 13})
	kl := make([]float64, len(klInit))
	for i := range kl {
		kl[i] = klInit[i] + klDrift[i]
	}
	ms := ctx.Task.Evaluate(x, kl, ctx.Alpha)
	ms.Seconds = Number(seconds)
	ms.Queries = ctx.Task.Oracle().Queries() - before
	if len(fit.QueryCurve) > 0 {
		passedAt = nil // an online method's batches are scored by its own reward models, not by r̂
	}
	ms.PassedTargetAt, ms.LeftSupportAt = passedAt, leftAt
	if fit.Setting != "" {
		ms.Note("setting", fit.Setting)
	}
	for _, q := range fit.QueryCurve {
		ms.Curve = append(ms.Curve, [2]Number{Number(q.Queries), Number(q.Genuine)})
	}
	if fit.DivergedAt >= 0 {
		ms.DivergedAt = new(fit.DivergedAt)
		ms.Note("diverged", fmt.Sprintf("the loss stopped being finite at iteration %d; evaluated with the last finite parameters", fit.DivergedAt))
	}
	res.Samples[ctx.Run] = x
	res.Fits[ctx.Run] = fit
	res.Curves[ctx.Run] = curve
	return ms, nil
}

// target is the tilted target at α: exactly where the task knows it (NaN
// elsewhere), and
// for the pre-trained model by self-normalized weights exp(r̂/α) on its
// samples, whose nominal and genuine rewards are rhat and y.
func target(task Task, alpha float64, rhat, y []float64) (Exact, error) {
	// A task without an exact target has none: null in summary.json.
	e := Exact{Reward: Number(math.NaN()), KL: Number(math.NaN())}
	if et, ok := task.(ExactTargeter); ok {
		var err error
		if e, err = et.ExactTarget(alpha); err != nil {
			return Exact{}, err
		}
	}
	tr, tkl, ess, w := SelfNormalizedTilt(rhat, alpha)
	var ty float64
	for j, wj := range w {
		ty += wj * y[j]
	}
	e.PretrainedTarget, e.PretrainedTargetKL, e.ESS, e.PretrainedTargetGenuine = Number(tr), Number(tkl), Number(ess), new(Number(ty))
	return e, nil
}
