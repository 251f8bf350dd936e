package viewer

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var (
	red   = color.RGBA{255, 0, 0, 255}
	green = color.RGBA{0, 255, 0, 255}
)

// column is the number of lit (not background) pixels of img in column x
// between rows y0 and y1, and the first lit row.
func column(img *image.RGBA, x, y0, y1 int, bg color.RGBA) (lit, top int) {
	top = -1
	for y := y0; y < y1; y++ {
		if img.RGBAAt(x, y) != bg {
			lit++
			if top < 0 {
				top = y
			}
		}
	}
	return lit, top
}

// TestHistogram: bars are the fraction of each series in the bin, on the
// largest fraction's scale; values outside the range count in the end
// bins, non-finite ones not at all; the series paint in order.
func TestHistogram(t *testing.T) {
	r := image.Rect(20, 10, 120, 110) // 100 × 100, 4 bins of 25 px
	d := NewDrawList(140, 120, color.RGBA{A: 255})
	a := []float64{-3, 0.1, 0.2, 0.9, math.NaN()} // bins 0, 0, 0, 3: 3/4 in bin 0
	b := []float64{0.3, 0.6, 5, math.Inf(1)}      // bins 1, 2, 3: 1/3 each
	peak := Histogram(d, r, 0, 1, 4, Series{Values: a, Colour: red}, Series{Values: b, Colour: green})
	if peak != 0.75 {
		t.Errorf("peak fraction %v, want 0.75", peak)
	}
	inside := color.RGBA{24, 24, 30, 255}
	for name, render := range renderers(t) {
		img := render(d)
		for _, c := range []struct {
			x, height int
			col       color.RGBA
		}{
			{r.Min.X + 12, 100, red}, // bin 0: a's 3/4 is the peak
			{r.Min.X + 25 + 12, int(math.Round(100.0 / 3 / 0.75)), green}, // bin 1: b's 1/3
			{r.Min.X + 75 + 12, int(math.Round(100.0 / 3 / 0.75)), green}, // bin 3: b over a's 1/4
		} {
			lit, top := column(img, c.x, r.Min.Y, r.Max.Y, inside)
			if lit != c.height || top != r.Max.Y-c.height || img.RGBAAt(c.x, r.Max.Y-1) != c.col {
				t.Errorf("%s: column %d: %d px lit from row %d in %v, want %d px of %v", name, c.x, lit, top, img.RGBAAt(c.x, r.Max.Y-1), c.height, c.col)
			}
		}
		// The pixel between two bars stays empty.
		if lit, _ := column(img, r.Min.X+24, r.Min.Y, r.Max.Y, inside); lit != 0 {
			t.Errorf("%s: %d px lit between bars", name, lit)
		}
	}
	if Histogram(NewDrawList(50, 50, color.RGBA{}), image.Rect(0, 0, 50, 50), 0, 1, 3, Series{Values: []float64{math.NaN()}, Colour: red}) != 0 {
		t.Error("a histogram of no finite value has a peak")
	}
}

// TestHistogramOutline: an outline series is a step line along its bars'
// tops, joined between bins, at the bottom for an empty bin.
func TestHistogramOutline(t *testing.T) {
	r := image.Rect(0, 0, 40, 100) // 4 bins of 10 px
	d := NewDrawList(40, 100, color.RGBA{A: 255})
	Histogram(d, r, 0, 4, 4, Series{Values: []float64{0.5, 0.5, 1.5, 3.5}, Colour: red, Outline: true})
	img := RenderCPU(d)
	for _, c := range []struct{ x, y int }{{5, 0}, {5, 1}, {15, 50}, {15, 51}, {25, 98}, {25, 99}, {35, 50}, {35, 51},
		{9, 25}, {19, 75}, {29, 75}} { // the tops, and the joins 0→1, 1→2, 2→3
		if img.RGBAAt(c.x, c.y) != red {
			t.Errorf("the step line misses pixel (%d, %d)", c.x, c.y)
		}
	}
	for _, c := range []struct{ x, y int }{{5, 2}, {5, 60}, {15, 49}, {15, 52}, {25, 97}} {
		if img.RGBAAt(c.x, c.y) == red {
			t.Errorf("pixel (%d, %d) is on the step line, not on it", c.x, c.y)
		}
	}
}

// TestLogo: a position of one letter is a full column of that letter, a
// uniform position is empty, and a position of two letters half and half
// is half as tall (1 bit of 2), both letters stacked in it.
func TestLogo(t *testing.T) {
	r := image.Rect(0, 0, 90, 80) // 3 columns of 30 px
	cols := []color.RGBA{red, green, {0, 0, 255, 255}, {255, 255, 0, 255}}
	d := NewDrawList(90, 80, color.RGBA{A: 255})
	Logo(d, r, "ACGT", cols, [][]int{{0, 9, 0, 0}, {3, 3, 3, 3}, {5, 0, 0, 5}})
	if n := d.Len(); n != 3 {
		t.Errorf("%d glyphs drawn, want 3 (C; nothing; A and T)", n)
	}
	black := color.RGBA{A: 255}
	for name, render := range renderers(t) {
		img := render(d)
		lit0, top0 := column(img, 15, 0, 80, black) // C's middle stroke is its left side; look across
		var colour color.RGBA
		for x := 2; x < 28; x++ {
			if c := img.RGBAAt(x, 40); c != black {
				colour = c
			}
		}
		if colour != green || top0 > 2 || lit0 == 0 {
			t.Errorf("%s: the one-letter column is %v from row %d, want C's green from the top", name, colour, top0)
		}
		for x := 30; x < 60; x++ {
			if lit, _ := column(img, x, 0, 80, black); lit != 0 {
				t.Fatalf("%s: the uniform column has %d px lit at x = %d", name, lit, x)
			}
		}
		// 1 bit: the stack fills the lower half, T (last of the tie) on top.
		var top int = 80
		for x := 62; x < 88; x++ {
			if _, t := column(img, x, 0, 80, black); t >= 0 {
				top = min(top, t)
			}
		}
		if top < 38 || top > 42 {
			t.Errorf("%s: the 1-bit column starts at row %d, want about 40", name, top)
		}
	}
}

// TestGrid: images at the largest scale at which all fit, in rows,
// centred, their pixels grey levels; those that do not fit at scale 1 are
// left out.
func TestGrid(t *testing.T) {
	r := image.Rect(4, 4, 36, 24) // 32 × 20
	pix := []float64{0, 1, 0.5, 2, 1, 1, 1, 1, -1, math.NaN(), 0, 0}
	d := NewDrawList(40, 30, color.RGBA{A: 255})
	cells := Grid(d, r, 2, 2, pix)
	// Scale 4: cells of 8 + a gap of 2, three of them (28 px) in one row
	// (8 px) centred in 32 × 20.
	want := []image.Rectangle{image.Rect(6, 10, 14, 18), image.Rect(16, 10, 24, 18), image.Rect(26, 10, 34, 18)}
	if !slices.Equal(cells, want) {
		t.Fatalf("cells %v, want %v", cells, want)
	}
	for name, render := range renderers(t) {
		img := render(d)
		// Image 0's pixel (1, 0) is white, (0, 1) is 0.5, (0, 0) black;
		// image 1 white, image 2 black.
		for _, c := range []struct {
			x, y int
			g    uint8
		}{{6 + 5, 10 + 1, 255}, {6 + 1, 10 + 5, 128}, {6 + 1, 10 + 1, 0}, {16 + 3, 10 + 3, 255}, {26 + 6, 10 + 6, 0}} {
			if got := img.RGBAAt(c.x, c.y); got != (color.RGBA{c.g, c.g, c.g, 255}) {
				t.Errorf("%s: pixel (%d, %d) is %v, want grey %d", name, c.x, c.y, got, c.g)
			}
		}
	}
	many := make([]float64, 4*200)
	if n := len(Grid(NewDrawList(40, 30, color.RGBA{}), r, 2, 2, many)); n != 8*5 { // cells of 2 + 2: (32 + 2)/4 by (20 + 2)/4
		t.Errorf("%d of 200 images drawn at scale 1, want %d", n, 8*5)
	}
}

// chartsFrame is a frame with every chart, for the kernels' parity test.
func chartsFrame(rng *rand.Rand) *DrawList {
	d := NewFrame("TFBIND8  ITER 3", "LOGO AND GRID")
	vals := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.Float64()
		}
		return v
	}
	Histogram(d, image.Rect(10, 60, 300, 300), 0, 1, 20, Series{Values: vals(50), Colour: curColour}, Series{Values: vals(300), Colour: textColour, Outline: true})
	counts := make([][]int, 8)
	for i := range counts {
		counts[i] = []int{rng.IntN(20), rng.IntN(5), rng.IntN(50), rng.IntN(3)}
	}
	Logo(d, image.Rect(320, 60, 630, 300), "ACGT", []color.RGBA{red, green, curColour, textColour}, counts)
	Grid(d, image.Rect(10, 310, 630, 470), 28, 28, vals(28*28*12))
	return d
}
