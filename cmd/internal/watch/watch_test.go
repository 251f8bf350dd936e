package watch

import (
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/cmd/internal/cli"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

// otherTask is a task without a view.
type otherTask struct{ algos.Task }

func (otherTask) Name() string { return "other" }

// TestCheck: the flags' misuses are usage errors that say what to do.
func TestCheck(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	gmm := tasks.NewGMM2D(true)
	for _, c := range []struct {
		f    Flags
		task algos.Task
		says string
	}{
		{Flags{Stop: true}, gmm, "-view-stop needs -view"},
		{Flags{View: true}, otherTask{}, "-task fmnist, gmm2d, tfbind8, not other"},
		{Flags{Frames: t.TempDir(), Every: 0}, gmm, "-frames-every must be ≥ 1"},
		{Flags{Frames: file, Every: 1}, gmm, "is a file"},
	} {
		err := c.f.Check(c.task)
		var ue cli.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %v, want a usage error saying %q", c.f, err, c.says)
		}
	}
	for _, f := range []Flags{{}, {View: true, Stop: true}, {Frames: t.TempDir(), Every: 3}} {
		if err := f.Check(gmm); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	if got := frameName(algos.Event{Method: "seiko-ucb", Round: 3, Iter: 7}); got != "frame_seiko-ucb_r3_00007.png" {
		t.Errorf("a frame of round 3 is %s", got)
	}
	if got := frameName(algos.Event{Method: "elegant", Run: "elegant-a2", Iter: 12}); got != "frame_elegant-a2_00012.png" {
		t.Errorf("a frame of run elegant-a2 is %s", got)
	}
}

// lit counts the pixels of img in r whose colour is c.
func lit(img *image.RGBA, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

// TestSequenceView: a batch of one sequence draws a logo of that
// sequence's letters only, each column full height, and its histogram
// bar in the bin of its y, over the pre-trained model's bars.
func TestSequenceView(t *testing.T) {
	task := tasks.NewTFBind8(true)
	if err := task.Load(); err != nil {
		t.Fatal(err)
	}
	v, err := newSequenceView(task, algos.Plan{})
	if err != nil {
		t.Fatal(err)
	}
	y := task.LandscapeData().Y
	best := 0
	for i := range y {
		if y[i] > y[best] {
			best = i
		}
	}
	v.SetPretrained(tasks.OneHots([]int{0, 1, 2, 3, 4, 5, 6, 7}))
	img := viewer.RenderCPU(v.Frame(algos.Event{Method: "elegant", Phase: "drift", Snapshot: tasks.OneHots(slices.Repeat([]int{best}, 10))}))
	seq := tasks.SeqString(best)
	for i := range tasks.SeqLen {
		col := image.Rect(logoRect.Min.X+i*logoRect.Dx()/tasks.SeqLen, logoRect.Min.Y, logoRect.Min.X+(i+1)*logoRect.Dx()/tasks.SeqLen, logoRect.Max.Y)
		for a, c := range letters {
			n := lit(img, col, c)
			if want := tasks.Alphabet[a] == seq[i]; (n > 0) != want {
				t.Errorf("logo position %d (%c): %d pixels of %c's colour", i+1, seq[i], n, tasks.Alphabet[a])
			}
		}
		top := image.Rect(col.Min.X, col.Min.Y, col.Max.X, col.Min.Y+4)
		if lit(img, top, letters[strings.IndexByte(tasks.Alphabet, seq[i])]) == 0 {
			t.Errorf("logo position %d is not full height", i+1)
		}
	}
	// The best sequence's y is the range's top: the last bin, full height
	// (all ten samples in it), and no current bar elsewhere.
	last := image.Rect(histRect.Min.X+(histBins-1)*histRect.Dx()/histBins, histRect.Min.Y, histRect.Max.X-1, histRect.Min.Y+3)
	if n := lit(img, last, color.RGBA{24, 24, 30, 255}); n != 0 {
		t.Errorf("the top of the last bin shows %d background pixels, want a full bar", n)
	}
	// The current samples' colour is in the last bin only; the
	// pre-trained sequences (AAAAAAAA… of low y) rise as a step line
	// elsewhere.
	lastBin := image.Rect(last.Min.X, histRect.Min.Y, histRect.Max.X, histRect.Max.Y)
	if n, in := lit(img, histRect, curBars), lit(img, lastBin, curBars); n == 0 || n != in {
		t.Errorf("%d pixels of the current bars, %d of them in the last bin", n, in)
	}
	raised := image.Rect(histRect.Min.X, histRect.Min.Y, last.Min.X, histRect.Max.Y-outlineRise)
	if lit(img, raised, preLine) == 0 {
		t.Error("no step of the pre-trained samples' line")
	}
}

// outlineRise is the rows above a histogram's bottom that an empty bin's
// outline covers, and more.
const outlineRise = 4

// TestImageView: the grid shows the batch's states as grey levels
// (x + 1)/2: a state of +1 is white, of −1 black.
func TestImageView(t *testing.T) {
	task := tasks.NewFMNIST(true)
	v, err := newImageView(task, algos.Plan{})
	if err != nil {
		t.Fatal(err)
	}
	n := tasks.FMNISTPixels
	x := make([]float64, 3*n)
	for i := range n {
		x[i], x[n+i], x[2*n+i] = 1, -1, 0
	}
	d, cells := v.(*imageView).frame(algos.Event{Method: "elegant", Phase: "drift", Snapshot: x,
		Extra: map[string]algos.Number{"genuine": -1.5, "class_fraction": 0.25}})
	if len(cells) != 3 || cells[0].Dx() != 4*tasks.FMNISTSide || !cells[2].In(viewer.Body) {
		t.Fatalf("cells %v, want three at scale 4 in the body %v", cells, viewer.Body)
	}
	img := viewer.RenderCPU(d)
	for k, want := range []uint8{255, 0, 128} {
		for _, p := range []image.Point{cells[k].Min, cells[k].Max.Sub(image.Pt(1, 1))} {
			if got := img.RGBAAt(p.X, p.Y); got != (color.RGBA{want, want, want, 255}) {
				t.Errorf("image %d at %v is %v, want grey %d", k, p, got, want)
			}
		}
	}
}

// TestReplays: each task's view is a Replayer whose states are drawn like
// frames of the state's batch: consecutive states look different, and the
// last state (the samples) is drawn as the frame, only the status lines
// differing.
func TestReplays(t *testing.T) {
	tf := tasks.NewTFBind8(true)
	if err := tf.Load(); err != nil {
		t.Fatal(err)
	}
	n := tasks.FMNISTPixels
	grey := func(v ...float64) []float64 { // images of constant grey levels
		x := make([]float64, 0, len(v)*n)
		for _, g := range v {
			x = append(x, slices.Repeat([]float64{g}, n)...)
		}
		return x
	}
	for _, c := range []struct {
		name string
		view func() (View, error)
		traj [][]float64
	}{
		{"gmm2d", func() (View, error) { return newPlaneView(tasks.NewGMM2D(true), algos.Plan{}) },
			[][]float64{{3, 3, -3, 3}, {1, 1, -1, 1}, {4, 0, 0, 4}}},
		{"tfbind8", func() (View, error) { return newSequenceView(tf, algos.Plan{}) },
			[][]float64{tasks.OneHots([]int{0, 0, 0}), tasks.OneHots([]int{0, 1000, 2000}), tasks.OneHots([]int{5000, 5000, 60000})}},
		{"fmnist", func() (View, error) { return newImageView(tasks.NewFMNIST(true), algos.Plan{}) },
			[][]float64{grey(-1, -1), grey(0, -1), grey(1, 0.5)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := c.view()
			if err != nil {
				t.Fatal(err)
			}
			r, ok := v.(Replayer)
			if !ok {
				t.Fatalf("the %s view does not replay", c.name)
			}
			e := algos.Event{Method: "nokl", Phase: "drift", Iter: 4, Snapshot: c.traj[len(c.traj)-1], Trajectory: c.traj,
				Extra: map[string]algos.Number{"genuine": -1.5, "class_fraction": 0.25}}
			frames := make([]*image.RGBA, len(c.traj))
			for k := range c.traj {
				frames[k] = viewer.RenderCPU(r.State(e, k))
			}
			for k := range len(frames) - 1 {
				if sameIn(frames[k], frames[k+1], viewer.Body) {
					t.Errorf("states %d and %d of the replay look the same", k, k+1)
				}
			}
			if live := viewer.RenderCPU(v.Frame(e)); !sameIn(frames[len(frames)-1], live, viewer.Body) {
				t.Error("the replay's last state is not drawn as the frame")
			}
		})
	}
}

// sameIn reports whether a and b agree in r.
func sameIn(a, b *image.RGBA, r image.Rectangle) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.RGBAAt(x, y) != b.RGBAAt(x, y) {
				return false
			}
		}
	}
	return true
}

// TestPlaneViewTarget: the heat map is the density of the target the fit
// aims at, p_data·exp(r/α): r = x₁ at α = 1 lights the mode at (4, 0) more
// than that at (−4, 0), r = −x₁ the other way round; an unregularized
// fit (α = 0) keeps the map.
func TestPlaneViewTarget(t *testing.T) {
	v, err := newPlaneView(tasks.NewGMM2D(true), algos.Plan{Alphas: []float64{1}})
	if err != nil {
		t.Fatal(err)
	}
	pv := v.(*planeView)
	bright := func() (right, left int) {
		img := viewer.RenderCPU(v.Frame(algos.Event{Method: "elegant", Phase: "drift"}))
		lum := func(x, y float64) int {
			px, py := pv.plane.PointToPixel(x, y)
			c := img.RGBAAt(int(px), int(py))
			return int(c.R) + int(c.G) + int(c.B)
		}
		return lum(4, 0), lum(-4, 0)
	}
	if r, l := bright(); r <= l {
		t.Errorf("r = x₁: the mode at (4, 0) is %d bright, that at (−4, 0) %d", r, l)
	}
	left, err := tasks.ParseReward("linear:-1,0", 2)
	if err != nil {
		t.Fatal(err)
	}
	v.(Targeter).SetTarget(left, 1)
	r, l := bright()
	if r >= l {
		t.Errorf("r = −x₁: the mode at (4, 0) is %d bright, that at (−4, 0) %d", r, l)
	}
	v.(Targeter).SetTarget(tasks.QuadraticReward{}, 0)
	if r2, l2 := bright(); r2 != r || l2 != l {
		t.Error("an unregularized fit changed the map")
	}
}
