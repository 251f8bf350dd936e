package watch

import (
	"fmt"
	"sync"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

func init() { register("gmm2d", newPlaneView) }

// planeWindow is the part of the plane a gmm2d frame shows: the mixture's
// circle of radius 4 with three standard deviations around it.
var planeWindow = viewer.Window{XMin: -6, XMax: 6, YMin: -6, YMax: 6}

// planeView draws gmm2d runs: the samples over the density of the exact
// target of the fit in progress, p_data·exp(r/α) (a heat map computed once
// per target), the pre-trained samples faint behind them; a rollout
// replays as its states over the same map.
type planeView struct {
	data    tasks.Mixture
	genuine func(x []float64) []float64

	mu     sync.Mutex
	plane  *viewer.Plane
	legend string
	aim    *aim // a target not drawn yet
}

// aim is a fit's target: its reward and KL weight.
type aim struct {
	r     algos.Reward
	alpha float64
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
	v := &planeView{data: tasks.EightGaussians(), genuine: genuine}
	v.plane = viewer.NewPlane(planeWindow, v.logTarget(aim{r, firstAlpha(task, plan)}))
	return v, nil
}

// logTarget is the log density of the target a aims at, unnormalized, as
// Plane.SetHeat takes it; it also sets the legend that names it.
func (v *planeView) logTarget(a aim) func(xy []float64) []float64 {
	v.legend = fmt.Sprintf("GMM2D %s  HEAT P* (A=%.3g)  GREY PRE-TRAINED", a.r, a.alpha)
	return func(xy []float64) []float64 {
		lp := a.r.Values(xy)
		for i := range lp {
			lp[i] = v.data.LogDensity(xy[2*i:2*i+2]) + lp[i]/a.alpha
		}
		return lp
	}
}

// SetTarget implements Targeter: the next frame draws the heat map of r at
// α.
func (v *planeView) SetTarget(r algos.Reward, alpha float64) {
	if !(alpha > 0) {
		return // an unregularized fit has no finite target: keep the map
	}
	v.mu.Lock()
	v.aim = &aim{r, alpha}
	v.mu.Unlock()
}

func (v *planeView) SetPretrained(x []float64) {
	v.mu.Lock()
	v.plane.SetPretrained(x)
	v.mu.Unlock()
}

// draw is the plane's frame of the points x, its heat map brought up to
// date first.
func (v *planeView) draw(x []float64, line string) *viewer.DrawList {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.aim != nil {
		v.plane.SetHeat(v.logTarget(*v.aim))
		v.aim = nil
	}
	return v.plane.Frame(x, line, v.legend)
}

func (v *planeView) Frame(e algos.Event) *viewer.DrawList {
	return v.draw(e.Snapshot, status(e, algos.Mean(v.genuine(e.Snapshot))))
}

func (v *planeView) State(e algos.Event, k int) *viewer.DrawList {
	return v.draw(e.Trajectory[k], replayStatus(e, k))
}
