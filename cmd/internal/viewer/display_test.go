//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64) && !noview

package viewer

import (
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/difftune/difftune/cmd/internal/viewer/xvfb"
)

// The window tests need glfw's calls on the main thread, as a binary
// makes them.
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	code := 0
	RunMain(func() { code = m.Run() })
	os.Exit(code)
}

// openTestDisplay opens a frame-sized window under a fresh Xvfb, with the
// validation layer, at the screen's top left corner.
func openTestDisplay(t *testing.T) (*Display, *xvfb.Server) {
	t.Helper()
	srv := xvfb.Start(t, 800, 600)
	t.Setenv("DISPLAY", srv.Display)
	t.Setenv("WAYLAND_DISPLAY", "")
	d, err := OpenDisplay("difftune viewer test", FrameW, FrameH, true)
	if err != nil {
		if os.Getenv("CI") == "true" || !strings.Contains(err.Error(), "Vulkan") {
			t.Fatalf("OpenDisplay under Xvfb: %v", err)
		}
		t.Skipf("no Vulkan device that presents: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	d.SetPos(0, 0) // no window manager under Xvfb: the window goes where it is put
	return d, srv
}

// sub is the w × h part of img at (x, y), as RGB (the screen has no alpha).
func sub(img *image.RGBA, x, y, w, h int) []byte {
	out := make([]byte, 0, 3*w*h)
	for yy := y; yy < y+h; yy++ {
		for xx := x; xx < x+w; xx++ {
			c := img.RGBAAt(xx, yy)
			out = append(out, c.R, c.G, c.B)
		}
	}
	return out
}

// screenShows waits (up to 10 s: the presentation engine copies to the X
// server on its own time) until the screen shows want at the window's
// place, and reports how far it was otherwise.
func screenShows(t *testing.T, d *Display, srv *xvfb.Server, want *image.RGBA) {
	t.Helper()
	w, h := want.Bounds().Dx(), want.Bounds().Dy()
	exp := sub(want, 0, 0, w, h)
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		d.Poll()
		x, y := d.Pos()
		screen, err := srv.Screen()
		if err != nil {
			t.Fatal(err)
		}
		got := sub(screen, x, y, w, h)
		diff, worst := 0, 0
		for i := range got {
			if dv := int(got[i]) - int(exp[i]); dv != 0 {
				diff++
				worst = max(worst, dv, -dv)
			}
		}
		if diff == 0 {
			return
		}
		last = fmt.Sprintf("window at (%d, %d): %d of %d channels differ, by up to %d", x, y, diff, len(got), worst)
	}
	t.Fatalf("the screen never showed the frame: %s", last)
}

// TestDisplayShowsTheFrame: a gmm2d frame shown in the window is on the
// X server's screen pixel for pixel as the plain-Go reference draws it
// offscreen, the current samples' lit pixels are centred on their mean,
// and the validation layer reports nothing.
func TestDisplayShowsTheFrame(t *testing.T) {
	d, srv := openTestDisplay(t)
	rng := rand.New(rand.NewPCG(7, 8))
	plane := testPlane()
	const mx, my = 1.5, -2.0
	x := gaussians(rng, 400, mx, my, 0.4)
	list := plane.Frame(x, "ELEGANT  ITER 5  R^ 1.234", "GMM2D TEST")
	shown, presented, err := d.Show(list)
	if err != nil || !presented {
		t.Fatalf("Show: presented %v, %v", presented, err)
	}
	ref := RenderCPU(list)
	if string(shown.Pix) != string(ref.Pix) {
		t.Fatal("the frame the window drew differs from the offscreen reference")
	}
	screenShows(t, d, srv, ref)

	// The current samples' colour, over the plot, in the window's pixels.
	wx, wy := d.Pos()
	screen, err := srv.Screen()
	if err != nil {
		t.Fatal(err)
	}
	var sx, sy, n float64
	for yy := range FrameH {
		for xx := range FrameW {
			c := screen.RGBAAt(wx+xx, wy+yy)
			if c.B > 200 && c.G > 170 && c.R < 140 && yy > 40 {
				sx, sy, n = sx+float64(xx)+0.5, sy+float64(yy)+0.5, n+1
			}
		}
	}
	var ex, ey float64
	for i := 0; i < len(x); i += 2 {
		ex, ey = ex+x[i], ey+x[i+1]
	}
	px, py := plane.PointToPixel(ex/400, ey/400)
	if n < 100 || math.Hypot(sx/n-px, sy/n-py) > 2 {
		t.Errorf("the samples' pixels (%v lit) are centred at (%.1f, %.1f); their mean maps to (%.1f, %.1f)", n, sx/n, sy/n, px, py)
	}
	if msgs := d.Messages(); len(msgs) > 0 {
		t.Errorf("the validation layer reported %d messages: %s", len(msgs), strings.Join(msgs, "\n"))
	}
}

// TestDisplayManyFrames shows small random frames (every kind of item, 96
// × 64 pixels at the top left of the window: a full gmm2d frame takes
// lavapipe 50 ms to draw) -frames-many times (10⁴ for the check,
// 1000 by default) and checks
// that the validation layer stays silent and that neither memory (the
// process's resident set, the Go heap) nor file descriptors grow between
// the first tenth of the frames and the end.
func TestDisplayManyFrames(t *testing.T) {
	d, _ := openTestDisplay(t)
	n := *manyFrames
	rng := rand.New(rand.NewPCG(9, 10))
	var heap0, rss0 uint64
	var fds0 int
	start := time.Now()
	skipped := 0
	for i := range n {
		if i == n/10 {
			heap0, rss0, fds0 = usage(t)
		}
		list := randomList(rng, 96, 64)
		if _, presented, err := d.Show(list); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		} else if !presented {
			skipped++
		}
		if keys, closing := d.Poll(); len(keys) > 0 || closing {
			t.Fatalf("frame %d: keys %v, closing %v without a user", i, keys, closing)
		}
	}
	heap1, rss1, fds1 := usage(t)
	t.Logf("%d frames in %v (%d not presented); heap %d → %d KiB, RSS %d → %d KiB, fds %d → %d",
		n, time.Since(start).Round(time.Millisecond), skipped, heap0>>10, heap1>>10, rss0>>10, rss1>>10, fds0, fds1)
	if skipped > n/100 {
		t.Errorf("%d of %d frames were not presented", skipped, n)
	}
	if fds1 > fds0 {
		t.Errorf("file descriptors grew from %d to %d", fds0, fds1)
	}
	if heap1 > heap0+4<<20 {
		t.Errorf("the Go heap grew from %d to %d KiB", heap0>>10, heap1>>10)
	}
	if rss1 > rss0+32<<20 {
		t.Errorf("the resident set grew from %d to %d KiB", rss0>>10, rss1>>10)
	}
	if msgs := d.Messages(); len(msgs) > 0 {
		t.Errorf("the validation layer reported %d messages: %s", len(msgs), strings.Join(msgs, "\n"))
	}
}

var manyFrames = flag.Int("frames-many", 1000, "frames of TestDisplayManyFrames")

// usage is the Go heap after a collection, the resident set and the open
// file descriptors of the process.
func usage(t *testing.T) (heap, rss uint64, fds int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	var size, res uint64
	if _, err := fmt.Sscan(string(statm), &size, &res); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return ms.HeapAlloc, res * uint64(os.Getpagesize()), len(ents)
}

// press queues keys as if the user had pressed them (the window system's
// key events land in the same queue).
func press(d *Display, keys ...Key) {
	d.mu.Lock()
	d.keys = append(d.keys, keys...)
	d.mu.Unlock()
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestLiveKeys: the live viewer draws what is offered; s saves the frame
// shown (the PNG is the offscreen reference's image); space freezes the
// display and a second space resumes it with the latest frame offered; r
// replays the rollout offered, every state of a short one, and the frames
// offered meanwhile wait for its end; q closes the window, calls OnClose,
// and later offers are dropped.
func TestLiveKeys(t *testing.T) {
	d, srv := openTestDisplay(t)
	dir := t.TempDir()
	closed := make(chan struct{})
	var log strings.Builder
	l := NewLive(d, LiveOptions{Interval: time.Millisecond, Budget: 1, SaveDir: dir, OnClose: func() { close(closed) }, Log: &log})
	rng := rand.New(rand.NewPCG(11, 12))
	frame := func() *DrawList { return testPlane().Frame(gaussians(rng, 200, -2, 2, 0.5), "LIVE") }
	first := frame()
	l.Offer(func() *DrawList { return first })
	waitFor(t, "the first frame", func() bool { return l.Shown() == 1 })
	screenShows(t, d, srv, RenderCPU(first))
	press(d, KeySave)
	waitFor(t, "the saved frame", func() bool { return len(l.Saved()) == 1 })
	f, err := os.Open(l.Saved()[0])
	if err != nil {
		t.Fatal(err)
	}
	saved, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ref := RenderCPU(first)
	if got := image.NewRGBA(saved.Bounds()); true {
		draw.Draw(got, got.Bounds(), saved, image.Point{}, draw.Src)
		if string(got.Pix) != string(ref.Pix) {
			t.Error("the saved PNG is not the frame shown")
		}
	}

	press(d, KeyPause)
	time.Sleep(100 * time.Millisecond) // the viewer takes the key
	second := frame()
	l.Offer(func() *DrawList { return second })
	time.Sleep(300 * time.Millisecond)
	if n := l.Shown(); n != 1 {
		t.Fatalf("paused, the viewer drew %d frames, want 1", n)
	}
	press(d, KeyPause)
	waitFor(t, "the frame after the pause", func() bool { return l.Shown() == 2 })
	screenShows(t, d, srv, RenderCPU(second))

	press(d, KeyReplay) // nothing to replay yet
	waitFor(t, "the viewer to say so", func() bool { return strings.Contains(log.String(), "no rollout to replay") })
	states := make([]*DrawList, 7)
	for k := range states {
		states[k] = testPlane().Frame(gaussians(rng, 100, float64(k)-3, 0, 0.3), fmt.Sprintf("REPLAY %d", k))
	}
	l.OfferReplay(len(states), func(k int) *DrawList { return states[k] })
	press(d, KeyReplay)
	time.Sleep(100 * time.Millisecond) // the viewer takes the key
	third := frame()
	l.Offer(func() *DrawList { return third })
	waitFor(t, "the replay", func() bool { return l.Replayed() == len(states) })
	waitFor(t, "the frame offered during the replay", func() bool { return l.Shown() == 3 })
	screenShows(t, d, srv, RenderCPU(third))
	if got := (replay{n: 1000}).steps(); len(got) != replayFrames || got[0] != 0 || got[len(got)-1] != 999 {
		t.Errorf("a replay of 1000 states shows %d of them, from %d to %d; want %d from 0 to 999", len(got), got[0], got[len(got)-1], replayFrames)
	}

	press(d, KeyQuit)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("q did not close the window")
	}
	l.Offer(frame)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := l.Shown(); n != 3 {
		t.Errorf("after q the viewer drew %d frames, want 3", n)
	}
	if !strings.Contains(log.String(), "saved "+l.Saved()[0]) {
		t.Errorf("the log does not name the saved frame: %q", log.String())
	}
}

// TestDisplayRefresh: when another window covers the viewer's and goes
// away, the window system asks for the viewer's pixels again (glfw's
// refresh callback), Refresh presents the last frame once more, and the
// screen shows it; without such a request Refresh presents nothing.
func TestDisplayRefresh(t *testing.T) {
	d, srv := openTestDisplay(t)
	rng := rand.New(rand.NewPCG(9, 10))
	plane := testPlane()
	list := plane.Frame(gaussians(rng, 200, -1, 1, 0.5), "ELEGANT  ITER 1", "REFRESH TEST")
	if _, presented, err := d.Show(list); err != nil || !presented {
		t.Fatalf("Show: presented %v, %v", presented, err)
	}
	ref := RenderCPU(list)
	screenShows(t, d, srv, ref)
	refreshes := func() (int, bool) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.refresh, d.damaged
	}
	// The requests of the window's first mapping, if any came after Show.
	d.Poll()
	if err := d.Refresh(); err != nil {
		t.Fatal(err)
	}
	n0, _ := refreshes()
	d.Poll()
	if err := d.Refresh(); err != nil {
		t.Fatal(err)
	}
	if n, _ := refreshes(); n != n0 {
		t.Fatalf("Refresh presented %d frames with nothing asked", n-n0)
	}

	// A window over the viewer's, then gone: the X server sends the viewer
	// Expose events for what it uncovers.
	var cover *glfw.Window
	var err error
	onMain(func() {
		if cover, err = glfw.CreateWindow(FrameW, FrameH, "cover", nil, nil); err == nil {
			cover.SetPos(0, 0)
		}
	})
	if err != nil {
		t.Fatalf("a second window: %v", err)
	}
	x, y := d.Pos()
	waitFor(t, "the cover window over the viewer's", func() bool {
		d.Poll()
		cx, cy := 0, 0
		onMain(func() { cx, cy = cover.GetPos() })
		return cx == x && cy == y
	})
	onMain(cover.Destroy)
	waitFor(t, "the refresh request", func() bool {
		d.Poll()
		_, damaged := refreshes()
		return damaged
	})
	if err := d.Refresh(); err != nil {
		t.Fatal(err)
	}
	if n, damaged := refreshes(); n != n0+1 || damaged {
		t.Fatalf("after a refresh request, Refresh presented %d frames (want 1), damaged %v", n-n0, damaged)
	}
	screenShows(t, d, srv, ref)
	if msgs := d.Messages(); len(msgs) > 0 {
		t.Errorf("the validation layer reported %d messages: %s", len(msgs), strings.Join(msgs, "\n"))
	}
}
