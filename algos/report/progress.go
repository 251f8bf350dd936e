package report

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/schollz/progressbar/v3"
)

// progress shows one bar per phase (pre-training, each method) on stderr when
// it is a terminal; elsewhere (logs, CI) it prints a line every tenth of a
// phase.
type progress struct {
	w       io.Writer
	show    bool
	phase   string
	bar     *progressbar.ProgressBar
	tenth   int // last tenth printed, without a terminal
	started time.Time
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, show: ok && term.IsTerminal(int(f.Fd()))}
}

// Update moves the bar of phase to done of total, starting a new bar when the
// phase changes.
func (p *progress) Update(phase string, done, total int) {
	if !p.show {
		if phase != p.phase {
			p.phase, p.tenth, p.started = phase, 0, time.Now()
		}
		if t := 10 * done / max(total, 1); t > p.tenth {
			p.tenth = t
			fmt.Fprintf(p.w, "%s %3d%% (%d/%d) %s\n", phase, 10*t, done, total, time.Since(p.started).Round(time.Second))
		}
		return
	}
	if phase != p.phase || p.bar == nil {
		p.finish()
		p.phase = phase
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(fmt.Sprintf("%-9s", phase)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200_000_000),
			progressbar.OptionSetWidth(30))
	}
	p.bar.Set(done)
}

// Notice prints a line between bars.
func (p *progress) Notice(msg string) {
	p.finish()
	fmt.Fprintln(p.w, msg)
}

// Done closes the current bar.
func (p *progress) Done() { p.finish() }

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
		p.bar = nil
		p.phase = ""
	}
}
