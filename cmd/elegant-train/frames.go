package main

// -frames: the headless part of the live viewer (issue 16). Frames are
// drawn by package cmd/internal/viewer (with the Vulkan kernels under
// -device vulkan, the plain-Go reference otherwise) and written on the
// trainer's goroutine, synchronously: a gmm2d frame costs a few
// milliseconds to draw and about 20 ms to encode as PNG, once every
// -frames-every iterations. Watching changes nothing of the run: the
// snapshots are the batches the trainer already drew, only read.

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

// observe returns the hooks that write the frames (none without -frames):
// snapshots every -frames-every iterations drawn over the exact target at
// the plan's first α, the pre-trained samples behind them. A frame that
// cannot be written is reported once on stderr and ends the frames, not
// the run.
func (f framesFlags) observe(task algos.Task, plan algos.Plan, b tensor.Backend, stderr io.Writer) (algos.Hooks, error) {
	if f.dir == "" {
		return algos.Hooks{}, nil
	}
	g := task.(*tasks.GMM2D) // check refused the others
	r, err := tasks.ParseReward(g.Reward, 2)
	if err != nil {
		return algos.Hooks{}, usageError{Err: err}
	}
	genuine := r.Values
	if g.Genuine != "" {
		bump, err := tasks.ParseBump(g.Genuine, 2)
		if err != nil {
			return algos.Hooks{}, usageError{Err: err}
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
		return algos.Hooks{}, usageError{Err: err}
	}
	plane := viewer.NewPlane(frameWindow, func(x, y float64) float64 { return math.Exp(tilt.LogDensity([]float64{x, y})) })
	legend := fmt.Sprintf("GMM2D %s  HEAT P* (A=%g)  GREY PRE-TRAINED", r, alpha)
	var failed bool
	write := func(e algos.Event) {
		if e.Snapshot == nil || failed {
			return
		}
		run := e.Run
		if run == "" {
			run = e.Method
		}
		status := fmt.Sprintf("%s  ITER %d  R^ %.3f  R %.3f  KL %.3f", strings.ToUpper(run), e.Iter,
			float64(e.Reward), algos.Mean(genuine(e.Snapshot)), float64(e.KL))
		img := viewer.Render(b, plane.Frame(e.Snapshot, status, legend))
		err := os.MkdirAll(f.dir, 0o755)
		if err == nil {
			path := filepath.Join(f.dir, fmt.Sprintf("frame_%s_%05d.png", run, e.Iter))
			err = atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) })
		}
		if err != nil {
			failed = true
			fmt.Fprintf(stderr, "elegant-train: -frames: %v; no more frames are written\n", err)
		}
	}
	return algos.Hooks{
		Snapshots:  func(_ string, iter int) bool { return iter%f.every == 0 },
		Pretrained: plane.SetPretrained,
		Log:        write,
	}, nil
}
