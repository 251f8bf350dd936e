package algos

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// DriftOptions set the training of a control drift u_φ by the pathwise
// gradient (ELEGANT's step 3 and the baselines without KL): Iters batches
// of Batch rollouts, Adam cosine-decayed from LR to LRMin.
type DriftOptions struct {
	Iters, Batch int
	LR, LRMin    float64
	ClipNorm     float64 // 0: no clipping
	Segment      int     // gradient-checkpointing segment in steps (0: keep all)
}

func (o DriftOptions) validate() error {
	if o.Iters < 0 || o.Batch < 1 || !finitePositive(o.LR) || !(o.LRMin >= 0 && o.LRMin <= o.LR) || !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0) || o.Segment < 0 {
		return fmt.Errorf("need iters ≥ 0, batch ≥ 1, a finite lr > 0, 0 ≤ lr-min ≤ lr, finite clip ≥ 0 and segment ≥ 0, got %+v", o)
	}
	return nil
}

// newFineTuned starts a pathwise fit: the sampler (initial law N(0, I) over
// initSteps steps, no control yet), its networks' initializer and its noise
// streams, all seeded by the run.
func newFineTuned(ctx *Context, initSteps int) (*FineTuned, *nn.Init, *sde.Streams) {
	ft := &FineTuned{Pre: ctx.Pre, Init: sde.InitialLaw{Steps: max(initSteps, 1)}, DivergedAt: -1}
	init := &nn.Init{Backend: ctx.Backend, DType: tensor.Float32, Seed: ctx.Seed ^ 0x5eed}
	return ft, init, &sde.Streams{Seed: ctx.Seed}
}

// newControl builds the drift network of a run whose KL weight is alpha:
// the task's, or an MLP shaped like a TimeMLP ε_θ (its hidden widths and
// time embedding) with a zero last layer.
func newControl(ctx *Context, alpha float64, init *nn.Init) (Net, error) {
	pre := ctx.Pre
	if f := ctx.Task.NewControl(alpha); f != nil {
		return f(init, pre.Dim), nil
	}
	eps, ok := pre.Eps.(*nn.TimeMLP)
	if !ok {
		return nil, fmt.Errorf("%s: the pre-trained network is a %T: the task must give a control (Task.NewControl)", ctx.Method, pre.Eps)
	}
	hidden := make([]int, len(eps.Net.Layers)-1)
	for i := range hidden {
		hidden[i] = eps.Net.Layers[i].Out()
	}
	ctrl := nn.NewTimeMLP(init, pre.Dim, eps.EmbDim, pre.Dim, tensor.ActSiLU, hidden...)
	ctrl.Net.ZeroLastLayer()
	return ctrl, nil
}

// fullBackprop is the DetachBefore of a rollout whose gradient flows through
// every step.
func fullBackprop() int { return 0 }

// fitDrift is step 3: minimize E[−r̂(x_T) + α·Σ_k ‖u_φ‖²/(2σ²)·Δt] over the
// control network by the pathwise gradient through the rollout (its steps
// from detach() on, drawn per batch), from x₀ drawn from the initial law
// (ALGORITHMS.md §1). A non-finite loss (NO KL diverges) stops the training
// with the last finite parameters kept.
func (ft *FineTuned) fitDrift(ctx *Context, alpha float64, o DriftOptions, detach func() int, init *nn.Init, rng *sde.Streams) error {
	return ft.fitDriftGoal(ctx, driftGoal{Alpha: alpha}, o, detach, init, rng)
}

// driftGoal is what a pathwise fit maximizes:
// E[R(x_T)] − α·KL(P^u ‖ P^pre) − β·KL(P^u ‖ P^ref) (ALGORITHMS.md §1, §2),
// both path KLs, the second against the process with drift f_pre + u_ref.
type driftGoal struct {
	// Reward is R (nil: the task's nominal r̂).
	Reward Reward
	Alpha  float64
	// Beta weighs the KL to Ref; without Ref it is not used.
	Beta float64
	Ref  Net
	// Warm, if set, is a control of the same architecture whose parameters
	// start the new control (the previous round's, in SEIKO).
	Warm Net
	// ColdControl builds the control as for a run without KL (the task's
	// control started at zero, not at its warm start toward r̂).
	ColdControl bool
}

// fitDriftGoal is fitDrift toward a driftGoal; with the zero goal but α it
// is exactly fitDrift.
func (ft *FineTuned) fitDriftGoal(ctx *Context, g driftGoal, o DriftOptions, detach func() int, init *nn.Init, rng *sde.Streams) error {
	pre := ft.Pre
	alpha := g.Alpha
	ctrlAlpha := alpha
	if g.ColdControl {
		ctrlAlpha = 0
	}
	ctrl, err := newControl(ctx, ctrlAlpha, init)
	if err != nil {
		return err
	}
	params := nn.Vars(ctrl)
	if g.Warm != nil {
		warm := nn.CloneValues(nn.Vars(g.Warm))
		if len(warm) != len(params) {
			return fmt.Errorf("%s: warm start from a control with %d parameters, want %d", ctx.Method, len(warm), len(params))
		}
		for i, p := range params {
			p.Value = warm[i]
		}
	}
	ft.Control = ctrl
	reward := g.Reward
	if reward == nil {
		reward = ctx.Task.Nominal()
	}
	defer nn.SetTrainable(ctrl, false)
	opt := nn.NewAdam(params, nn.CosineLR(o.LR, o.LRMin, o.Iters, 0))
	var lastGood []*tensor.Tensor // the parameters that gave the last finite loss
	ck := ft.ckpt
	start, err := ck.enter("drift", params, opt, &lastGood)
	if err != nil {
		return err
	}
	for range start {
		detach() // the draws of the iterations done before the stop
	}
	for it := start; it < o.Iters; it++ {
		if ck.due(it, start) {
			if err := ck.saveLoop("drift", it, params, opt, lastGood); err != nil {
				return err
			}
		}
		var x0 *autograd.Var
		autograd.NoGrad(func() {
			x0, _ = ft.Init.Sample(ctx.Backend, tensor.Float32, o.Batch, pre.Dim, rng.Seed, rng.Next())
		})
		watch := ctx.Hooks.watch(ctx.Run, it)
		roll := ft.rollout(o.Segment)
		roll.DetachBefore = detach()
		roll.Trace = watch.tracer()
		if g.Ref != nil {
			roll.Ref = g.Ref
		}
		res := roll.Run(autograd.Const(x0.Value), rng.Seed, rng.Next())
		r := reward.Eval(res.X)
		var loss *autograd.Var
		if res.KLRef != nil {
			loss = autograd.MeanAll(autograd.Sub(autograd.Add(autograd.Scale(res.KL, alpha), autograd.Scale(res.KLRef, g.Beta)), r))
		} else {
			loss = autograd.MeanAll(autograd.Sub(autograd.Scale(res.KL, alpha), r))
		}
		l := loss.Value.Item()
		ev := Event{Phase: "drift", Iter: it, Loss: Number(l), LR: opt.LR(it),
			Reward: Number(Mean(r.Value.Float64s())), KL: Number(Mean(res.KL.Value.Float64s()))}
		monitorBatch(ctx, &ev, res.X.Value, watch)
		if res.KLRef != nil {
			if ev.Extra == nil {
				ev.Extra = map[string]Number{}
			}
			ev.Extra["kl_prev"] = Number(Mean(res.KLRef.Value.Float64s()))
		}
		if !Number(l).Finite() {
			ft.DivergedAt = it
			ctx.Log(ev, o.Iters)
			if lastGood != nil {
				for i, p := range params {
					p.Value = lastGood[i]
				}
			}
			return nil
		}
		loss.Backward()
		ev.GradNorm = Number(nn.ClipGradNorm(params, o.ClipNorm))
		ctx.Log(ev, o.Iters)
		if !ev.GradNorm.Finite() {
			ft.DivergedAt = it
			nn.ZeroGrad(ctrl)
			return nil
		}
		ck.record(ev)
		lastGood = nn.CloneValues(params)
		opt.Step()
	}
	if o.Iters > start {
		// The fit is done: a stop before the run is saved resumes here.
		return ck.saveLoop("drift", o.Iters, params, opt, lastGood)
	}
	return nil
}

// monitorBatch adds the task's monitors of a training batch to an event,
// and what the hooks asked to watch of it (Hooks.watch).
func monitorBatch(ctx *Context, ev *Event, x *tensor.Tensor, w *watched) {
	xs := x.Float64s()
	ev.Extra = ctx.Task.Monitor(xs)
	w.fill(ev, xs)
}

// Checkpointer keeps the state of a run's fit between iterations, so that a
// run stopped mid-fit resumes at the last checkpoint instead of iteration 0
// (Env.Checkpoints; package algos/report keeps it in the run directory next
// to the finished runs, and removes it when the run is saved). The pathwise
// fits use it: ELEGANT (and nostep2) at the end of its steps 1 and 2 and
// every Every iterations of step 3, NO KL, Truncation and Random every Every
// iterations; the other methods restart a stopped run from its beginning.
type Checkpointer interface {
	// Every is the number of iterations between two checkpoints of a loop.
	Every() int
	// SaveFit replaces the saved state of the run's fit, atomically.
	SaveFit(run string, s *FitState) error
	// LoadFit returns the saved state of the run's fit, its tensors on b;
	// false if there is none or it is unusable (with a notice).
	LoadFit(run string, b tensor.Backend) (*FitState, bool)
	// Replay calls emit, which sends again to the hooks the events that the
	// stopped invocation logged before the checkpoint (the runner's curve
	// needs them), without writing them to the log again.
	Replay(emit func())
}

// FitState is a fit between two iterations: what a resume needs to go on
// exactly as the fit would have, to the last bit.
type FitState struct {
	// Key identifies the fit (method, α, seed, settings): the state of
	// another is not resumed.
	Key string
	// Finished are the phases done; Phase is the one in progress ("" at a
	// boundary) and Iter its next iteration.
	Finished []string
	Phase    string
	Iter     int
	// Streams is the position of the fit's noise streams (sde.Streams).
	Streams uint64
	// AdamStep is the step count of the optimizer of the phase in progress.
	AdamStep int
	// Tensors are the parameters of the finished phases' networks
	// ("<phase>/p/<i>") and, of the phase in progress, the parameters, the
	// optimizer's moments ("<phase>/m/<i>", "<phase>/v/<i>") and the last
	// parameters that gave a finite loss ("<phase>/last/<i>").
	Tensors map[string]*tensor.Tensor
	// Events are the phase in progress's logged events so far.
	Events []Event
}

// badCheckpoint is a saved state that does not fit the fit's networks.
type badCheckpoint struct{ err error }

func (e badCheckpoint) Error() string { return "checkpoint: " + e.err.Error() }

// fitCheckpoint checkpoints one fit (nil: none).
type fitCheckpoint struct {
	ctx      *Context
	key      string
	every    int
	rng      *sde.Streams
	st       *FitState // the state to resume from, until it is reached
	finished []string
	carry    map[string]*tensor.Tensor // the finished phases' parameters
	events   []Event
}

// newFitCheckpoint starts the checkpoints of a fit identified by key, with
// the state saved by a stopped invocation if resume and there is one of
// this fit.
func newFitCheckpoint(ctx *Context, key string, rng *sde.Streams, resume bool) *fitCheckpoint {
	ck := ctx.Checkpoints
	if ck == nil {
		return nil
	}
	c := &fitCheckpoint{ctx: ctx, key: key, every: max(ck.Every(), 1), rng: rng, carry: map[string]*tensor.Tensor{}}
	if !resume {
		return c
	}
	if st, ok := ck.LoadFit(ctx.Run, ctx.Backend); ok {
		if st.Key != key {
			ctx.Hooks.Noticef("the checkpoint of %s is of another fit: fitting it from the start", ctx.Run)
		} else {
			c.st = st
			where := "after " + strings.Join(st.Finished, ", ")
			if st.Phase != "" {
				where = fmt.Sprintf("at %s iteration %d", st.Phase, st.Iter)
			}
			ctx.Hooks.Noticef("resuming the fit of %s from its checkpoint %s", ctx.Run, where)
		}
	}
	return c
}

// restoreFinished reports whether the phase had finished before the stop;
// then m (built as the phase builds it) takes its saved parameters.
func (c *fitCheckpoint) restoreFinished(phase string, m nn.Module) (bool, error) {
	if c == nil || c.st == nil || !slices.Contains(c.st.Finished, phase) {
		return false, nil
	}
	if err := setValues(nn.Vars(m), c.st.Tensors, phase+"/p/"); err != nil {
		return false, err
	}
	c.keep(phase, m)
	return true, nil
}

// keep records a finished phase's network for every later checkpoint.
func (c *fitCheckpoint) keep(phase string, m nn.Module) {
	c.finished = append(c.finished, phase)
	for i, p := range nn.Vars(m) {
		c.carry[fmt.Sprintf("%s/p/%d", phase, i)] = p.Value.Clone()
	}
}

// finish checkpoints the boundary after a phase whose network is m.
func (c *fitCheckpoint) finish(phase string, m nn.Module) error {
	if c == nil {
		return nil
	}
	c.keep(phase, m)
	c.events = nil
	return c.save(&FitState{})
}

// enter starts a phase that had not finished: the noise streams go where
// the stopped invocation had them, and, if it stopped in this phase, the
// iteration it reached is returned with its saved state restored into
// params, opt and *last.
func (c *fitCheckpoint) enter(phase string, params []*autograd.Var, opt *nn.Adam, last *[]*tensor.Tensor) (int, error) {
	if c == nil || c.st == nil {
		return 0, nil
	}
	st := c.st
	c.st = nil
	// The phases before this one must be those that the state says
	// finished, and a phase in progress must be this one.
	if !slices.Equal(st.Finished, c.finished) || st.Phase != "" && st.Phase != phase {
		return 0, badCheckpoint{fmt.Errorf("a state in %q after %v, entering %q after %v", st.Phase, st.Finished, phase, c.finished)}
	}
	c.rng.Seek(st.Streams)
	if st.Phase != phase {
		return 0, nil
	}
	if err := setValues(params, st.Tensors, phase+"/p/"); err != nil {
		return 0, err
	}
	state := nn.AdamState{Step: st.AdamStep}
	for i := range params {
		m, v := st.Tensors[fmt.Sprintf("%s/m/%d", phase, i)], st.Tensors[fmt.Sprintf("%s/v/%d", phase, i)]
		if m == nil || v == nil {
			return 0, badCheckpoint{fmt.Errorf("%s: the optimizer's moments of parameter %d are missing", phase, i)}
		}
		state.M, state.V = append(state.M, m), append(state.V, v)
	}
	if err := opt.SetState(state); err != nil {
		return 0, badCheckpoint{err}
	}
	if _, ok := st.Tensors[phase+"/last/0"]; ok {
		*last = make([]*tensor.Tensor, len(params))
		lastVars := make([]*autograd.Var, len(params))
		for i, p := range params {
			lastVars[i] = autograd.Const(p.Value)
		}
		if err := setValues(lastVars, st.Tensors, phase+"/last/"); err != nil {
			return 0, err
		}
		for i, v := range lastVars {
			(*last)[i] = v.Value
		}
	}
	c.events = st.Events
	c.ctx.Checkpoints.Replay(func() {
		for _, e := range st.Events {
			c.ctx.Log(e, 0)
		}
	})
	return st.Iter, nil
}

// record keeps an event of the phase in progress for a resume's replay.
func (c *fitCheckpoint) record(e Event) {
	if c != nil {
		e.Snapshot = nil
		c.events = append(c.events, e)
	}
}

// due reports whether a checkpoint is due before iteration it of a loop
// that started (or resumed) at start.
func (c *fitCheckpoint) due(it, start int) bool {
	return c != nil && it > start && it%c.every == 0
}

// saveLoop checkpoints a phase's loop before its iteration it.
func (c *fitCheckpoint) saveLoop(phase string, it int, params []*autograd.Var, opt *nn.Adam, last []*tensor.Tensor) error {
	if c == nil {
		return nil
	}
	st := &FitState{Phase: phase, Iter: it, Tensors: map[string]*tensor.Tensor{}}
	state := opt.State()
	st.AdamStep = state.Step
	for i, p := range params {
		st.Tensors[fmt.Sprintf("%s/p/%d", phase, i)] = p.Value
		st.Tensors[fmt.Sprintf("%s/m/%d", phase, i)] = state.M[i]
		st.Tensors[fmt.Sprintf("%s/v/%d", phase, i)] = state.V[i]
		if last != nil {
			st.Tensors[fmt.Sprintf("%s/last/%d", phase, i)] = last[i]
		}
	}
	return c.save(st)
}

func (c *fitCheckpoint) save(st *FitState) error {
	st.Key, st.Finished, st.Streams, st.Events = c.key, slices.Clone(c.finished), c.rng.Used(), c.events
	if st.Tensors == nil {
		st.Tensors = map[string]*tensor.Tensor{}
	}
	maps.Copy(st.Tensors, c.carry)
	if err := c.ctx.Checkpoints.SaveFit(c.ctx.Run, st); err != nil {
		return fmt.Errorf("checkpoint of %s: %w", c.ctx.Run, err)
	}
	return nil
}

// setValues gives params the saved tensors prefix<i>, checked first.
func setValues(params []*autograd.Var, saved map[string]*tensor.Tensor, prefix string) error {
	values := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		t := saved[fmt.Sprintf("%s%d", prefix, i)]
		switch {
		case t == nil:
			return badCheckpoint{fmt.Errorf("%s%d is missing", prefix, i)}
		case !slices.Equal(t.Shape(), p.Value.Shape()) || t.DType() != p.Value.DType():
			return badCheckpoint{fmt.Errorf("%s%d has shape %v (%v), the network %v (%v)", prefix, i, t.Shape(), t.DType(), p.Value.Shape(), p.Value.DType())}
		}
		values[i] = t
	}
	if _, extra := saved[fmt.Sprintf("%s%d", prefix, len(params))]; extra {
		return badCheckpoint{fmt.Errorf("more than the network's %d tensors %s*", len(params), prefix)}
	}
	for i, p := range params {
		p.Value = values[i].Clone()
	}
	return nil
}

// withCheckpoints runs fit resuming from the saved state; a saved state
// that does not fit the networks is dropped with a notice, and the fit runs
// again from the start (still checkpointed).
func withCheckpoints(ctx *Context, fit func(resume bool) (*Fitted, error)) (*Fitted, error) {
	out, err := fit(true)
	var bad badCheckpoint
	if errors.As(err, &bad) {
		ctx.Hooks.Noticef("the checkpoint of %s is unusable (%v): fitting it from the start", ctx.Run, bad.err)
		return fit(false)
	}
	return out, err
}
