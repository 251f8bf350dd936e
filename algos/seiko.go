package algos

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/difftune/difftune/sde"
)

// The SEIKO variants (ALGORITHMS.md §2), one registration each.
func init() {
	for _, v := range []struct{ variant, doc string }{
		{"nonadaptive", "the whole budget in one round of pre-trained samples, then one fine-tuning toward r̂"},
		{"greedy", "rounds of queries from the current model, fine-tuning toward r̂ (ĝ = 0)"},
		{"ucb", "rounds, fine-tuning toward r̂ + C₁·min(C₂, √(φᵀΣ⁻¹φ)), Σ the Gram matrix of the features"},
		{"bootstrap", "rounds, fine-tuning toward the max over bootstrap heads"},
		{"ts", "rounds, fine-tuning toward one bootstrap head drawn at random (Thompson sampling)"},
		{"mss", "continuous SEIKO: bootstrap's reward, the control as impulses at the K times where one is worth most (or of largest ensemble spread)"},
	} {
		RegisterMethod(MethodSpec{Name: "seiko-" + v.variant,
			Doc: "SEIKO " + v.variant + ": " + v.doc + "; KL α to the pre-trained and β to the previous round's model (ALGORITHMS.md §2)",
			New: func(r Recipe) Method {
				return &Seiko{Variant: v.variant, Options: r.SEIKO, Drift: r.Drift, InitSteps: r.Initial.Steps}
			}})
	}
}

// SEIKOVariants are the variants in report order.
var SEIKOVariants = []string{"nonadaptive", "greedy", "ucb", "bootstrap", "ts", "mss"}

// SEIKOOptions set the online methods: the query rounds, the oracle's
// noise, the reward model and the fine-tuning of each round.
type SEIKOOptions struct {
	// Schedule is the batch B_i of queries of each round; Budget caps their
	// sum (0: the sum), the last rounds shrunk or dropped to fit.
	Schedule []int
	Budget   int
	// Beta is the weight of the KL to the previous round's model (< 0: α).
	Beta float64
	// Noise is the standard deviation of the oracle's observation noise.
	Noise float64
	// Iters is the fine-tuning iterations of a round (Drift's batch and
	// learning rates); Non-adaptive's one round gets Iters × rounds.
	Iters int
	Model RegressorOptions
	// Heads is the number of bootstrap heads (bootstrap, ts).
	Heads int
	// C1 (< 0: the standard deviation of the first round's answers) and C2
	// set the UCB bonus.
	C1, C2 float64
	// K is the number of impulses of continuous SEIKO (mss); K ≥ the grid's
	// steps is the full drift, bootstrap's fit. Select chooses their times
	// (impulseTimes): "value" or "" (largest first-order worth of an impulse
	// to the optimistic reward), "spread" (seed 003's measurement selection
	// as written: largest ensemble spread on x̂₀) or "last" (the K last
	// steps, a baseline).
	K      int
	Select string `json:",omitempty"`
	// CurveSamples samples of each round's model score the curve (uncounted
	// evaluation, never seen by the method).
	CurveSamples int
	// QueryLog, if set, is a directory where each run logs its queries to
	// queries_<run>.jsonl (queries_<run>_seed<N>.jsonl with QueryLogSeed),
	// started afresh by every fit.
	QueryLog     string `json:",omitempty"`
	QueryLogSeed bool   `json:",omitempty"`
}

// DefaultSEIKOOptions are the settings of a task that gives none: the
// authors' schedule halved (256 … 2048 queries), β = α, noise 0.1, 40
// fine-tuning iterations a round, a 64 → 16 reward MLP, 4 heads, C₁ = the
// spread of the first answers, C₂ = 1, K = 5 impulses.
func DefaultSEIKOOptions() SEIKOOptions {
	return SEIKOOptions{Schedule: []int{256, 512, 1024, 2048}, Beta: -1, Noise: 0.1, Iters: 40, Heads: 4, C1: -1, C2: 1, K: 5, CurveSamples: 1000,
		Model: RegressorOptions{Width: 64, Features: 16, Iters: 300, LR: 1e-2, WeightDecay: 1e-4, Lambda: 1e-3}}
}

func (o SEIKOOptions) validate() error {
	if len(o.Schedule) == 0 {
		return errors.New("SEIKO needs a batch schedule")
	}
	for _, b := range o.Schedule {
		if b < 2 {
			return fmt.Errorf("SEIKO: every round needs ≥ 2 queries, got schedule %v", o.Schedule)
		}
	}
	switch {
	case o.Budget < 0:
		return fmt.Errorf("SEIKO: budget %d", o.Budget)
	case !(o.Noise >= 0) || math.IsInf(o.Noise, 0):
		return fmt.Errorf("SEIKO: noise must be a finite number ≥ 0, got %v", o.Noise)
	case math.IsNaN(o.Beta) || math.IsInf(o.Beta, 0):
		return fmt.Errorf("SEIKO: β must be finite, got %v", o.Beta)
	case o.Iters < 0 || o.Heads < 1 || o.CurveSamples < 2 || o.K < 1:
		return fmt.Errorf("SEIKO needs iters ≥ 0, heads ≥ 1, curve samples ≥ 2 and K ≥ 1, got %d, %d, %d, %d", o.Iters, o.Heads, o.CurveSamples, o.K)
	case o.Select != "" && o.Select != "spread" && o.Select != "value" && o.Select != "last":
		return fmt.Errorf("SEIKO: impulse times are selected by spread, value or last, got %q", o.Select)
	case math.IsNaN(o.C1) || math.IsInf(o.C1, 0) || !(o.C2 > 0):
		return fmt.Errorf("SEIKO: need a finite C1 and C2 > 0, got %v, %v", o.C1, o.C2)
	}
	return o.Model.validate()
}

// Rounds is the batch of every round within the budget.
func (o SEIKOOptions) Rounds() []int {
	budget := o.Budget
	if budget == 0 {
		for _, b := range o.Schedule {
			budget += b
		}
	}
	var out []int
	spent := 0
	for _, b := range o.Schedule {
		b = min(b, budget-spent)
		if b < 2 {
			break
		}
		out = append(out, b)
		spent += b
	}
	return out
}

// Seiko is one SEIKO variant (ALGORITHMS.md §2): each round draws B_i
// samples of the current model, queries their genuine reward through the
// task's oracle (counted against the budget), refits the reward model on
// every answer so far and fine-tunes toward r̂ + ĝ by the pathwise
// gradient, with KL α to the pre-trained model and β to the previous
// round's, whose control warm-starts the new one.
type Seiko struct {
	Variant   string
	Options   SEIKOOptions
	Drift     DriftOptions
	InitSteps int
}

// Fit implements Method.
func (m *Seiko) Fit(ctx *Context) (*Fitted, error) {
	o := m.Options
	if len(o.Schedule) == 0 && o.Iters == 0 && o.Heads == 0 {
		o = DefaultSEIKOOptions() // a task without SEIKO settings
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := m.Drift.validate(); err != nil {
		return nil, err
	}
	if !(ctx.Alpha > 0) {
		return nil, fmt.Errorf("alpha must be > 0 for %s, got %v", ctx.Method, ctx.Alpha)
	}
	rounds := o.Rounds()
	if len(rounds) == 0 {
		return nil, fmt.Errorf("%s: a budget of %d queries leaves no round", ctx.Method, o.Budget)
	}
	iters := o.Iters
	if m.Variant == "nonadaptive" {
		total := 0
		for _, b := range rounds {
			total += b
		}
		rounds, iters = []int{total}, o.Iters*len(rounds)
	}
	alpha, beta := ctx.Alpha, o.Beta
	if beta < 0 {
		beta = alpha
	}
	c1 := o.C1
	// The oracle: this run's budget on top of what was spent before, its
	// noise and its log; restored afterwards.
	oracle := ctx.Task.Oracle()
	start, budget := oracle.Queries(), 0
	for _, b := range rounds {
		budget += b
	}
	oldBudget := oracle.Budget()
	oracle.SetBudget(start + budget)
	oracle.SetNoise(o.Noise, ctx.Seed^0x0b5e)
	defer func() {
		oracle.SetBudget(oldBudget)
		oracle.SetNoise(0, 0)
		oracle.SetLog(nil)
		oracle.SetTag(QueryTag{})
	}()
	if o.QueryLog != "" {
		// A log left by a stopped invocation of this run is replayed: its
		// queries are answered from it, and the log is continued.
		name := "queries_" + ctx.Run
		if o.QueryLogSeed {
			name += fmt.Sprintf("_seed%d", ctx.Seed)
		}
		path := filepath.Join(o.QueryLog, name+".jsonl")
		recs, err := ReadQueryLog(path)
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		oracle.SetLog(f)
		oracle.SetReplay(recs)
		defer oracle.SetReplay(nil)
		if len(recs) > 0 {
			ctx.Hooks.Noticef("%s: replaying %d queries from %s", ctx.Run, len(recs), path)
		}
	}
	b, pre, d := ctx.Backend, ctx.Pre, ctx.Pre.Dim
	drift := m.Drift
	drift.Iters = iters
	ft, init, rng := newFineTuned(ctx, m.InitSteps)
	sampleRng := &sde.Streams{Seed: ctx.Seed ^ 0x5e1c0}
	evalRng := &sde.Streams{Seed: ctx.Seed ^ 0xc0ffee}
	mssRng := &sde.Streams{Seed: ctx.Seed ^ 0x3a55}
	curveAt := func(spent int) QueryPoint {
		x, _, _ := ft.Sample(b, o.CurveSamples, evalRng)
		return QueryPoint{Queries: spent, Genuine: Mean(oracle.Score(x))}
	}
	fit := &Fitted{DivergedAt: -1}
	fit.QueryCurve = append(fit.QueryCurve, curveAt(0))
	var xs, ys []float64
	var prev Net
	var settings []string
	spent := 0
	for i, bi := range rounds {
		x, _, _ := ft.Sample(b, bi, sampleRng)
		oracle.SetTag(QueryTag{Round: i + 1, Variant: ctx.Run})
		y, err := oracle.Query(x, d)
		if err != nil {
			return nil, fmt.Errorf("%s round %d: %w", ctx.Method, i+1, err)
		}
		spent += bi
		xs, ys = append(xs, x...), append(ys, y...)
		if c1 < 0 {
			c1 = Stddev(y)
		}
		reward, desc, err := m.rewardModel(ctx, xs, ys, d, i, c1)
		if err != nil {
			return nil, fmt.Errorf("%s round %d: %w", ctx.Method, i+1, err)
		}
		round := *ctx
		round.Round = i + 1
		fitCtx := &round
		if m.Variant == "mss" {
			at, note := impulseTimes(b, ft, reward, o.K, o.Select, drift.Batch, mssRng)
			if fitCtx, err = impulseContext(fitCtx, at); err != nil {
				return nil, err
			}
			desc += fmt.Sprintf(", impulses at s = %s%s", describeTimes(at), note)
		}
		settings = append(settings, desc)
		goal := driftGoal{Reward: reward, Alpha: alpha + beta, ColdControl: true}
		if prev != nil {
			goal = driftGoal{Reward: reward, Alpha: alpha, Beta: beta, Ref: prev, Warm: prev, ColdControl: true}
		}
		next := &FineTuned{Pre: pre, Init: ft.Init, DivergedAt: -1}
		if err := next.fitDriftGoal(fitCtx, goal, drift, fullBackprop, init, rng); err != nil {
			return nil, err
		}
		ft = next
		if ft.DivergedAt >= 0 && fit.DivergedAt < 0 {
			fit.DivergedAt = ft.DivergedAt
		}
		prev = ft.Control
		pt := curveAt(spent)
		fit.QueryCurve = append(fit.QueryCurve, pt)
		ctx.Log(Event{Phase: "seiko", Iter: i, Reward: Number(Mean(reward.Values(x))),
			Extra: map[string]Number{"queries": Number(spent), "genuine": Number(pt.Genuine), "answers_mean": Number(Mean(y))}}, 0)
		ctx.Tick("rounds", i+1, len(rounds))
	}
	replayed := ""
	if done, held := oracle.Replayed(); held > 0 {
		if done < held {
			return nil, fmt.Errorf("%s: the query log holds %d queries, the run asked %d: it is the log of another run", ctx.Method, held, done)
		}
		replayed = fmt.Sprintf("; %d queries replayed from the log", done)
	}
	out := ft.fitted()
	out.DivergedAt, out.QueryCurve = fit.DivergedAt, fit.QueryCurve
	out.Setting = fmt.Sprintf("%s: rounds %v, α %g, β %g, noise %g; %s%s", m.Variant, rounds, alpha, beta, o.Noise, strings.Join(settings, "; "), replayed)
	return out, nil
}

// rewardModel fits the round's reward model on the answers so far and
// returns the reward to fine-tune toward, r̂ + ĝ, with a description.
func (m *Seiko) rewardModel(ctx *Context, x, y []float64, d, round int, c1 float64) (Reward, string, error) {
	o := m.Options
	seed := ctx.Seed ^ uint64(0xfeed00+round)
	switch m.Variant {
	case "nonadaptive", "greedy":
		r, err := FitRegressor(ctx.Backend, x, d, y, o.Model, seed)
		return r, "r̂", err
	case "ucb":
		r, err := FitRegressor(ctx.Backend, x, d, y, o.Model, seed)
		if err != nil {
			return nil, "", err
		}
		g, err := NewUCBBonus(ctx.Backend, d, r.Features, r.FeatureValues(x, d), o.Model.Features, o.Model.Lambda, c1, o.C2)
		if err != nil {
			return nil, "", err
		}
		return SumReward{r, g}, fmt.Sprintf("r̂ + UCB (C1 %.3g, mean bonus %.3g)", c1, Mean(g.Values(x))), nil
	case "bootstrap", "ts", "mss":
		e, err := FitEnsemble(ctx.Backend, x, d, y, o.Heads, o.Model, seed)
		if err != nil {
			return nil, "", err
		}
		if m.Variant != "ts" {
			return e, fmt.Sprintf("max of %d heads (mean sd %.3g)", o.Heads, Mean(e.StdValues(x))), nil
		}
		k, h := e.Draw(ctx.Seed, round)
		return h, fmt.Sprintf("head %d of %d", k, o.Heads), nil
	}
	return nil, "", fmt.Errorf("unknown SEIKO variant %q", m.Variant)
}

// OnlineTask is a task with a setting of its own for online methods (SEIKO):
// seiko-train calls UseOnline after parsing its flags, with the names of the
// flags given, which the task leaves as they are.
type OnlineTask interface {
	UseOnline(set map[string]bool)
}

// summarizeOnline fills the summary's restatement of its online runs (those
// with a query curve) by variant, with the genuine reward of the top 10 % of
// each run's evaluation samples.
func summarizeOnline(sum *Summary, res *Result, p Plan) {
	oracle := res.Task.Oracle()
	for _, r := range sum.Runs {
		ms := sum.Methods[r.Name]
		if len(ms.Curve) == 0 {
			continue
		}
		if sum.Variants == nil {
			sum.Variants = map[string]VariantSummary{}
			for _, b := range p.Recipe.SEIKO.Rounds() {
				sum.Budget += b
			}
			pre := res.Samples["pretrained"]
			sum.Pretrained = &PretrainedSummary{RewardGenuine: sum.Methods["pretrained"].RewardGenuine,
				RewardGenuineTop10: Number(TopMean(oracle.Score(pre), 0.1))}
		}
		sum.Variants[strings.TrimPrefix(r.Name, "seiko-")] = VariantSummary{Queries: ms.Queries, RewardGenuine: ms.RewardGenuine,
			RewardGenuineTop10: Number(TopMean(oracle.Score(res.Samples[r.Name]), 0.1)), KL: ms.KL, Diversity: ms.Diversity, Curve: ms.Curve}
	}
}
