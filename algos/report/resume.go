package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn/atomicfile"
)

// RunsDir is the folder of a run directory that keeps each finished run
// (runs/<name>.json and runs/<name>.npy) for a resume.
const RunsDir = "runs"

// savedRun is runs/<name>.json: what the report needs of a finished run.
// It is written after its samples and checkpoints, so its presence marks a
// complete run.
type savedRun struct {
	Run         algos.RunInfo       `json:"run"`
	Summary     algos.MethodSummary `json:"summary"`
	Curve       []savedPoint        `json:"curve"`
	Samples     string              `json:"samples"`
	Checkpoints []string            `json:"checkpoints"`
}

type savedPoint struct {
	Iter    int          `json:"iter"`
	Nominal algos.Number `json:"nominal"`
	Genuine algos.Number `json:"genuine"`
}

// runStore is the algos.RunStore of a run directory.
type runStore struct {
	d              *Dir
	task           algos.Task // set up: its reward names the checkpoints
	notice         func(string)
	reused, fitted []string
	// every is the number of iterations between checkpoints of a fit (0:
	// DefaultCheckpointEvery); muted is set while a resumed fit replays
	// events that metrics.jsonl already holds.
	every int
	muted bool
}

// Save writes the run's checkpoints, its samples (float64, exact), then
// runs/<name>.json.
func (s *runStore) Save(run algos.RunInfo, saved algos.SavedRun, fit *algos.Fitted) error {
	if err := os.MkdirAll(s.d.File(RunsDir), 0o755); err != nil {
		return err
	}
	var ckpts []string
	if fit != nil {
		var err error
		if ckpts, err = saveCheckpoints(s.d, s.task.Name(), s.task.Nominal().String(), run, fit); err != nil {
			return err
		}
	}
	npyName := run.Name + ".npy"
	if err := atomicfile.WriteFile(s.d.File(filepath.Join(RunsDir, npyName)), func(w io.Writer) error { return npy.Write(w, saved.Samples) }); err != nil {
		return err
	}
	r := savedRun{Run: run, Summary: saved.Summary, Samples: npyName, Checkpoints: ckpts}
	for _, c := range saved.Curve {
		r.Curve = append(r.Curve, savedPoint{c.Iter, algos.Number(c.Nominal), algos.Number(c.Genuine)})
	}
	if err := WriteJSON(s.d.File(filepath.Join(RunsDir, run.Name+".json")), r); err != nil {
		return err
	}
	s.fitted = append(s.fitted, run.Name)
	return s.removePartial(run.Name)
}

// Load reads a run saved by Save; a missing run is silently absent, an
// unusable one is refit with a notice.
func (s *runStore) Load(run algos.RunInfo) (algos.SavedRun, bool) {
	out, err := s.load(run)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && s.notice != nil {
			s.notice(fmt.Sprintf("the saved run %s is unusable (%v): fitting it again", run.Name, err))
		}
		return algos.SavedRun{}, false
	}
	s.reused = append(s.reused, run.Name)
	return out, true
}

func (s *runStore) load(run algos.RunInfo) (algos.SavedRun, error) {
	raw, err := os.ReadFile(s.d.File(filepath.Join(RunsDir, run.Name+".json")))
	if err != nil {
		return algos.SavedRun{}, err
	}
	r, err := parseSavedRun(raw)
	if err != nil {
		return algos.SavedRun{}, err
	}
	if r.Run != run {
		return algos.SavedRun{}, fmt.Errorf("it is the run %+v, not %+v", r.Run, run)
	}
	if r.Samples != run.Name+".npy" {
		return algos.SavedRun{}, fmt.Errorf("samples file %q", r.Samples)
	}
	for _, c := range r.Checkpoints {
		if _, err := os.Stat(s.d.File(filepath.Join("checkpoints", c))); err != nil {
			return algos.SavedRun{}, fmt.Errorf("checkpoint: %w", errors.Unwrap(err))
		}
	}
	f, err := os.Open(s.d.File(filepath.Join(RunsDir, r.Samples)))
	if err != nil {
		return algos.SavedRun{}, fmt.Errorf("samples: %w", errors.Unwrap(err))
	}
	defer f.Close()
	out := algos.SavedRun{Summary: r.Summary}
	if err := npy.Read(f, &out.Samples); err != nil {
		return algos.SavedRun{}, fmt.Errorf("samples: %w", err)
	}
	for _, c := range r.Curve {
		out.Curve = append(out.Curve, algos.CurvePoint{Iter: c.Iter, Nominal: float64(c.Nominal), Genuine: float64(c.Genuine)})
	}
	return out, nil
}

// parseSavedRun reads runs/<name>.json strictly.
func parseSavedRun(raw []byte) (savedRun, error) {
	var r savedRun
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return savedRun{}, err
	}
	if r.Run.Name == "" || strings.ContainsAny(r.Run.Name, `/\`) {
		return savedRun{}, fmt.Errorf("bad run name %q", r.Run.Name)
	}
	return r, nil
}

// Open modes of a run directory.
const (
	dirFresh  = iota // nothing there, or replaced
	dirResume        // a run of the same configuration: resume it
)

// ConfigMismatch is an output directory holding a run of another
// configuration, which only Options.Force replaces.
type ConfigMismatch struct {
	Dir     string
	Differs []string
}

func (e ConfigMismatch) Error() string {
	return fmt.Sprintf("%s holds a run of another configuration (%s differs): give -force to replace it, or another -out",
		e.Dir, strings.Join(e.Differs, ", "))
}

// prepareDir decides what to do with the run directory: a fresh start
// (nothing there; another configuration with force; the same with resume
// off) or a resume (the same configuration). A run of another configuration
// without force is a ConfigMismatch in an InputError, before anything is
// changed. Otherwise marker, a file outside dir that says the run finished
// (none: ""), is removed first: the run is not finished until it is written
// again.
func prepareDir(dir string, cfg any, device string, force, resume bool, notice func(string), marker string) (int, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return dirFresh, removeMarker(marker)
	} else if err != nil {
		return 0, err
	}
	var differs []string
	old, err := ParseConfig(raw)
	if err != nil {
		differs = []string{"config.json, unreadable (" + err.Error() + "),"}
	} else if differs, err = configDiff(old, cfg, device); err != nil {
		return 0, err
	}
	if len(differs) > 0 && !force {
		return 0, InputError{ConfigMismatch{Dir: dir, Differs: differs}}
	}
	if err := removeMarker(marker); err != nil {
		return 0, err
	}
	switch {
	case len(differs) > 0:
		notice(fmt.Sprintf("-force: replacing the run of another configuration in %s", dir))
	case !resume:
		notice(fmt.Sprintf("starting the run in %s over instead of resuming it", dir))
	default:
		return dirResume, nil
	}
	return dirFresh, clearRun(dir)
}

func removeMarker(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// OpenRun opens the run directory dir (locked by the caller) for a run of
// configuration cfg on device, as Execute does: a stopped run of the same
// configuration is resumed (ResumeDir, with a resume mark in metrics.jsonl)
// unless restart; a run of another configuration is refused (an
// InputError, nothing changed) unless force; what a run replaced or started
// over left is removed first (OpenDir). marker is a file outside dir whose
// presence says that the run finished ("": none, dir/summary.json says
// it): it is removed before anything else changes. OpenRun reports whether
// it resumed.
func OpenRun(dir string, cfg any, device string, force, restart bool, notice func(string), marker string) (d *Dir, resumed bool, err error) {
	mode, err := prepareDir(dir, cfg, device, force, !restart, notice, marker)
	if err != nil {
		return nil, false, err
	}
	if mode != dirResume {
		d, err = OpenDir(dir, cfg, device)
		return d, false, err
	}
	if d, err = ResumeDir(dir); err != nil {
		return nil, false, err
	}
	d.Log(resumeMark)
	return d, true, nil
}

// ParseConfig reads a config.json: a JSON object.
func ParseConfig(raw []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("data after the object")
	}
	return m, nil
}

// volatile are the keys of config.json that do not belong to the
// configuration: when it started, what a resume reused.
var volatile = []string{"started", "resumed"}

// configDiff lists the paths at which config.json's old content differs
// from cfg on device (at most a few).
func configDiff(old map[string]any, cfg any, device string) ([]string, error) {
	cur, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	want, err := ParseConfig(cur)
	if err != nil {
		return nil, err
	}
	want["device"] = device
	old = maps.Clone(old)
	for _, k := range volatile {
		delete(old, k)
	}
	var out []string
	diffPaths("", old, want, &out)
	return out, nil
}

func diffPaths(path string, a, b any, out *[]string) {
	if len(*out) >= 4 {
		return
	}
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if !okA || !okB {
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, strings.TrimPrefix(path, "."))
		}
		return
	}
	keys := slices.Collect(maps.Keys(ma))
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		diffPaths(path+"."+k, ma[k], mb[k], out)
	}
}

// clearRun removes what a run wrote into dir (summary.json first: the
// directory stops being a finished run before anything else goes).
func clearRun(dir string) error {
	for _, name := range []string{"summary.json", "results.md", "metrics.jsonl", "config.json", "hist_genuine.png", "samples.png"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, sub := range []string{RunsDir, "checkpoints"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	for _, pat := range []string{"samples_*.npy", "samples_*.fasta", "samples_*.png", "scatter_*.png", "curve_*.png"} {
		files, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range files {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// markResumed adds to config.json what this resume reused and fitted.
func markResumed(dir string, reused, fitted []string) error {
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	list, _ := cfg["resumed"].([]any)
	cfg["resumed"] = append(list, map[string]any{"at": time.Now().UTC().Format(time.RFC3339),
		"reused": orEmpty(reused), "fitted": orEmpty(fitted)})
	return WriteJSON(path, cfg)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
