package watch

import (
	"fmt"
	"image"
	"strings"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

func init() { register("fmnist", newImageView) }

// imageView draws fmnist runs: a grid of the batch's images. They are the
// rollout's last states x mapped to pixels (x + 1)/2, not denoised (that
// would run the UNet beside the trainer): the noise left at s_min shows
// as grain. The saved samples (samples_<run>.npy, the PNG grids) are
// denoised.
type imageView struct {
	task *tasks.FMNIST
}

func newImageView(task algos.Task, _ algos.Plan) (View, error) {
	return &imageView{task: task.(*tasks.FMNIST)}, nil
}

// SetPretrained keeps nothing: the frame shows the current batch only.
func (v *imageView) SetPretrained([]float64) {}

func (v *imageView) Frame(e algos.Event) *viewer.DrawList {
	d, _ := v.frame(e)
	return d
}

// State draws state k of the rollout as the frame draws the batch: the
// images emerge from the noise.
func (v *imageView) State(e algos.Event, k int) *viewer.DrawList {
	d, _ := v.draw(e, e.Trajectory[k], replayStatus(e, k))
	return d
}

// frame is Frame with the cells of the images drawn.
func (v *imageView) frame(e algos.Event) (*viewer.DrawList, []image.Rectangle) {
	genuine := float64(e.Extra["genuine"]) // the task's monitor: the strong classifier's
	return v.draw(e, e.Snapshot, status(e, genuine))
}

// draw is the frame of the images x (the event's batch, or a state of its
// rollout) under the status line.
func (v *imageView) draw(e algos.Event, x []float64, line string) (*viewer.DrawList, []image.Rectangle) {
	px := make([]float64, len(x))
	for i, xi := range x {
		px[i] = (xi + 1) / 2
	}
	class := strings.ToUpper(tasks.FMNISTClassNames[v.task.Class])
	d := viewer.NewFrame(line, fmt.Sprintf("FMNIST  CLASS %s  FRACTION %.2f", class, float64(e.Extra["class_fraction"])))
	body := viewer.Body
	body.Min.Y += 4
	cells := viewer.Grid(d, body.Inset(4), tasks.FMNISTSide, tasks.FMNISTSide, px)
	if n := len(px) / tasks.FMNISTPixels; len(cells) < n {
		d.Text(8, viewer.FrameH-12, 1, fmt.Sprintf("%d OF %d SAMPLES SHOWN", len(cells), n), labelColour)
	}
	return d, cells
}
