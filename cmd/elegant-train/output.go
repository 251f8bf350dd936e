package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/nn/atomicfile"
)

// runDir writes a run's outputs. metrics.jsonl is appended line by line and
// flushed, so a crash keeps every step logged so far; the other files are
// replaced atomically.
type runDir struct {
	dir     string
	metrics *os.File
	buf     *bufio.Writer
	enc     *json.Encoder
}

func newRunDir(dir string, cfg any, device string) (*runDir, error) {
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	// The configuration's fields, then the device and the start time.
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	info, _ := json.Marshal(struct {
		Device  string `json:"device"`
		Started string `json:"started"`
	}{device, time.Now().UTC().Format(time.RFC3339)})
	config := json.RawMessage(append(append(raw[:len(raw)-1:len(raw)-1], ','), info[1:]...))
	if err := writeJSON(filepath.Join(dir, "config.json"), config); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	buf := bufio.NewWriter(f)
	return &runDir{dir: dir, metrics: f, buf: buf, enc: json.NewEncoder(buf)}, nil
}

// Log appends one event to metrics.jsonl.
func (w *runDir) Log(e algos.Event) {
	if err := w.enc.Encode(e); err == nil {
		w.buf.Flush()
	}
}

// Close flushes and closes metrics.jsonl.
func (w *runDir) Close() error {
	w.buf.Flush()
	return w.metrics.Close()
}

// WriteResult writes summary.json, the samples, the scatter plots and the
// fine-tuned networks.
func (w *runDir) WriteResult(res *algos.GMM2DResult) error {
	if err := writeJSON(filepath.Join(w.dir, "summary.json"), res.Summary); err != nil {
		return err
	}
	names := make([]string, 0, len(res.Samples))
	for n := range res.Samples {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := writeNPY(filepath.Join(w.dir, "samples_"+n+".npy"), res.Samples[n], 2); err != nil {
			return err
		}
		if n == "exact" {
			continue
		}
		if err := writeScatter(filepath.Join(w.dir, "scatter_"+n+".png"), n, res.Samples[n], res.Samples["exact"]); err != nil {
			return err
		}
	}
	for n, ft := range res.Models {
		meta := map[string]string{"method": n, "alpha": fmt.Sprint(res.Summary.Alpha), "reward": res.Summary.Reward}
		if err := nn.SaveCheckpoint(filepath.Join(w.dir, "checkpoints", n+"_control.safetensors"), ft.Control, meta); err != nil {
			return err
		}
		if ctrl, ok := ft.Init.Control.(nn.Module); ok {
			if err := nn.SaveCheckpoint(filepath.Join(w.dir, "checkpoints", n+"_initial_law.safetensors"), ctrl, meta); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	return atomicfile.WriteFile(path, func(out io.Writer) error {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// writeNPY writes rows of d values as a float32 array of shape (n, d).
func writeNPY(path string, x []float64, d int) error {
	rows := make([][]float32, len(x)/d)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range d {
			rows[i][j] = float32(x[i*d+j])
		}
	}
	return atomicfile.WriteFile(path, func(out io.Writer) error { return npy.Write(out, rows) })
}
