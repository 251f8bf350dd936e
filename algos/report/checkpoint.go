package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn/safetensors"
	"github.com/difftune/difftune/tensor"
)

// DefaultCheckpointEvery is the number of fine-tuning iterations between
// two checkpoints of a fit when Options.CheckpointEvery is 0.
const DefaultCheckpointEvery = 20

// partialFile is the checkpoint of a run's fit in progress, in checkpoints/:
// one safetensors file (its tensors, and the rest of the state as JSON in
// its metadata), replaced atomically, removed once the run is saved.
func partialFile(run string) string { return "partial_" + run + ".safetensors" }

// partialVersion is the format of the state in a partial checkpoint.
const partialVersion = 1

// partialState is the JSON of a partial checkpoint's metadata "state".
type partialState struct {
	Version  int           `json:"version"`
	Key      string        `json:"key"`
	Finished []string      `json:"finished"`
	Phase    string        `json:"phase"`
	Iter     int           `json:"iter"`
	Streams  uint64        `json:"streams"`
	AdamStep int           `json:"adam_step"`
	Events   []algos.Event `json:"events"`
}

// Checkpoints is the algos.Checkpointer of the fits in progress in d, for a
// binary that fits outside the runner (every: iterations between two
// checkpoints, 0: DefaultCheckpointEvery). log is the Hooks.Log that goes
// with it: metrics.jsonl, but for the events a resumed fit replays. done
// removes a run's checkpoint once its results are written.
func (d *Dir) Checkpoints(every int, notice func(string)) (ck algos.Checkpointer, log func(algos.Event), done func(run string) error) {
	s := &runStore{d: d, notice: notice, every: every}
	return s, s.log, s.removePartial
}

// Every implements algos.Checkpointer.
func (s *runStore) Every() int {
	if s.every > 0 {
		return s.every
	}
	return DefaultCheckpointEvery
}

// SaveFit implements algos.Checkpointer: checkpoints/partial_<run>.safetensors.
func (s *runStore) SaveFit(run string, st *algos.FitState) error {
	if strings.ContainsAny(run, `/\`) {
		return fmt.Errorf("bad run name %q", run)
	}
	raw, err := json.Marshal(partialState{Version: partialVersion, Key: st.Key, Finished: st.Finished, Phase: st.Phase,
		Iter: st.Iter, Streams: st.Streams, AdamStep: st.AdamStep, Events: st.Events})
	if err != nil {
		return err
	}
	f := safetensors.File{Metadata: map[string]string{"state": string(raw)}, Tensors: map[string]safetensors.Tensor{}}
	for name, t := range st.Tensors {
		switch t.DType() {
		case tensor.Float32:
			f.Tensors[name] = safetensors.Float32Tensor(append([]int(nil), t.Shape()...), t.Float32s())
		case tensor.Float64:
			f.Tensors[name] = safetensors.Float64Tensor(append([]int(nil), t.Shape()...), t.Float64s())
		default:
			return fmt.Errorf("tensor %s of dtype %v", name, t.DType())
		}
	}
	if err := os.MkdirAll(s.d.File("checkpoints"), 0o755); err != nil {
		return err
	}
	if err := safetensors.WriteFile(s.d.File(filepath.Join("checkpoints", partialFile(run))), f); err != nil {
		return err
	}
	phase := st.Phase
	if phase == "" && len(st.Finished) > 0 {
		phase = "after-" + st.Finished[len(st.Finished)-1]
	}
	crashPoint(fmt.Sprintf("checkpoint:%s:%s:%d", run, phase, st.Iter))
	return nil
}

// LoadFit implements algos.Checkpointer.
func (s *runStore) LoadFit(run string, b tensor.Backend) (*algos.FitState, bool) {
	st, err := s.loadFit(run, b)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && s.notice != nil {
			s.notice(fmt.Sprintf("the checkpoint of %s is unusable (%v): fitting it from the start", run, err))
		}
		return nil, false
	}
	return st, true
}

func (s *runStore) loadFit(run string, b tensor.Backend) (*algos.FitState, error) {
	path := s.d.File(filepath.Join("checkpoints", partialFile(run)))
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	f, err := safetensors.ReadFile(path, safetensors.DefaultLimits)
	if err != nil {
		return nil, err
	}
	ps, err := parsePartialState([]byte(f.Metadata["state"]))
	if err != nil {
		return nil, err
	}
	st := &algos.FitState{Key: ps.Key, Finished: ps.Finished, Phase: ps.Phase, Iter: ps.Iter, Streams: ps.Streams,
		AdamStep: ps.AdamStep, Events: ps.Events, Tensors: map[string]*tensor.Tensor{}}
	for name, t := range f.Tensors {
		switch t.DType {
		case safetensors.F32:
			v, err := t.Float32s()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			st.Tensors[name] = tensor.FromFloat32(b, v, t.Shape...)
		case safetensors.F64:
			v, err := t.Float64s()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			st.Tensors[name] = tensor.FromFloat64(b, v, t.Shape...)
		default:
			return nil, fmt.Errorf("%s: dtype %s", name, t.DType)
		}
	}
	return st, nil
}

// parsePartialState reads the state of a partial checkpoint strictly.
func parsePartialState(raw []byte) (partialState, error) {
	var ps partialState
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ps); err != nil {
		return ps, fmt.Errorf("state: %w", err)
	}
	if dec.More() {
		return ps, errors.New("state: data after the object")
	}
	if ps.Version != partialVersion {
		return ps, fmt.Errorf("state of format %d, not %d", ps.Version, partialVersion)
	}
	if ps.Iter < 0 || ps.AdamStep < 0 || ps.Key == "" {
		return ps, fmt.Errorf("state at iteration %d, step %d, key %q", ps.Iter, ps.AdamStep, ps.Key)
	}
	return ps, nil
}

// Replay implements algos.Checkpointer: the events emit sends are not
// written to metrics.jsonl again (the stopped invocation wrote them).
func (s *runStore) Replay(emit func()) {
	s.muted = true
	defer func() { s.muted = false }()
	emit()
}

// log is the Hooks.Log of a run directory: metrics.jsonl, but for replayed
// events.
func (s *runStore) log(e algos.Event) {
	if s.muted {
		return
	}
	s.d.Log(e)
	if e.Phase == "drift" || e.Phase == "ppo" {
		crashPoint(fmt.Sprintf("%s:%s:%d", e.Phase, runOf(e), e.Iter))
	}
}

func runOf(e algos.Event) string {
	if e.Run != "" {
		return e.Run
	}
	return e.Method
}

// removePartial removes a run's partial checkpoint (the run is saved).
func (s *runStore) removePartial(run string) error {
	err := os.Remove(s.d.File(filepath.Join("checkpoints", partialFile(run))))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// EnvCrashAt names the environment variable of the crash hook, for the
// tests that kill a run at a chosen point: the process kills itself with
// SIGKILL when it reaches the point named there, one of
//
//	drift:<run>:<iter>          after logging a fine-tuning iteration
//	checkpoint:<run>:<phase>:<iter>  after writing a checkpoint of a fit in
//	                            a phase's loop, or at the boundary after a
//	                            phase (<phase> after-value, after-initial)
//	write:<dir>/<file>          before WriteResult writes a file of the run
//	                            directory named <dir> (its last element)
const EnvCrashAt = "DIFFTUNE_TEST_CRASH_AT"

var crashAt = sync.OnceValue(func() string { return os.Getenv(EnvCrashAt) })

// crashPoint kills the process (SIGKILL: nothing runs after it) if the
// crash hook names point.
func crashPoint(point string) {
	if at := crashAt(); at != "" && at == point {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Kill()
		}
		time.Sleep(time.Hour) // the signal is on its way
	}
}
