package watch

import (
	"fmt"
	"math"
	"sync"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

func init() { register("gmm2d", newPlaneView) }

// planeWindow is the part of the plane a gmm2d frame shows: the mixture's
// circle of radius 4 with three standard deviations around it.
var planeWindow = viewer.Window{XMin: -6, XMax: 6, YMin: -6, YMax: 6}

// planeView draws gmm2d runs: the samples over the exact target's density
// at the first α (a heat map computed once), the pre-trained samples faint
// behind them; a rollout replays as its states over the same map.
type planeView struct {
	mu      sync.Mutex
	plane   *viewer.Plane
	legend  string
	genuine func(x []float64) []float64
}

func newPlaneView(task algos.Task, plan algos.Plan) (View, error) {
	g := task.(*tasks.GMM2D)
	r, err := tasks.ParseReward(g.Reward, 2)
	if err != nil {
		return nil, err
	}
	genuine := r.Values
	if g.Genuine != "" {
		bump, err := tasks.ParseBump(g.Genuine, 2)
		if err != nil {
			return nil, err
		}
		genuine = bump.Values // not the task's oracle: its queries are counted
	}
	alpha := firstAlpha(task, plan)
	tilt, err := tasks.EightGaussians().Tilt(r, alpha)
	if err != nil {
		return nil, err
	}
	return &planeView{
		plane:   viewer.NewPlane(planeWindow, func(x, y float64) float64 { return math.Exp(tilt.LogDensity([]float64{x, y})) }),
		legend:  fmt.Sprintf("GMM2D %s  HEAT P* (A=%g)  GREY PRE-TRAINED", r, alpha),
		genuine: genuine,
	}, nil
}

func (v *planeView) SetPretrained(x []float64) {
	v.mu.Lock()
	v.plane.SetPretrained(x)
	v.mu.Unlock()
}

func (v *planeView) Frame(e algos.Event) *viewer.DrawList {
	line := status(e, algos.Mean(v.genuine(e.Snapshot)))
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.plane.Frame(e.Snapshot, line, v.legend)
}

func (v *planeView) State(e algos.Event, k int) *viewer.DrawList {
	n := len(e.Trajectory) - 1
	line := fmt.Sprintf("%s  REPLAY: STEP %d OF %d", where(e), k, n)
	what := "X_T FROM NOISE (STEP 0) TO THE SAMPLES"
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.plane.Frame(e.Trajectory[k], line, what)
}
