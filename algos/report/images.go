package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"codeberg.org/sbinet/npyio/npy"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/difftune/difftune/nn/atomicfile"
)

// Imager is a task whose samples are images: WriteResult writes their
// pixels as samples_<run>.npy (float32, n × h × w for one channel, n × c ×
// h × w otherwise, in [0, 1]), a grid of them as samples_<run>.png, and the
// runs' grids side by side as samples.png.
type Imager interface {
	// ImageShape is the shape of one sample as an image.
	ImageShape() (channels, height, width int)
	// Pixels maps samples (rows) to their images' pixels in [0, 1], c·h·w
	// values per sample, channel-major.
	Pixels(x []float64) []float64
}

// WriteImagesNPY writes n images of c × h × w pixels as a float32 array of
// shape (n, h, w) when c = 1, (n, c, h, w) otherwise.
func WriteImagesNPY(path string, px []float64, c, h, w int) error {
	n := len(px) / (c * h * w)
	at := func(i, k, y, x int) float32 { return float32(px[((i*c+k)*h+y)*w+x]) }
	var v any
	if c == 1 {
		a := make([][][]float32, n)
		for i := range a {
			a[i] = make([][]float32, h)
			for y := range h {
				a[i][y] = make([]float32, w)
				for x := range w {
					a[i][y][x] = at(i, 0, y, x)
				}
			}
		}
		v = a
	} else {
		a := make([][][][]float32, n)
		for i := range a {
			a[i] = make([][][]float32, c)
			for k := range c {
				a[i][k] = make([][]float32, h)
				for y := range h {
					a[i][k][y] = make([]float32, w)
					for x := range w {
						a[i][k][y][x] = at(i, k, y, x)
					}
				}
			}
		}
		v = a
	}
	return atomicfile.WriteFile(path, func(out io.Writer) error { return npy.Write(out, v) })
}

// gridScale is the pixels of a grid per pixel of an image; gridGap the
// gap between images, in grid pixels.
const (
	gridScale = 2
	gridGap   = 2
)

// ImageGrid draws the first cols × rows images (fewer rows for fewer images) (c × h × w pixels in [0,
// 1], grey for one channel, RGB for three) as a grid on a dark background.
func ImageGrid(px []float64, c, h, w, cols, rows int) *image.RGBA {
	n := min(len(px)/(c*h*w), cols*rows)
	rows = min(rows, (n+cols-1)/cols)
	cw, ch := w*gridScale+gridGap, h*gridScale+gridGap
	img := image.NewRGBA(image.Rect(0, 0, cols*cw+gridGap, rows*ch+gridGap))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{40, 40, 48, 255}}, image.Point{}, draw.Src)
	level := func(v float64) uint8 { return uint8(255*min(1, max(0, v)) + 0.5) }
	for i := range n {
		ox, oy := gridGap+(i%cols)*cw, gridGap+(i/cols)*ch
		for y := range h * gridScale {
			for x := range w * gridScale {
				p := (y/gridScale)*w + x/gridScale
				var r, g, b uint8
				if c >= 3 {
					r, g, b = level(px[(i*c+0)*h*w+p]), level(px[(i*c+1)*h*w+p]), level(px[(i*c+2)*h*w+p])
				} else {
					r = level(px[i*c*h*w+p])
					g, b = r, r
				}
				img.SetRGBA(ox+x, oy+y, color.RGBA{r, g, b, 255})
			}
		}
	}
	return img
}

// labelHeight is the band above a grid of SideBySide that holds its name.
const labelHeight = 18

// SideBySide places grids in a row, each under its label.
func SideBySide(labels []string, grids []*image.RGBA) *image.RGBA {
	if len(labels) != len(grids) {
		panic(fmt.Sprintf("report: %d labels for %d grids", len(labels), len(grids)))
	}
	width, height := gridGap, 0
	for _, g := range grids {
		width += g.Bounds().Dx() + gridGap
		height = max(height, g.Bounds().Dy())
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height+labelHeight))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	x := gridGap
	for i, g := range grids {
		d := font.Drawer{Dst: img, Src: image.Black, Face: basicfont.Face7x13, Dot: fixed.P(x+2, labelHeight-5)}
		d.DrawString(labels[i])
		draw.Draw(img, g.Bounds().Add(image.Pt(x, labelHeight)), g, image.Point{}, draw.Src)
		x += g.Bounds().Dx() + gridGap
	}
	return img
}

// WritePNG encodes img atomically at path.
func WritePNG(path string, img image.Image) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) })
}
