package algos

import (
	"fmt"

	"github.com/difftune/difftune/autograd"
)

// Event is one line of a training log (metrics.jsonl): a step of some phase
// of a run.
type Event struct {
	Method string `json:"method"`
	// Run names the run when it differs from the method (ELEGANT at a later
	// α of a sweep).
	Run   string `json:"run,omitempty"`
	Phase string `json:"phase"` // dsm, fit, value, initial, drift, ppo, classifier, seiko
	// Round is the round of an online method (SEIKO) whose fit logged the
	// step, from 1; its iterations start over every round.
	Round    int     `json:"round,omitempty"`
	Iter     int     `json:"iter"`
	Loss     Number  `json:"loss"`
	Reward   Number  `json:"reward,omitempty"`
	KL       Number  `json:"kl,omitempty"`
	GradNorm Number  `json:"grad_norm,omitempty"`
	LR       float64 `json:"lr,omitempty"`
	// Elapsed is the wall time since the method started, in seconds.
	Elapsed float64 `json:"elapsed_s"`
	// Extra holds task-specific monitors (the fraction off the support, the
	// genuine reward of the batch).
	Extra map[string]Number `json:"extra,omitempty"`
	// Snapshot is the batch's samples (rows of the task's dimension), set
	// only when Hooks.Snapshots asks for them; never written to the log.
	Snapshot []float64 `json:"-"`
	// Trajectory is the rollout that drew the snapshot: its states at each
	// step of the grid, from the initial draw (row 0) to the samples (the
	// last row, equal to Snapshot), each of Snapshot's length. It is set
	// only with a snapshot, when Hooks.Trajectories asks; never written to
	// the log.
	Trajectory [][]float64 `json:"-"`
}

// Hooks receive what a run reports while it works. Any of them may be nil.
// They are called on the goroutine that runs the work.
type Hooks struct {
	// Log receives every logged step.
	Log func(Event)
	// Progress is called as a phase advances: done of total steps.
	Progress func(phase string, done, total int)
	// Notice receives one-line messages (what is loaded, trained, skipped).
	Notice func(msg string)
	// Snapshots, if set, is asked at iteration iter of each fine-tuning
	// loop of a run whether that iteration's event should carry the
	// batch's samples (a viewer subscribes this way).
	Snapshots func(run string, iter int) bool
	// Trajectories makes an event that carries a snapshot carry the
	// rollout's states too (Event.Trajectory), so that a viewer can replay
	// it. Reading them costs a copy of every state; nothing else changes.
	Trajectories bool
	// Pretrained, if set, receives the pre-trained model's evaluation
	// samples once they are drawn (a viewer draws them behind the
	// fine-tuned ones). It must not modify them.
	Pretrained func(x []float64)
	// Target, if set, is told before each fit starts the reward it
	// fine-tunes toward and its KL weight α: the fit's target is
	// p_pre·exp(r/α), up to normalization (a viewer draws it).
	Target func(r Reward, alpha float64)
}

// Noticef sends a formatted notice.
func (h Hooks) Noticef(format string, args ...any) {
	if h.Notice != nil {
		h.Notice(fmt.Sprintf(format, args...))
	}
}

// Tick reports progress of a phase.
func (h Hooks) Tick(phase string, done, total int) {
	if h.Progress != nil {
		h.Progress(phase, done, total)
	}
}

// Aim tells the Target hook what the fit that starts aims at.
func (h Hooks) Aim(r Reward, alpha float64) {
	if h.Target != nil {
		h.Target(r, alpha)
	}
}

// Emit logs an event.
func (h Hooks) Emit(e Event) {
	if h.Log != nil {
		h.Log(e)
	}
}

// watched is what the hooks asked of one fine-tuning iteration's batch:
// its samples, and the states of its rollout when trace is on.
type watched struct {
	trace  bool
	states [][]float64
}

// watch asks the hooks whether iteration iter of run is watched; nil if not.
// It must be asked before the iteration's rollout, whose states the
// result's tracer records.
func (h Hooks) watch(run string, iter int) *watched {
	if h.Snapshots == nil || !h.Snapshots(run, iter) {
		return nil
	}
	return &watched{trace: h.Trajectories}
}

// tracer is a rollout's Trace that copies each state once (a checkpointed
// segment's recomputation shows the states again); nil when w wants none.
func (w *watched) tracer() func(k int, x *autograd.Var) {
	if w == nil || !w.trace {
		return nil
	}
	return func(k int, x *autograd.Var) {
		if k == len(w.states) {
			w.states = append(w.states, x.Value.Float64s())
		}
	}
}

// fill sets the event's snapshot, xs, and trajectory, if w asked for them.
func (w *watched) fill(ev *Event, xs []float64) {
	if w == nil {
		return
	}
	ev.Snapshot = xs
	if w.trace {
		ev.Trajectory = append(w.states, xs)
	}
}

// CurvePoint is one fine-tuning iteration of a run: the batch means of r̂
// and of the genuine reward (NaN where the task's monitor gives none).
type CurvePoint struct {
	Iter             int
	Nominal, Genuine float64
}
