package watch

import (
	"fmt"
	"image"
	"image/color"
	"slices"
	"strconv"
	"sync"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

func init() { register("tfbind8", newSequenceView) }

// The layout of a tfbind8 frame: the histogram of genuine y on the left,
// the sequence logo on the right, labels under both.
var (
	histRect = image.Rect(24, 64, 316, 432)
	logoRect = image.Rect(348, 64, 624, 432)
)

// Colours of a tfbind8 frame: the two histograms, and the letters in the
// usual colours of DNA logos (A green, C blue, G orange, T red).
var (
	preLine     = color.RGBA{230, 230, 230, 255}
	curBars     = color.RGBA{60, 190, 220, 255}
	labelColour = color.RGBA{150, 150, 160, 255}
	letters     = []color.RGBA{{20, 180, 60, 255}, {50, 110, 255, 255}, {255, 170, 0, 255}, {230, 40, 40, 255}}
)

// histBins is the histogram's number of bins of y.
const histBins = 24

// sequenceView draws tfbind8 runs: the histogram of the landscape's y of
// the decoded samples against the pre-trained model's, and the sequence
// logo of the samples.
type sequenceView struct {
	task *tasks.TFBind8

	mu     sync.Mutex
	lo, hi float64   // the landscape's range of y, once loaded
	pre    []float64 // the pre-trained samples' y
}

func newSequenceView(task algos.Task, _ algos.Plan) (View, error) {
	return &sequenceView{task: task.(*tasks.TFBind8)}, nil
}

// ys is the landscape's y of each decoded row of x: the task's genuine
// reward, read from the landscape, not the oracle (whose queries count).
func (v *sequenceView) ys(x []float64) (y []float64, seqs []int) {
	land := v.task.LandscapeData()
	seqs, _ = tasks.DecodeAll(x)
	y = make([]float64, len(seqs))
	for i, q := range seqs {
		y[i] = land.Y[q]
	}
	v.mu.Lock()
	if !(v.lo < v.hi) {
		v.lo, v.hi = slices.Min(land.Y), slices.Max(land.Y)
		if !(v.lo < v.hi) {
			v.hi = v.lo + 1
		}
	}
	v.mu.Unlock()
	return y, seqs
}

func (v *sequenceView) SetPretrained(x []float64) {
	y, _ := v.ys(x)
	v.mu.Lock()
	v.pre = y
	v.mu.Unlock()
}

func (v *sequenceView) Frame(e algos.Event) *viewer.DrawList {
	y, seqs := v.ys(e.Snapshot)
	return v.draw(y, seqs, status(e, algos.Mean(y)))
}

// State draws state k of the rollout as a frame of the sequences it
// decodes to (each position's likeliest letter): the histogram and the
// logo sharpen from the noise to the samples.
func (v *sequenceView) State(e algos.Event, k int) *viewer.DrawList {
	y, seqs := v.ys(e.Trajectory[k])
	return v.draw(y, seqs, replayStatus(e, k))
}

// draw is the frame of the sequences seqs, of genuine y, under the status
// line.
func (v *sequenceView) draw(y []float64, seqs []int, line string) *viewer.DrawList {
	d := viewer.NewFrame(line, fmt.Sprintf("TFBIND8  %d SAMPLES  WHITE LINE: PRE-TRAINED", len(y)))
	v.mu.Lock()
	lo, hi, pre := v.lo, v.hi, v.pre
	v.mu.Unlock()

	peak := viewer.Histogram(d, histRect, lo, hi, histBins, viewer.Series{Values: y, Colour: curBars}, viewer.Series{Values: pre, Colour: preLine, Outline: true})
	below := histRect.Max.Y + 6
	d.Text(histRect.Min.X, below, 1, strconv.FormatFloat(lo, 'g', 3, 64), labelColour)
	hiLabel := strconv.FormatFloat(hi, 'g', 3, 64)
	d.Text(histRect.Max.X-viewer.TextWidth(hiLabel, 1), below, 1, hiLabel, labelColour)
	d.Text(histRect.Min.X+histRect.Dx()/2-viewer.TextWidth("GENUINE Y", 2)/2, below+12, 2, "GENUINE Y", labelColour)
	d.Text(histRect.Min.X, histRect.Min.Y-10, 1, fmt.Sprintf("%.0f%% OF SAMPLES", 100*peak), labelColour)

	counts := make([][]int, tasks.SeqLen)
	for i := range counts {
		counts[i] = make([]int, len(tasks.Alphabet))
	}
	for _, q := range seqs {
		for i := range tasks.SeqLen {
			counts[i][q>>(2*(tasks.SeqLen-1-i))&3]++
		}
	}
	viewer.Logo(d, logoRect, tasks.Alphabet, letters, counts)
	d.Text(logoRect.Min.X, logoRect.Min.Y-10, 1, "2 BITS", labelColour)
	for i := range tasks.SeqLen {
		x := logoRect.Min.X + (2*i+1)*logoRect.Dx()/(2*tasks.SeqLen) - viewer.TextWidth("1", 1)/2
		d.Text(x, below, 1, strconv.Itoa(i+1), labelColour)
	}
	d.Text(logoRect.Min.X+logoRect.Dx()/2-viewer.TextWidth("POSITION", 2)/2, below+12, 2, "POSITION", labelColour)
	return d
}
