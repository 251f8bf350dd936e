package main

// -frames: the headless part of the live viewer (issue 16). Frames are
// drawn by package cmd/internal/viewer (with the Vulkan kernels under
// -device vulkan, the plain-Go reference otherwise) and written on the
// trainer's goroutine, synchronously: a gmm2d frame costs a few
// milliseconds to draw and about 20 ms to encode as PNG, once every
// -frames-every iterations. Watching changes nothing of the run: the
// snapshots are the batches the trainer already drew, only read. -view
// (view.go) shows the same frames in a window.

import (
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/cmd/internal/viewer"
	"github.com/difftune/difftune/nn/atomicfile"
	"github.com/difftune/difftune/tensor"
)

// framesFlags are -frames and -frames-every.
type framesFlags struct {
	dir   string
	every int
}

func (f *framesFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "frames", "", "write viewer frames as PNG files into this directory, DIR/frame_<run>_<iter>.png (gmm2d only for now)")
	fs.IntVar(&f.every, "frames-every", 5, "fine-tuning iterations between two -frames")
}

// check validates the flags as usage errors.
func (f framesFlags) check(task algos.Task, seeds []uint64) error {
	if f.dir == "" {
		return nil
	}
	if _, ok := task.(*tasks.GMM2D); !ok {
		return usageError{Err: fmt.Errorf("-frames is only implemented for -task gmm2d for now, not %s", task.Name())}
	}
	if f.every < 1 {
		return usageError{Err: fmt.Errorf("-frames-every must be ≥ 1, got %d", f.every)}
	}
	if seeds != nil {
		return usageError{Err: errors.New("-frames with -seeds is not implemented yet: give one -seed")}
	}
	if st, err := os.Stat(f.dir); err == nil && !st.IsDir() {
		return usageError{Err: fmt.Errorf("-frames %s is a file, not a directory", f.dir)}
	}
	return nil
}

// frameWindow is the part of the plane a gmm2d frame shows: the mixture's
// circle of radius 4 with three standard deviations around it.
var frameWindow = viewer.Window{XMin: -6, XMax: 6, YMin: -6, YMax: 6}

// planeView draws the frames of a gmm2d run, for -frames and -view: the
// snapshots over the exact target at the plan's first α, the pre-trained
// samples behind them. Its methods may be called from several goroutines.
type planeView struct {
	mu      sync.Mutex
	plane   *viewer.Plane
	legend  string
	genuine func(x []float64) []float64
}

// newPlaneView returns the view of task, a gmm2d task (the flags' checks
// refuse the others).
func newPlaneView(task algos.Task, plan algos.Plan) (*planeView, error) {
	g := task.(*tasks.GMM2D) // the flags' checks refused the others
	r, err := tasks.ParseReward(g.Reward, 2)
	if err != nil {
		return nil, usageError{Err: err}
	}
	genuine := r.Values
	if g.Genuine != "" {
		bump, err := tasks.ParseBump(g.Genuine, 2)
		if err != nil {
			return nil, usageError{Err: err}
		}
		genuine = bump.Values // not the task's oracle: its queries are counted
	}
	alpha := 1.0
	if len(plan.Alphas) > 0 {
		alpha = plan.Alphas[0]
	} else if as := task.Alphas(0); len(as) > 0 {
		alpha = as[0]
	}
	tilt, err := tasks.EightGaussians().Tilt(r, alpha)
	if err != nil {
		return nil, usageError{Err: err}
	}
	return &planeView{
		plane:   viewer.NewPlane(frameWindow, func(x, y float64) float64 { return math.Exp(tilt.LogDensity([]float64{x, y})) }),
		legend:  fmt.Sprintf("GMM2D %s  HEAT P* (A=%g)  GREY PRE-TRAINED", r, alpha),
		genuine: genuine,
	}, nil
}

func (v *planeView) setPretrained(x []float64) {
	v.mu.Lock()
	v.plane.SetPretrained(x)
	v.mu.Unlock()
}

// frame draws the snapshot of e with its status line.
func (v *planeView) frame(e algos.Event) *viewer.DrawList {
	status := fmt.Sprintf("%s  ITER %d  R^ %.3f  R %.3f  KL %.3f", strings.ToUpper(runName(e)), e.Iter,
		float64(e.Reward), algos.Mean(v.genuine(e.Snapshot)), float64(e.KL))
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.plane.Frame(e.Snapshot, status, v.legend)
}

// runName is the event's run, or its method where runs are not named.
func runName(e algos.Event) string {
	if e.Run != "" {
		return e.Run
	}
	return e.Method
}

// hooks returns the hooks that write the frames (none without -frames),
// every -frames-every iterations, on the trainer's goroutine. A frame that
// cannot be written is reported once on stderr and ends the frames, not
// the run.
func (f framesFlags) hooks(v *planeView, b tensor.Backend, stderr io.Writer) algos.Hooks {
	if f.dir == "" {
		return algos.Hooks{}
	}
	var failed bool
	write := func(e algos.Event) {
		if e.Snapshot == nil || failed || e.Iter%f.every != 0 {
			return
		}
		img := viewer.Render(b, v.frame(e))
		err := os.MkdirAll(f.dir, 0o755)
		if err == nil {
			path := filepath.Join(f.dir, fmt.Sprintf("frame_%s_%05d.png", runName(e), e.Iter))
			err = atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) })
		}
		if err != nil {
			failed = true
			fmt.Fprintf(stderr, "elegant-train: -frames: %v; no more frames are written\n", err)
		}
	}
	return algos.Hooks{
		Snapshots:  func(_ string, iter int) bool { return iter%f.every == 0 },
		Pretrained: v.setPretrained,
		Log:        write,
	}
}

// bothHooks calls the hooks of a and of b (Snapshots: either asks).
func bothHooks(a, b algos.Hooks) algos.Hooks {
	switch {
	case a.Log == nil && a.Snapshots == nil && a.Pretrained == nil:
		return b
	case b.Log == nil && b.Snapshots == nil && b.Pretrained == nil:
		return a
	}
	each := func(f, g func(x []float64)) func([]float64) {
		return func(x []float64) {
			for _, h := range []func([]float64){f, g} {
				if h != nil {
					h(x)
				}
			}
		}
	}
	return algos.Hooks{
		Log: func(e algos.Event) {
			for _, h := range []func(algos.Event){a.Log, b.Log} {
				if h != nil {
					h(e)
				}
			}
		},
		Snapshots: func(run string, iter int) bool {
			return (a.Snapshots != nil && a.Snapshots(run, iter)) || (b.Snapshots != nil && b.Snapshots(run, iter))
		},
		Pretrained: each(a.Pretrained, b.Pretrained),
	}
}
