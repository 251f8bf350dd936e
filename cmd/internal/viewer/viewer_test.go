package viewer

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/difftune/difftune/shaders"
	"github.com/difftune/difftune/tensor"
)

// vulkan returns the Vulkan backend, skipping where none opens, except in
// CI (CI=true), where lavapipe must.
func vulkan(t *testing.T) *shaders.Backend {
	t.Helper()
	b, err := tensor.Open("vulkan")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Vulkan device in CI: %v", err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	return b.(*shaders.Backend)
}

// randomList is a draw list with every kind of item: translucent
// rectangles, text at several scales, images stretched both ways, and
// point layers (overlapping, at several radii, with non-finite and
// off-screen points, and a stride of 3) under several windows.
func randomList(rng *rand.Rand, w, h int) *DrawList {
	col := func() color.RGBA {
		return color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))}
	}
	d := NewDrawList(w, h, col())
	rect := func() image.Rectangle {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		return image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0))
	}
	for range 6 {
		d.Rect(rect().Add(image.Pt(rng.IntN(40)-20, rng.IntN(40)-20)), col()) // partly outside: clipped
		switch rng.IntN(3) {
		case 0:
			img := image.NewRGBA(image.Rect(0, 0, 1+rng.IntN(30), 1+rng.IntN(30)))
			for i := range img.Pix {
				img.Pix[i] = uint8(rng.IntN(256))
			}
			d.Image(rect(), img)
		case 1:
			d.Text(rng.IntN(w)-10, rng.IntN(h), 1+rng.IntN(3), "ELEGANT it 00042 r^=1.25, KL:0.5 (a/b) -x_y% ~", col())
		case 2:
			n, stride := 50+rng.IntN(400), 2+rng.IntN(2)
			xy := make([]float32, n*stride)
			for i := range xy {
				xy[i] = float32(rng.NormFloat64() * 3)
			}
			for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e30, -1e30} {
				xy[rng.IntN(n)*stride+rng.IntN(2)] = bad
			}
			win := Window{-4 + rng.Float64(), 4 + rng.Float64(), -5 * rng.Float64(), 1 + 5*rng.Float64()}
			d.Points(rect(), win, xy, stride, rng.IntN(4), col())
		}
	}
	return d
}

// TestViewVulkanMatchesReference renders random draw lists and a Plane
// frame with the kernels on the Vulkan device and with the plain-Go
// reference: the images must be identical, byte for byte.
func TestViewVulkanMatchesReference(t *testing.T) {
	b := vulkan(t)
	rng := rand.New(rand.NewPCG(1, 2))
	lists := []*DrawList{testPlane().Frame(gaussians(rng, 2000, 1.5, -0.5, 1), "ELEGANT ITER 00005", "R^ 1.234  KL 0.5"), chartsFrame(rng)}
	for _, size := range [][2]int{{203, 157}, {64, 64}, {1, 9}, {640, 480}} {
		for range 3 {
			lists = append(lists, randomList(rng, size[0], size[1]))
		}
	}
	// Past the kernel's 2048 binned items (it then paints every item at
	// every pixel), and just at it.
	for _, n := range []int{2048, 2100} {
		d := randomList(rng, 120, 90)
		for d.Len() < n {
			x, y := rng.IntN(120), rng.IntN(90)
			d.Rect(image.Rect(x, y, x+1+rng.IntN(20), y+1+rng.IntN(20)), color.RGBA{uint8(rng.IntN(256)), 90, 200, uint8(rng.IntN(256))})
		}
		lists = append(lists, d)
	}
	for i, d := range lists {
		want, got := RenderCPU(d), RenderVulkan(b, d)
		if diff := countDiff(want, got); diff > 0 {
			t.Errorf("list %d (%v, %d items): %d of %d pixels differ", i, d.Bounds(), len(d.View().Items)/shaders.ViewItemWords, diff, d.Bounds().Dx()*d.Bounds().Dy())
		}
	}
	// Render picks the device by the backend.
	d := lists[0]
	if countDiff(Render(b, d), Render(tensor.CPUReference(), d)) != 0 {
		t.Error("Render differs between the Vulkan and the CPU backends")
	}
}

func countDiff(a, b *image.RGBA) int {
	n := 0
	for i := 0; i < len(a.Pix); i += 4 {
		if string(a.Pix[i:i+4]) != string(b.Pix[i:i+4]) {
			n++
		}
	}
	return n
}

func testPlane() *Plane {
	p := NewPlane(Window{-6, 6, -6, 6}, perPoint(func(x, y float64) float64 {
		return math.Log(math.Exp(-((x-4)*(x-4)+y*y)/0.5) + math.Exp(-(x*x+(y-4)*(y-4))/0.5))
	}))
	p.SetPretrained(gaussians(rand.New(rand.NewPCG(3, 4)), 1000, 0, 0, 3))
	return p
}

// perPoint makes a batch log density of a function of one point.
func perPoint(f func(x, y float64) float64) func([]float64) []float64 {
	return func(xy []float64) []float64 {
		out := make([]float64, len(xy)/2)
		for i := range out {
			out[i] = f(xy[2*i], xy[2*i+1])
		}
		return out
	}
}

// gaussians draws n points of N((mx, my), s²I), rows of 2.
func gaussians(rng *rand.Rand, n int, mx, my, s float64) []float64 {
	x := make([]float64, 2*n)
	for i := range n {
		x[2*i], x[2*i+1] = mx+s*rng.NormFloat64(), my+s*rng.NormFloat64()
	}
	return x
}

// renderers are the implementations to check: the reference, and the
// kernels where a Vulkan device opens (in CI, lavapipe must).
func renderers(t *testing.T) map[string]func(*DrawList) *image.RGBA {
	r := map[string]func(*DrawList) *image.RGBA{"cpu": RenderCPU}
	if b, err := tensor.Open("vulkan"); err == nil {
		r["vulkan"] = func(d *DrawList) *image.RGBA { return RenderVulkan(b.(*shaders.Backend), d) }
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("no Vulkan device in CI: %v", err)
	}
	return r
}

// TestPointsCentroid: points alone on black, spread so that few discs
// overlap; the centroid of the lit pixels, mapped back to the plane, is the
// samples' mean (within a pixel: a disc of radius 1 around ⌊p⌋ is centred
// half a pixel from p), in both axes (y points up).
func TestPointsCentroid(t *testing.T) {
	for name, render := range renderers(t) {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			win := Window{-6, 6, -6, 6}
			const w = 400
			for _, m := range [][2]float64{{1.5, -2}, {-3, 2.5}} {
				x := gaussians(rng, 300, m[0], m[1], 1)
				d := NewDrawList(w, w, color.RGBA{A: 255})
				d.Points(d.Bounds(), win, Float32s(x), 2, 1, color.RGBA{255, 255, 255, 255})
				img := render(d)
				var sx, sy, n float64
				for y := range w {
					for xx := range w {
						if img.RGBAAt(xx, y).R > 128 {
							sx, sy, n = sx+float64(xx)+0.5, sy+float64(y)+0.5, n+1
						}
					}
				}
				var mx, my float64
				for i := 0; i < len(x); i += 2 {
					mx, my = mx+x[i], my+x[i+1]
				}
				mx, my = mx/300, my/300
				px := win.XMin + (sx/n-0.5)/w*(win.XMax-win.XMin) // the centres sit at ⌊p⌋ + 0.5
				py := win.YMax - (sy/n-0.5)/w*(win.YMax-win.YMin)
				if tol := 1.5 * 12.0 / w; math.Abs(px-mx) > tol || math.Abs(py-my) > tol {
					t.Errorf("mean (%.3f, %.3f): lit pixels' centroid at (%.3f, %.3f), %v lit", mx, my, px, py, n)
				}
			}
		})
	}
}

// TestDiscs: one point lights the disc (X−⌊px⌋)² + (Y−⌊py⌋)² ≤ r² + r:
// 1, 9 and 21 pixels at radii 0, 1, 2; a point just outside the window
// lights the part of its disc inside; non-finite and far points light
// nothing.
func TestDiscs(t *testing.T) {
	win := Window{0, 20, 0, 20} // one unit a pixel, y up
	lit := func(render func(*DrawList) *image.RGBA, radius int, pts ...float32) int {
		d := NewDrawList(20, 20, color.RGBA{A: 255})
		d.Points(d.Bounds(), win, pts, 2, radius, color.RGBA{0, 255, 0, 255})
		img, n := render(d), 0
		for i := 1; i < len(img.Pix); i += 4 {
			if img.Pix[i] == 255 {
				n++
			}
		}
		return n
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for name, render := range renderers(t) {
		for r, want := range []int{1, 9, 21} {
			if n := lit(render, r, 10.5, 10.5); n != want {
				t.Errorf("%s: radius %d lit %d pixels, want %d", name, r, n, want)
			}
		}
		if n := lit(render, 1, -0.5, 10.5); n != 3 {
			t.Errorf("%s: a point half a pixel left of the window lit %d pixels, want its disc's right column (3)", name, n)
		}
		if n := lit(render, 2, nan, 5, 5, nan, inf, 5, 5, -inf, 1e9, 5, -40, 5, 5, 27); n != 0 {
			t.Errorf("%s: non-finite and off-screen points lit %d pixels", name, n)
		}
	}
}

// TestText: a glyph at scale 1 lights exactly the cells its rows mark,
// lower case draws as upper case, and text that leaves the frame is cut
// glyph by glyph.
func TestText(t *testing.T) {
	for name, render := range renderers(t) {
		for _, s := range []string{"0", "K", "%", "r", "?"} {
			d := NewDrawList(glyphW, glyphH, color.RGBA{A: 255})
			d.Text(0, 0, 1, s, color.RGBA{255, 255, 255, 255})
			img := render(d)
			rows := strings.Split(glyphRows[rune(strings.ToUpper(s)[0])], "|")
			for y, row := range rows {
				for x, c := range row {
					if on := img.RGBAAt(x, y).R == 255; on != (c == '#') {
						t.Errorf("%s: glyph %q cell (%d, %d) lit %v, want %v", name, s, x, y, on, c == '#')
					}
				}
			}
		}
	}
	d := NewDrawList(20, 20, color.RGBA{})
	if next := d.Text(2, 3, 2, "AB", color.RGBA{}); next != 2+2*12 || TextWidth("AB", 2) != 24 {
		t.Errorf("Text advanced to %d, TextWidth %d", next, TextWidth("AB", 2))
	}
	if n := len(d.View().Items) / shaders.ViewItemWords; n != 1 {
		t.Errorf("text 20 pixels wide in a 20-pixel frame kept %d glyphs, want the first only", n)
	}
	if g := glyphOf('é'); g != glyphIndex['?'] {
		t.Errorf("a rune without a glyph draws glyph %d, not '?'", g)
	}
}

// TestPlaneFrame: a Plane frame shows the heat map where the density is
// high, bright points where the current samples are, and the status text.
func TestPlaneFrame(t *testing.T) {
	p := testPlane()
	empty := RenderCPU(p.Frame(nil))
	hx, hy := p.PointToPixel(4, 0) // a mode of the density
	lx, ly := p.PointToPixel(-4, -4)
	if hot, cold := empty.RGBAAt(int(hx), int(hy)), empty.RGBAAt(int(lx), int(ly)); int(hot.R)+int(hot.G) <= int(cold.R)+int(cold.G)+100 {
		t.Errorf("heat map at a mode %v, far from it %v", hot, cold)
	}
	x := []float64{-4, -4}
	img := RenderCPU(p.Frame(x, "ITER 1"))
	if c := img.RGBAAt(int(lx), int(ly)); c.B < 180 || c.G < 160 || c.R > 120 {
		t.Errorf("a current sample's pixel is %v, not cyan", c)
	}
	if countDiff(RenderCPU(p.Frame(x, "ITER 1")), RenderCPU(p.Frame(x, "ITER 2"))) == 0 {
		t.Error("the status line does not show in the frame")
	}
	if countDiff(img, RenderCPU(p.Frame(x, "ITER 1"))) != 0 {
		t.Error("the same frame renders differently twice")
	}
}

// TestBadInputsPanic: sizes, rectangles, windows, strides and scales that
// the package documents as programmer errors panic.
func TestBadInputsPanic(t *testing.T) {
	d := NewDrawList(10, 10, color.RGBA{})
	win := Window{0, 1, 0, 1}
	for name, f := range map[string]func(){
		"zero width":            func() { NewDrawList(0, 10, color.RGBA{}) },
		"huge frame":            func() { NewDrawList(1<<15, 10, color.RGBA{}) },
		"image outside":         func() { d.Image(image.Rect(5, 5, 11, 8), image.NewRGBA(image.Rect(0, 0, 2, 2))) },
		"empty image":           func() { d.Image(image.Rect(0, 0, 2, 2), image.NewRGBA(image.Rect(0, 0, 0, 2))) },
		"points outside":        func() { d.Points(image.Rect(-1, 0, 5, 5), win, nil, 2, 1, color.RGBA{}) },
		"empty window":          func() { d.Points(d.Bounds(), Window{1, 1, 0, 1}, nil, 2, 1, color.RGBA{}) },
		"NaN window":            func() { d.Points(d.Bounds(), Window{0, 1, math.NaN(), 1}, nil, 2, 1, color.RGBA{}) },
		"stride 1":              func() { d.Points(d.Bounds(), win, []float32{1, 2}, 1, 1, color.RGBA{}) },
		"ragged rows":           func() { d.Points(d.Bounds(), win, []float32{1, 2, 3}, 2, 1, color.RGBA{}) },
		"negative radius":       func() { d.Points(d.Bounds(), win, nil, 2, -1, color.RGBA{}) },
		"text scale 0":          func() { d.Text(0, 0, 0, "A", color.RGBA{}) },
		"odd pretrained":        func() { testPlane().SetPretrained([]float64{1, 2, 3}) },
		"odd current samples":   func() { testPlane().Frame([]float64{1}) },
		"plane of empty window": func() { NewPlane(Window{0, 0, 0, 1}, perPoint(func(x, y float64) float64 { return 1 })) },
		"short log density":     func() { NewPlane(Window{0, 1, 0, 1}, func([]float64) []float64 { return []float64{1} }) },
		"glyph outside":         func() { d.Glyph(image.Rect(5, 5, 11, 8), 'A', color.RGBA{}) },
		"histogram of 0 bins":   func() { Histogram(d, d.Bounds(), 0, 1, 0) },
		"histogram of no range": func() { Histogram(d, d.Bounds(), 1, 1, 3) },
		"logo, short counts":    func() { Logo(d, d.Bounds(), "AC", []color.RGBA{{}, {}}, [][]int{{1}}) },
		"logo, few colours":     func() { Logo(d, d.Bounds(), "AC", []color.RGBA{{}}, [][]int{{1, 2}}) },
		"grid of part images":   func() { Grid(d, d.Bounds(), 2, 2, []float64{1, 2, 3}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
