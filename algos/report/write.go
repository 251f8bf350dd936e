package report

import (
	"fmt"
	"image"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/nn/atomicfile"
)

// FASTAWriter is a task whose samples are sequences: they are written as
// FASTA besides the .npy arrays.
type FASTAWriter interface {
	WriteFASTA(w io.Writer, run string, x []float64) error
}

// Describer is a task that says more about itself in results.md than the
// targets and the runs: a Markdown paragraph from its summary.
type Describer interface {
	Markdown(s algos.Summary) string
}

// WriteResult writes a finished run into the directory: the samples
// (samples_<run>.npy, and .fasta for sequences; for images their pixels,
// with samples_<run>.png grids and samples.png side by side: Imager), the
// plots (scatter_<run>.png for 2-D points, curve_<run>.png, hist_genuine.png), the fitted networks
// (checkpoints/<run>_<module>.safetensors; a run reused from an earlier
// invocation has its own there already), results.md, and summary.json
// last, so that a directory with a summary.json is complete.
func WriteResult(d *Dir, res *algos.Result) error {
	dim := res.Pre.Dim
	fw, seqs := res.Task.(FASTAWriter)
	im, images := res.Task.(Imager)
	grids := map[string]*image.RGBA{}
	for _, n := range slices.Sorted(maps.Keys(res.Samples)) {
		x := res.Samples[n]
		d.crashBefore("samples_" + n + ".npy")
		if images {
			c, h, w := im.ImageShape()
			px := im.Pixels(x)
			if err := WriteImagesNPY(d.File("samples_"+n+".npy"), px, c, h, w); err != nil {
				return err
			}
			grids[n] = ImageGrid(px, c, h, w, 8, 8)
			if err := WritePNG(d.File("samples_"+n+".png"), grids[n]); err != nil {
				return err
			}
		} else if err := WriteNPY(d.File("samples_"+n+".npy"), x, dim); err != nil {
			return err
		}
		if n == "exact" {
			continue
		}
		if seqs {
			d.crashBefore("samples_" + n + ".fasta")
			if err := atomicfile.WriteFile(d.File("samples_"+n+".fasta"), func(w io.Writer) error { return fw.WriteFASTA(w, n, x) }); err != nil {
				return err
			}
		}
		if exact, ok := res.Samples["exact"]; ok && dim == 2 {
			if err := writeScatter(d.File("scatter_"+n+".png"), n, x, exact); err != nil {
				return err
			}
		}
	}
	s := res.Summary
	if images {
		var labels []string
		var side []*image.RGBA
		for _, run := range s.Runs {
			if g, ok := grids[run.Name]; ok {
				labels, side = append(labels, run.Name), append(side, g)
			}
		}
		d.crashBefore("samples.png")
		if err := WritePNG(d.File("samples.png"), SideBySide(labels, side)); err != nil {
			return err
		}
	}
	for _, run := range s.Runs {
		curve := res.Curves[run.Name]
		if len(curve) == 0 {
			continue
		}
		target := nan
		if spec, err := algos.LookupMethod(run.Method); err == nil && spec.Tilted {
			if e, ok := s.TargetAt(run.Alpha); ok {
				target = float64(e.PretrainedTarget)
			}
		}
		if err := writeCurve(d.File("curve_"+run.Name+".png"), run.Name, curve, target); err != nil {
			return err
		}
	}
	d.crashBefore("hist_genuine.png")
	if err := writeHistograms(d.File("hist_genuine.png"), res); err != nil {
		return err
	}
	for _, run := range s.Runs {
		if _, err := saveCheckpoints(d, s.Task, s.Reward, run, res.Fits[run.Name]); err != nil {
			return err
		}
	}
	d.crashBefore("results.md")
	if err := WriteText(d.File("results.md"), Markdown(res)); err != nil {
		return err
	}
	d.crashBefore("summary.json")
	return WriteJSON(d.File("summary.json"), s)
}

// crashBefore is the crash hook (EnvCrashAt) before WriteResult writes a
// file: write:<the directory's last element>/<name>.
func (d *Dir) crashBefore(name string) {
	crashPoint("write:" + filepath.Base(d.Path) + "/" + name)
}

// saveCheckpoints writes the networks of a run's fit (none: nothing) as
// checkpoints/<run>_<module>.safetensors and returns their names.
func saveCheckpoints(d *Dir, task, reward string, run algos.RunInfo, fit *algos.Fitted) ([]string, error) {
	if fit == nil {
		return nil, nil
	}
	if err := os.MkdirAll(d.File("checkpoints"), 0o755); err != nil {
		return nil, err
	}
	meta := map[string]string{"task": task, "run": run.Name, "method": run.Method, "alpha": fmt.Sprint(run.Alpha), "reward": reward}
	var names []string
	for _, name := range slices.Sorted(maps.Keys(fit.Modules)) {
		file := run.Name + "_" + name + ".safetensors"
		if err := nn.SaveCheckpoint(d.File("checkpoints/"+file), fit.Modules[name], meta); err != nil {
			return nil, err
		}
		names = append(names, file)
	}
	return names, nil
}
