// Package report keeps the results of runs: the run directory (config.json,
// metrics.jsonl, summary.json, samples as .npy and FASTA, plots, checkpoints,
// every file but the log written atomically, summary.json last), the tables
// and findings in Markdown, aggregation over seeds, and the progress display.
// A binary is flags → Execute → files.
//
// A run directory is locked while a run works in it (lock.go), refuses a
// run of another configuration unless forced, and keeps each finished run
// in runs/ so that the same command after a stop resumes where it stopped
// (resume.go).
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn/atomicfile"
)

// Dir is an open run directory. metrics.jsonl is appended line by line and
// flushed, so a crash keeps every step logged so far; the other files are
// replaced atomically.
//
// A resumed run's metrics.jsonl is the uninterrupted run's: a resume
// repeats, bit for bit, the steps between its checkpoint and the stop (and
// a pre-training that no cache kept), and each of those that the file holds
// already is not written again. Only the resume marks (method "runner",
// phase "resume") tell the two files apart.
type Dir struct {
	Path    string
	metrics *os.File
	buf     *bufio.Writer
	enc     *json.Encoder
	// logged counts, on a resume, the lines metrics.jsonl held, by their
	// content without the wall time: each one absorbs one event logged
	// again.
	logged map[string]int
}

// OpenDir creates dir, writes config.json (cfg's fields, then the device and
// the start time) and starts metrics.jsonl.
func OpenDir(dir string, cfg any, device string) (*Dir, error) {
	return openDir(dir, cfg, device, false)
}

// ResumeDir opens the run directory of a stopped run of the same
// configuration: config.json stays, metrics.jsonl is appended to.
func ResumeDir(dir string) (*Dir, error) {
	return openDir(dir, nil, "", true)
}

func openDir(dir string, cfg any, device string, resume bool) (*Dir, error) {
	if resume {
		f, logged, err := reopenMetrics(filepath.Join(dir, "metrics.jsonl"))
		if err != nil {
			return nil, fmt.Errorf("output directory: %w", err)
		}
		buf := bufio.NewWriter(f)
		return &Dir{Path: dir, metrics: f, buf: buf, enc: json.NewEncoder(buf), logged: logged}, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	info, _ := json.Marshal(struct {
		Device  string `json:"device"`
		Started string `json:"started"`
	}{device, time.Now().UTC().Format(time.RFC3339)})
	config := json.RawMessage(info)
	if string(raw) != "{}" {
		config = append(append(raw[:len(raw)-1:len(raw)-1], ','), info[1:]...)
	}
	if err := WriteJSON(filepath.Join(dir, "config.json"), config); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	buf := bufio.NewWriter(f)
	return &Dir{Path: dir, metrics: f, buf: buf, enc: json.NewEncoder(buf)}, nil
}

// Log appends one event to metrics.jsonl, unless the stopped run that this
// one resumes logged it already.
func (d *Dir) Log(e algos.Event) {
	if d.logged != nil && e.Method != resumeMark.Method {
		if k := eventKey(e); d.logged[k] > 0 {
			d.logged[k]--
			return
		}
	}
	if err := d.enc.Encode(e); err == nil {
		d.buf.Flush()
	}
}

// resumeMark is the event that a resume logs first.
var resumeMark = algos.Event{Method: "runner", Phase: "resume"}

// eventKey is an event's line without its wall time: what a resume logs
// again of a step is identical to it but for the time.
func eventKey(e algos.Event) string {
	e.Elapsed = 0
	raw, _ := json.Marshal(e)
	return string(raw)
}

// reopenMetrics opens metrics.jsonl for appending and counts its lines by
// eventKey. A last line cut short by a crash is removed first (ftruncate:
// the file holds it or not, never half a cut).
func reopenMetrics(path string) (*os.File, map[string]int, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	logged := map[string]int{}
	r := bufio.NewReader(f)
	var whole int64
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		whole += int64(len(line))
		var e algos.Event
		if json.Unmarshal(line, &e) == nil && e.Method != resumeMark.Method {
			logged[eventKey(e)]++
		}
	}
	if err := f.Truncate(whole); err != nil {
		f.Close()
		return nil, nil, err
	}
	if _, err := f.Seek(whole, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, logged, nil
}

// Close flushes and closes metrics.jsonl.
func (d *Dir) Close() error {
	d.buf.Flush()
	return d.metrics.Close()
}

// File is a path inside the directory.
func (d *Dir) File(name string) string { return filepath.Join(d.Path, name) }

// WriteJSON writes v as indented JSON, atomically. Numbers that are not
// finite must be algos.Number (null): encoding/json refuses NaN.
func WriteJSON(path string, v any) error {
	return atomicfile.WriteFile(path, func(out io.Writer) error {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// WriteText writes s, atomically.
func WriteText(path, s string) error {
	return atomicfile.WriteFile(path, func(out io.Writer) error {
		_, err := io.WriteString(out, s)
		return err
	})
}

// WriteNPY writes rows of d values as a float32 array of shape (n, d),
// atomically.
func WriteNPY(path string, x []float64, d int) error {
	rows := make([][]float32, len(x)/d)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range d {
			rows[i][j] = float32(x[i*d+j])
		}
	}
	return atomicfile.WriteFile(path, func(out io.Writer) error { return npy.Write(out, rows) })
}

// ReadSummary reads the summary.json of a run directory.
func ReadSummary(dir string) (algos.Summary, error) {
	var s algos.Summary
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("%s/summary.json: %w", dir, err)
	}
	return s, nil
}
