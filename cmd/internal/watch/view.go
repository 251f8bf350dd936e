package watch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

// A View draws the frames of one task's runs. Its methods may be called
// from several goroutines.
type View interface {
	// SetPretrained receives the pre-trained model's evaluation samples
	// (it must copy what it keeps).
	SetPretrained(x []float64)
	// Frame draws the snapshot of e (e.Snapshot set).
	Frame(e algos.Event) *viewer.DrawList
}

// A Replayer is a View that replays a rollout: State draws state k of
// e.Trajectory (from the initial draw, k = 0, to the samples).
type Replayer interface {
	View
	State(e algos.Event, k int) *viewer.DrawList
}

// A Targeter is a View that draws the target of the fit in progress
// (algos.Hooks.Target).
type Targeter interface {
	View
	SetTarget(r algos.Reward, alpha float64)
}

// views makes the View of each task that has one, by the task's name.
var views = map[string]func(algos.Task, algos.Plan) (View, error){}

// register adds the view of a task.
func register(task string, make func(algos.Task, algos.Plan) (View, error)) {
	if views[task] != nil {
		panic("watch: two views of task " + task)
	}
	views[task] = make
}

// Tasks are the tasks that have a view, sorted.
func Tasks() []string {
	var ts []string
	for t := range views {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// RunName is the event's run, or its method where runs are not named.
func RunName(e algos.Event) string {
	if e.Run != "" {
		return e.Run
	}
	return e.Method
}

// status is the first line of a frame: the run, its round and iteration
// and the batch's r̂, genuine reward and KL.
func status(e algos.Event, genuine float64) string {
	return fmt.Sprintf("%s  R^ %.4g  R %.4g  KL %.4g", where(e), float64(e.Reward), genuine, float64(e.KL))
}

// replayStatus is the first line of state k of the event's replay.
func replayStatus(e algos.Event, k int) string {
	return fmt.Sprintf("%s  REPLAY: STEP %d OF %d", where(e), k, len(e.Trajectory)-1)
}

// where is the run, its phase where it is not the drift's, its round and
// its iteration, as a frame's status line starts.
func where(e algos.Event) string {
	s := strings.ToUpper(RunName(e))
	if e.Phase != "drift" {
		s += " " + strings.ToUpper(e.Phase)
	}
	if e.Round > 0 {
		s += fmt.Sprintf(" ROUND %d", e.Round)
	}
	return s + fmt.Sprintf("  ITER %d", e.Iter)
}

// firstAlpha is the α a view's exact target is drawn at: the plan's first,
// or the task's.
func firstAlpha(task algos.Task, plan algos.Plan) float64 {
	if len(plan.Alphas) > 0 {
		return plan.Alphas[0]
	}
	if as := task.Alphas(0); len(as) > 0 {
		return as[0]
	}
	return 1
}
