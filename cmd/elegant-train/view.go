package main

// -view: the live viewer (issue 16). A window shows the gmm2d samples of
// the iteration being fine-tuned, drawn by the Vulkan kernels on a device
// of the window's own, at most four times a second. The trainer only
// copies a snapshot and hands it over (viewer.Live.Offer): it never waits
// for the window, and the run's numbers are those of a run without it.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

// viewFlags are -view and -view-stop.
type viewFlags struct {
	on, stop bool
}

func (v *viewFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&v.on, "view", false, "show the samples in a window as the model fine-tunes (gmm2d; keys: space freezes the display, s saves it as PNG into -out, q closes the window and the run goes on)")
	fs.BoolVar(&v.stop, "view-stop", false, "with -view: closing the window stops the run as Ctrl-C does (it resumes with -resume)")
}

// check validates the flags as usage errors.
func (v viewFlags) check(task algos.Task) error {
	if v.stop && !v.on {
		return usageError{Err: errors.New("-view-stop needs -view")}
	}
	if _, ok := task.(*tasks.GMM2D); v.on && !ok {
		return usageError{Err: fmt.Errorf("-view is only implemented for -task gmm2d for now, not %s", task.Name())}
	}
	return nil
}

// viewStarted, if set (by tests), receives the viewer of each -view run.
var viewStarted func(*viewer.Live)

// snapshotEvery is the least time between two snapshots for the window.
const snapshotEvery = 200 * time.Millisecond

// open opens the window (nothing without -view) and returns the hooks that
// feed it and the function that closes it. Where no window can open (no
// display, no Vulkan device that presents), it says so in one line on
// stderr and the run goes on without.
func (v viewFlags) open(pv *planeView, out string, stderr io.Writer) (algos.Hooks, func()) {
	if !v.on {
		return algos.Hooks{}, func() {}
	}
	d, err := viewer.OpenDisplay("difftune elegant-train", viewer.FrameW, viewer.FrameH, false)
	if err != nil {
		fmt.Fprintf(stderr, "elegant-train: -view: %v; the run goes on without a window\n", err)
		return algos.Hooks{}, func() {}
	}
	onClose := func() {}
	if v.stop {
		onClose = func() { _ = syscall.Kill(os.Getpid(), syscall.SIGINT) } // the run's clean stop
	}
	live := viewer.NewLive(d, viewer.LiveOptions{SaveDir: out, OnClose: onClose, Log: stderr})
	if viewStarted != nil {
		viewStarted(live)
	}
	var mu sync.Mutex
	var last time.Time
	hooks := algos.Hooks{
		Snapshots: func(string, int) bool {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) < snapshotEvery {
				return false
			}
			last = time.Now()
			return true
		},
		Pretrained: pv.setPretrained,
		Log: func(e algos.Event) {
			if e.Snapshot == nil {
				return
			}
			e.Snapshot = slices.Clone(e.Snapshot) // the trainer reuses its batch
			live.Offer(func() *viewer.DrawList { return pv.frame(e) })
		},
	}
	closeView := func() {
		if err := live.Close(); err != nil {
			fmt.Fprintf(stderr, "elegant-train: -view: %v\n", err)
		}
	}
	return hooks, closeView
}
