package viewer

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Series is one layer of a Histogram: values and the colour of their bars,
// filled, or as a step line along their tops (Outline) that shows a
// reference distribution over another series' bars.
type Series struct {
	Values  []float64
	Colour  color.RGBA
	Outline bool
}

// outlineWidth is the thickness of an outline's step line.
const outlineWidth = 2

// Histogram draws in r the histograms of the series over [lo, hi] in bins
// equal bins: each bar is the fraction of its series' finite values in the
// bin (values outside [lo, hi] count in the end bins), on one vertical
// scale for all, the largest fraction reaching r's top; the series are
// painted in order. An Outline series is a step line along its bars' tops
// (at the bottom of r for an empty bin). It returns
// that largest fraction (0 with no finite value), for the axis's label.
// It panics unless lo < hi are finite and bins ≥ 1, and r lies inside the
// frame.
func Histogram(d *DrawList, r image.Rectangle, lo, hi float64, bins int, series ...Series) float64 {
	d.inside("histogram", r)
	if !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || bins < 1 {
		panic(fmt.Sprintf("viewer: a histogram of %d bins over [%v, %v]", bins, lo, hi))
	}
	fracs := make([][]float64, len(series))
	peak := 0.0
	for s, ser := range series {
		fracs[s] = make([]float64, bins)
		n := 0
		for _, v := range ser.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			i := int(math.Floor((v - lo) / (hi - lo) * float64(bins)))
			fracs[s][min(max(i, 0), bins-1)]++
			n++
		}
		for i := range fracs[s] {
			if n > 0 {
				fracs[s][i] /= float64(n)
			}
			peak = max(peak, fracs[s][i])
		}
	}
	d.Rect(r, color.RGBA{24, 24, 30, 255})
	if peak == 0 {
		return 0
	}
	top := func(f float64) int { return r.Max.Y - int(math.Round(f/peak*float64(r.Dy()))) }
	for s, ser := range series {
		for i, f := range fracs[s] {
			x0, x1 := r.Min.X+i*r.Dx()/bins, r.Min.X+(i+1)*r.Dx()/bins
			y := top(f)
			switch {
			case ser.Outline:
				// The bar's top, and the rise or fall to the next bar's.
				y = min(y, r.Max.Y-outlineWidth)
				d.Rect(image.Rect(x0, y, x1, y+outlineWidth), ser.Colour)
				if i+1 < bins {
					next := min(top(fracs[s][i+1]), r.Max.Y-outlineWidth)
					d.Rect(image.Rect(x1-outlineWidth/2, min(y, next), x1+outlineWidth-outlineWidth/2, max(y, next)), ser.Colour)
				}
			case x1-1 > x0 && y < r.Max.Y:
				d.Rect(image.Rect(x0, y, x1-1, r.Max.Y), ser.Colour) // a pixel between bars
			}
		}
	}
	return peak
}

// Logo draws in r the sequence logo of counts, counts[i][a] the number of
// sequences with letter alphabet[a] at position i: a column per position,
// as tall as the information of its letter frequencies p, log₂|A| − H(p)
// bits of the log₂|A| that r's height stands for, the letters stacked in
// it by frequency, the most frequent on top, each as tall as its share
// (Schneider and Stephens's logo, without the small-sample correction).
// colours[a] is letter a's colour. A position without counts is an empty
// column. It panics unless every position has a count per letter, there
// are colours for the letters, and r lies inside the frame.
func Logo(d *DrawList, r image.Rectangle, alphabet string, colours []color.RGBA, counts [][]int) {
	d.inside("logo", r)
	letters := []rune(alphabet)
	if len(letters) < 2 || len(colours) != len(letters) || len(counts) == 0 {
		panic(fmt.Sprintf("viewer: a logo of %d positions over %d letters with %d colours", len(counts), len(letters), len(colours)))
	}
	maxBits := math.Log2(float64(len(letters)))
	for i, c := range counts {
		if len(c) != len(letters) {
			panic(fmt.Sprintf("viewer: position %d has %d counts for %d letters", i, len(c), len(letters)))
		}
		n := 0
		for _, k := range c {
			n += k
		}
		if n == 0 {
			continue
		}
		bits := maxBits
		for _, k := range c {
			if k > 0 {
				p := float64(k) / float64(n)
				bits += p * math.Log2(p)
			}
		}
		height := max(bits, 0) / maxBits * float64(r.Dy())
		x0 := r.Min.X + i*r.Dx()/len(counts) + 2
		x1 := r.Min.X + (i+1)*r.Dx()/len(counts) - 2
		// Stack from the bottom: the least frequent first, ties in the
		// alphabet's order.
		order := make([]int, len(letters))
		for a := range order {
			order[a] = a
		}
		for a := 1; a < len(order); a++ {
			for b := a; b > 0 && c[order[b]] < c[order[b-1]]; b-- {
				order[b], order[b-1] = order[b-1], order[b]
			}
		}
		bottom := float64(r.Max.Y)
		for _, a := range order {
			top := bottom - float64(c[a])/float64(n)*height
			y0, y1 := int(math.Round(top)), int(math.Round(bottom))
			if y1-y0 >= 1 && x1 > x0 {
				d.Glyph(image.Rect(x0, y0, x1, y1), letters[a], colours[a])
			}
			bottom = top
		}
	}
}

// Grid draws greyscale images in r, row by row, centred: pixels holds
// images of w × h values in [0, 1] (0 black; values outside are clipped,
// NaN is black), each drawn at the largest whole scale (at most 4) at
// which all of them fit, at least 1, with gaps of two pixels. It returns
// the cells drawn, in order: those that fit at scale 1 when not all do.
// It panics unless pixels holds whole images and r lies inside the frame.
func Grid(d *DrawList, r image.Rectangle, w, h int, pixels []float64) []image.Rectangle {
	d.inside("grid", r)
	if w < 1 || h < 1 || len(pixels)%(w*h) != 0 {
		panic(fmt.Sprintf("viewer: %d pixels are not images of %d×%d", len(pixels), w, h))
	}
	n := len(pixels) / (w * h)
	const gap = 2
	fit := func(s int) (cols, rows int) { return (r.Dx() + gap) / (s*w + gap), (r.Dy() + gap) / (s*h + gap) }
	scale := 1
	for s := 4; s > 1; s-- {
		if cols, rows := fit(s); cols*rows >= n {
			scale = s
			break
		}
	}
	cols, rows := fit(scale)
	shown := min(n, cols*rows)
	if shown == 0 {
		return nil
	}
	usedCols, usedRows := min(cols, shown), (shown+cols-1)/cols
	x0 := r.Min.X + (r.Dx()-(usedCols*(scale*w+gap)-gap))/2
	y0 := r.Min.Y + (r.Dy()-(usedRows*(scale*h+gap)-gap))/2
	cells := make([]image.Rectangle, shown)
	for k := range cells {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for j, v := range pixels[k*w*h : (k+1)*w*h] {
			g := uint8(0)
			if v > 0 {
				g = uint8(math.Round(255 * min(v, 1)))
			}
			img.SetRGBA(j%w, j/w, color.RGBA{g, g, g, 255})
		}
		x, y := x0+(k%cols)*(scale*w+gap), y0+(k/cols)*(scale*h+gap)
		cells[k] = image.Rect(x, y, x+scale*w, y+scale*h)
		d.Image(cells[k], img)
	}
	return cells
}
