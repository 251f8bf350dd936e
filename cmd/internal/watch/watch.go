// Package watch is the training binaries' side of the live viewer (issue
// 16): the flags -frames, -frames-every, -view and -view-stop, a View of
// each task (gmm2d.go, tfbind8.go, fmnist.go: one file and a registration
// line each), and the hooks that feed a run's snapshots to them. Package
// cmd/internal/viewer draws; this package decides what a task's frame
// shows.
//
// Watching changes nothing of a run: the snapshots are the batches the
// trainer already drew, only read (and, for a replay, copies of its
// rollout's states), and the window draws on a goroutine of its own. -frames
// writes its PNGs on the trainer's goroutine, synchronously, every
// -frames-every iterations (a gmm2d frame costs a few milliseconds to draw
// and about 20 ms to encode).
package watch

import (
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/cmd/internal/cli"
	"github.com/difftune/difftune/cmd/internal/viewer"
	"github.com/difftune/difftune/nn/atomicfile"
	"github.com/difftune/difftune/tensor"
)

// Flags are -frames, -frames-every, -view and -view-stop.
type Flags struct {
	Frames     string // directory of the frames ("": none)
	Every      int    // iterations between two frames
	View, Stop bool
}

// Register defines the flags in fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Frames, "frames", "", "write viewer frames as PNG files into this directory, DIR/frame_<run>_<iter>.png (frame_<run>_r<round>_<iter>.png in SEIKO's rounds, DIR/seed<N>/ under -seeds; tasks: "+strings.Join(Tasks(), ", ")+")")
	fs.IntVar(&f.Every, "frames-every", 5, "fine-tuning iterations between two -frames")
	fs.BoolVar(&f.View, "view", false, "show the samples in a window as the model fine-tunes (keys: space freezes the display, s saves it as PNG into -out, r replays the last rollout, q closes the window and the run goes on)")
	fs.BoolVar(&f.Stop, "view-stop", false, "with -view: closing the window stops the run as Ctrl-C does (it resumes with -resume)")
}

// on reports whether anything is watched.
func (f Flags) on() bool { return f.Frames != "" || f.View }

// Check validates the flags (cli.UsageError) for a run of task.
func (f Flags) Check(task algos.Task) error {
	usage := func(format string, args ...any) error { return cli.UsageError{Err: fmt.Errorf(format, args...)} }
	switch {
	case f.Stop && !f.View:
		return usage("-view-stop needs -view")
	case !f.on():
		return nil
	case views[task.Name()] == nil:
		return usage("-frames and -view are implemented for -task %s, not %s", strings.Join(Tasks(), ", "), task.Name())
	case f.Frames == "":
		return nil
	case f.Every < 1:
		return usage("-frames-every must be ≥ 1, got %d", f.Every)
	}
	if st, err := os.Stat(f.Frames); err == nil && !st.IsDir() {
		return usage("-frames %s is a file, not a directory", f.Frames)
	}
	return nil
}

// Started, if set (by tests), receives the viewer of each -view run.
var Started func(*viewer.Live)

// snapshotEvery is the least time between two snapshots for the window.
const snapshotEvery = 200 * time.Millisecond

// A Watch is what watching a run hands to it (report.Options) and ends it.
type Watch struct {
	// Hooks are the run's Observe hooks.
	Hooks algos.Hooks
	// SeedStarts is the run's SeedStarts: under -seeds, the frames of
	// seed N go into the subdirectory seed<N> of -frames.
	SeedStarts func(seed uint64)
	// Close ends the watch (closes the window).
	Close func()
}

// Open starts watching a run of task under plan, as the flags ask (prog
// names the binary in messages and the window's title). Where no window
// can open (no display, no Vulkan device that presents), it says so in
// one line on stderr and the run goes on without. out is the run's
// directory, where the s key saves.
func (f Flags) Open(prog string, task algos.Task, plan algos.Plan, b tensor.Backend, out string, stderr io.Writer) (Watch, error) {
	if !f.on() {
		return Watch{Close: func() {}}, nil
	}
	v, err := views[task.Name()](task, plan)
	if err != nil {
		return Watch{}, cli.UsageError{Err: err}
	}
	frames, seedStarts := f.frames(prog, v, b, stderr)
	live, closeView := f.open(prog, v, out, stderr)
	return Watch{Hooks: both(frames, live), SeedStarts: seedStarts, Close: closeView}, nil
}

// frames returns the hooks that write the frames (none without -frames),
// every -frames-every iterations, on the trainer's goroutine, and the
// function that files the frames of the seeds that follow into
// -frames/seed<N>. A frame that cannot be written is reported once on
// stderr and ends the frames, not the run.
func (f Flags) frames(prog string, v View, b tensor.Backend, stderr io.Writer) (algos.Hooks, func(uint64)) {
	if f.Frames == "" {
		return algos.Hooks{}, nil
	}
	dir := f.Frames
	var failed bool
	write := func(e algos.Event) {
		if e.Snapshot == nil || failed || e.Iter%f.Every != 0 {
			return
		}
		img := viewer.Render(b, v.Frame(e))
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			path := filepath.Join(dir, frameName(e))
			err = atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) })
		}
		if err != nil {
			failed = true
			fmt.Fprintf(stderr, "%s: -frames: %v; no more frames are written\n", prog, err)
		}
	}
	hooks := algos.Hooks{
		Snapshots:  func(_ string, iter int) bool { return iter%f.Every == 0 },
		Pretrained: v.SetPretrained,
		Target:     targetOf(v),
		Log:        write,
	}
	// The hooks run on the trainer's goroutine, between the seeds' runs.
	return hooks, func(seed uint64) { dir = filepath.Join(f.Frames, fmt.Sprintf("seed%d", seed)) }
}

// frameName is the file of e's frame: frame_<run>_<iter>.png, and
// frame_<run>_r<round>_<iter>.png in an online method's rounds.
func frameName(e algos.Event) string {
	if e.Round > 0 {
		return fmt.Sprintf("frame_%s_r%d_%05d.png", RunName(e), e.Round, e.Iter)
	}
	return fmt.Sprintf("frame_%s_%05d.png", RunName(e), e.Iter)
}

// open opens the window (nothing without -view) and returns the hooks
// that feed it and the function that closes it.
func (f Flags) open(prog string, v View, out string, stderr io.Writer) (algos.Hooks, func()) {
	if !f.View {
		return algos.Hooks{}, func() {}
	}
	d, err := viewer.OpenDisplay("difftune "+prog, viewer.FrameW, viewer.FrameH, false)
	if err != nil {
		fmt.Fprintf(stderr, "%s: -view: %v; the run goes on without a window\n", prog, err)
		return algos.Hooks{}, func() {}
	}
	onClose := func() {}
	if f.Stop {
		onClose = func() { _ = syscall.Kill(os.Getpid(), syscall.SIGINT) } // the run's clean stop
	}
	live := viewer.NewLive(d, viewer.LiveOptions{SaveDir: out, OnClose: onClose, Log: stderr})
	if Started != nil {
		Started(live)
	}
	replayer, replays := v.(Replayer)
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
		Trajectories: replays,
		Pretrained:   v.SetPretrained,
		Target:       targetOf(v),
		Log: func(e algos.Event) {
			if e.Snapshot == nil {
				return
			}
			e.Snapshot = slices.Clone(e.Snapshot) // the trainer may reuse its batch
			live.Offer(func() *viewer.DrawList { return v.Frame(e) })
			if replays && len(e.Trajectory) > 0 {
				e.Trajectory = slices.Clone(e.Trajectory)
				live.OfferReplay(len(e.Trajectory), func(k int) *viewer.DrawList { return replayer.State(e, k) })
			}
		},
	}
	closeView := func() {
		if err := live.Close(); err != nil {
			fmt.Fprintf(stderr, "%s: -view: %v\n", prog, err)
		}
	}
	return hooks, closeView
}

// targetOf is the Target hook of v: nil unless v draws targets.
func targetOf(v View) func(algos.Reward, float64) {
	if t, ok := v.(Targeter); ok {
		return t.SetTarget
	}
	return nil
}

// Observe returns h with the watch's hooks added: for a binary that runs
// its fits itself rather than through report.Execute.
func (w Watch) Observe(h algos.Hooks) algos.Hooks {
	return both(h, w.Hooks)
}

// both calls the hooks of a and of b, each where it is set (Snapshots:
// either asks; Trajectories: either wants them).
func both(a, b algos.Hooks) algos.Hooks {
	out := a
	if b.Log != nil {
		out.Log = func(e algos.Event) {
			if a.Log != nil {
				a.Log(e)
			}
			b.Log(e)
		}
	}
	if b.Snapshots != nil {
		out.Snapshots = func(run string, iter int) bool {
			return (a.Snapshots != nil && a.Snapshots(run, iter)) || b.Snapshots(run, iter)
		}
	}
	out.Trajectories = a.Trajectories || b.Trajectories
	if b.Pretrained != nil {
		out.Pretrained = func(x []float64) {
			if a.Pretrained != nil {
				a.Pretrained(x)
			}
			b.Pretrained(x)
		}
	}
	if b.Target != nil {
		out.Target = func(r algos.Reward, alpha float64) {
			if a.Target != nil {
				a.Target(r, alpha)
			}
			b.Target(r, alpha)
		}
	}
	if b.Progress != nil || b.Notice != nil {
		panic("watch: both keeps only the first hooks' Progress and Notice")
	}
	return out
}
