package viewer

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/difftune/difftune/nn/atomicfile"
)

// LiveOptions configure a Live viewer.
type LiveOptions struct {
	// Interval is the least time between two frames drawn (0: 250 ms).
	Interval time.Duration
	// Budget is the largest fraction of the wall time spent drawing (0:
	// 2.5 %): after a frame that took d to draw, the next waits at least
	// d/Budget. On a GPU a frame takes a millisecond and Interval rules;
	// lavapipe, a CPU device, takes 60–70 ms of both cores of a 2-core
	// machine for a gmm2d frame, so there a frame comes every 2.5 s and
	// the run slows by about the budget.
	Budget float64
	// SaveDir receives the frames saved with the s key, as
	// view_<n>.png, n the first number free ("": the current directory).
	SaveDir string
	// OnClose, if set, is called once, on the viewer's goroutine, when the
	// user closes the window (q, Escape or the window's close button).
	OnClose func()
	// Log receives one line per frame saved and per problem (nil: none).
	Log io.Writer
}

// Live shows the frames a run offers in a Display, on a goroutine of its
// own: Offer never waits for the window, and a frame offered while another
// is pending replaces it. Keys: space freezes the display (not the run),
// s saves the frame shown as PNG, r replays the last rollout offered
// (OfferReplay) step by step, q or Escape closes the window (the run goes
// on unless OnClose stops it).
type Live struct {
	d    *Display
	opt  LiveOptions
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	pending  func() *DrawList
	replay   replay
	ended    bool
	err      error
	shown    int
	offered  int // rollouts offered for replay
	replayed int
	saved    []string
}

// replay is a rollout to replay: frame(k) draws its state k of n.
type replay struct {
	n     int
	frame func(k int) *DrawList
}

// A replay shows at most replayFrames of the rollout's states, evenly
// spaced, the first and the last among them, one every replayEvery at
// most: the user asked for it, so it is not held to the Budget (on
// lavapipe a replay of a gmm2d rollout takes about 4 s of both cores).
const (
	replayFrames = 60
	replayEvery  = 50 * time.Millisecond
)

// steps are the states a replay of n shows.
func (r replay) steps() []int {
	if r.n <= replayFrames {
		ks := make([]int, r.n)
		for k := range ks {
			ks[k] = k
		}
		return ks
	}
	ks := make([]int, replayFrames)
	for i := range ks {
		ks[i] = i * (r.n - 1) / (replayFrames - 1)
	}
	return ks
}

// pollEvery is how often the viewer takes the window system's events (the
// keys' latency), and presents the frame shown again if the window lost
// its pixels. Each poll wakes the window's thread: fewer polls take less
// from the run.
const pollEvery = 50 * time.Millisecond

// NewLive starts showing frames in d; Close ends it and closes d.
func NewLive(d *Display, opt LiveOptions) *Live {
	if opt.Interval <= 0 {
		opt.Interval = 250 * time.Millisecond
	}
	if !(opt.Budget > 0) {
		opt.Budget = 0.025
	}
	l := &Live{d: d, opt: opt, stop: make(chan struct{}), done: make(chan struct{})}
	go l.loop()
	return l
}

// Offer hands the viewer a frame to draw: build runs on the viewer's
// goroutine, so it must not share mutable state with the caller.
func (l *Live) Offer(build func() *DrawList) {
	l.mu.Lock()
	if !l.ended {
		l.pending = build
	}
	l.mu.Unlock()
}

// OfferReplay hands the viewer the rollout behind the latest frame, n
// states (n ≥ 1), for the r key: frame(k) draws state k, on the viewer's
// goroutine (as Offer's build: it must not share mutable state with the
// caller). It replaces the rollout offered before.
func (l *Live) OfferReplay(n int, frame func(k int) *DrawList) {
	if n < 1 {
		panic(fmt.Sprintf("viewer: a replay of %d states", n))
	}
	l.mu.Lock()
	if !l.ended {
		l.replay = replay{n, frame}
		l.offered++
	}
	l.mu.Unlock()
}

// Rollouts is the number of rollouts offered for replay so far.
func (l *Live) Rollouts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.offered
}

// Replayed is the number of replay frames drawn so far.
func (l *Live) Replayed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.replayed
}

// Shown is the number of frames drawn so far.
func (l *Live) Shown() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shown
}

// Saved lists the files the s key wrote.
func (l *Live) Saved() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.saved...)
}

// Close stops the viewer, closes the window if the user has not, and
// returns the first error the window met (the run never sees it).
func (l *Live) Close() error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Live) logf(format string, args ...any) {
	if l.opt.Log != nil {
		fmt.Fprintf(l.opt.Log, format+"\n", args...)
	}
}

func (l *Live) loop() {
	// Drawing runs at the lowest priority, on a thread of its own that ends
	// with the loop (a locked goroutine's thread exits with it).
	runtime.LockOSThread()
	lowerPriority()
	defer close(l.done)
	defer l.end()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last *image.RGBA
	var drawn time.Time
	wait := l.opt.Interval // before the next frame
	paused := false
	var playing replay // the replay in progress, if frame is set
	var steps []int    // its states still to show
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		keys, closing := l.d.Poll()
		for _, k := range keys {
			switch k {
			case KeyPause:
				paused = !paused
			case KeySave:
				l.save(last)
			case KeyReplay:
				l.mu.Lock()
				playing = l.replay
				l.mu.Unlock()
				if playing.frame == nil {
					l.logf("viewer: no rollout to replay yet")
				}
				steps = playing.steps()
			case KeyQuit:
				closing = true
			}
		}
		if closing {
			if l.opt.OnClose != nil {
				l.opt.OnClose()
			}
			return
		}
		var build func() *DrawList
		replaying := playing.frame != nil && len(steps) > 0
		switch {
		case paused:
		case replaying && time.Since(drawn) >= replayEvery:
			f, k := playing.frame, steps[0]
			build, steps = func() *DrawList { return f(k) }, steps[1:]
		case !replaying:
			l.mu.Lock()
			if build = l.pending; build != nil && time.Since(drawn) >= wait {
				l.pending = nil
			} else {
				build = nil
			}
			l.mu.Unlock()
		}
		var err error
		switch {
		case build != nil:
			start := time.Now()
			last, _, err = l.d.Show(build())
			drawn = time.Now()
			wait = max(l.opt.Interval, time.Duration(float64(drawn.Sub(start))/l.opt.Budget))
			l.mu.Lock()
			if replaying {
				l.replayed++
			} else {
				l.shown++
			}
			l.mu.Unlock()
		default:
			err = l.d.Refresh()
		}
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			l.logf("viewer: %v; the window closes, the run goes on", err)
			return
		}
	}
}

// end closes the window and refuses further frames.
func (l *Live) end() {
	l.mu.Lock()
	l.ended, l.pending, l.replay = true, nil, replay{}
	l.mu.Unlock()
	if err := l.d.Close(); err != nil {
		l.mu.Lock()
		if l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
	}
}

// save writes img (the frame shown) as the next view_<n>.png of SaveDir.
func (l *Live) save(img *image.RGBA) {
	if img == nil {
		l.logf("viewer: no frame to save yet")
		return
	}
	var path string
	for n := 0; ; n++ { // the first free name: frames of earlier runs stay
		path = filepath.Join(l.opt.SaveDir, fmt.Sprintf("view_%04d.png", n))
		if _, err := os.Lstat(path); os.IsNotExist(err) {
			break
		}
	}
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	if err == nil {
		err = atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) })
	}
	if err != nil {
		l.logf("viewer: saving the frame: %v", err)
		return
	}
	l.mu.Lock()
	l.saved = append(l.saved, path)
	l.mu.Unlock()
	l.logf("viewer: saved %s", path)
}
