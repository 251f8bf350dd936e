package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn/safetensors"
	"github.com/difftune/difftune/tensor"
)

// TestPartialCheckpointRoundTrips saves the state of a fit and loads it
// back bit for bit (float32 and float64 tensors, events with NaN); a
// corrupt or foreign file is refused with a notice, a missing one silently;
// replayed events stay out of metrics.jsonl; saving the finished run
// removes the partial checkpoint.
func TestPartialCheckpointRoundTrips(t *testing.T) {
	b, err := tensor.Open("cpu")
	require.NoError(t, err)
	dir := t.TempDir()
	d, err := OpenDir(dir, map[string]any{"a": 1}, "cpu")
	require.NoError(t, err)
	defer d.Close()
	var notices []string
	s := &runStore{d: d, task: toyTask{}, notice: func(m string) { notices = append(notices, m) }, every: 7}
	var ck algos.Checkpointer = s
	assert.Equal(t, 7, ck.Every())
	_, ok := ck.LoadFit("elegant", b)
	assert.False(t, ok)
	assert.Empty(t, notices, "a missing checkpoint is no news")

	f32 := []float32{1, float32(math.Nextafter32(1, 2)), -0, 3.25e-39}
	f64 := []float64{math.Pi, math.SmallestNonzeroFloat64}
	st := &algos.FitState{Key: "elegant α=1", Finished: []string{"value", "initial"}, Phase: "drift", Iter: 14, Streams: 1 << 40, AdamStep: 14,
		Tensors: map[string]*tensor.Tensor{"drift/p/0": tensor.FromFloat32(b, f32, 2, 2), "value/p/0": tensor.FromFloat64(b, f64, 2)},
		Events:  []algos.Event{{Phase: "drift", Iter: 13, Reward: algos.Number(math.NaN()), Extra: map[string]algos.Number{"genuine": 0.125}}}}
	require.NoError(t, ck.SaveFit("elegant", st))
	got, ok := ck.LoadFit("elegant", b)
	require.True(t, ok, "%v", notices)
	assert.Equal(t, st.Key, got.Key)
	assert.Equal(t, st.Finished, got.Finished)
	assert.Equal(t, []any{"drift", 14, uint64(1 << 40), 14}, []any{got.Phase, got.Iter, got.Streams, got.AdamStep})
	require.Len(t, got.Tensors, 2)
	assert.Equal(t, f32, got.Tensors["drift/p/0"].Float32s())
	assert.Equal(t, []int{2, 2}, got.Tensors["drift/p/0"].Shape())
	assert.Equal(t, tensor.Float64, got.Tensors["value/p/0"].DType())
	assert.Equal(t, f64, got.Tensors["value/p/0"].Float64s())
	require.Len(t, got.Events, 1)
	assert.True(t, math.IsNaN(float64(got.Events[0].Reward)))
	assert.Equal(t, algos.Number(0.125), got.Events[0].Extra["genuine"])

	// Replayed events are not logged again; others are.
	ck.Replay(func() { s.log(algos.Event{Method: "elegant", Phase: "drift", Iter: 13}) })
	s.log(algos.Event{Method: "elegant", Phase: "drift", Iter: 14})
	require.NoError(t, d.Close())
	metrics := string(mustReadFile(t, filepath.Join(dir, "metrics.jsonl")))
	assert.NotContains(t, metrics, `"iter":13`)
	assert.Contains(t, metrics, `"iter":14`)

	// Unusable files: a notice each, no state.
	path := filepath.Join(dir, "checkpoints", partialFile("elegant"))
	raw := mustReadFile(t, path)
	for name, bad := range map[string][]byte{
		"truncated": raw[:len(raw)-3],
		"garbage":   []byte("not a checkpoint"),
		"no state":  encodeST(t, safetensors.File{Tensors: map[string]safetensors.Tensor{}}),
		"version":   encodeST(t, safetensors.File{Metadata: map[string]string{"state": `{"version":9,"key":"k"}`}}),
		"unknown":   encodeST(t, safetensors.File{Metadata: map[string]string{"state": `{"version":1,"key":"k","x":1}`}}),
		"negative":  encodeST(t, safetensors.File{Metadata: map[string]string{"state": `{"version":1,"key":"k","iter":-1}`}}),
		"int dtype": encodeST(t, safetensors.File{Metadata: map[string]string{"state": `{"version":1,"key":"k"}`}, Tensors: map[string]safetensors.Tensor{"x": {DType: safetensors.I32, Shape: []int{1}, Data: make([]byte, 4)}}}),
	} {
		require.NoError(t, os.WriteFile(path, bad, 0o644))
		notices = nil
		_, ok := ck.LoadFit("elegant", b)
		assert.False(t, ok, name)
		if assert.Len(t, notices, 1, name) {
			assert.Contains(t, notices[0], "unusable", name)
		}
	}
	assert.Error(t, ck.SaveFit("a/b", &algos.FitState{Key: "k"}), "a run name with a slash")

	// Saving the finished run removes its partial checkpoint.
	d2, err := ResumeDir(dir)
	require.NoError(t, err)
	defer d2.Close()
	s.d = d2
	require.NoError(t, ck.SaveFit("elegant", st))
	require.NoError(t, s.Save(algos.RunInfo{Name: "elegant", Method: "elegant", Alpha: 1}, algos.SavedRun{Samples: []float64{1, 2}}, nil))
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err), "the partial checkpoint stayed after the run was saved: %v", err)
}

func encodeST(t *testing.T, f safetensors.File) []byte {
	t.Helper()
	var sb strings.Builder
	require.NoError(t, safetensors.Encode(&sb, f))
	return []byte(sb.String())
}

// FuzzParsePartialState checks that the state of a partial checkpoint, read
// on a resume, never panics and that what it accepts is a usable state.
func FuzzParsePartialState(f *testing.F) {
	f.Add([]byte(`{"version":1,"key":"elegant α=1","finished":["value"],"phase":"drift","iter":10,"streams":12,"adam_step":10,"events":[{"method":"","phase":"drift","iter":0,"loss":1,"reward":null,"elapsed_s":0}]}`))
	f.Add([]byte(`{"version":1,"key":"k"} x`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ps, err := parsePartialState(raw)
		if err != nil {
			return
		}
		if ps.Version != partialVersion || ps.Key == "" || ps.Iter < 0 || ps.AdamStep < 0 {
			t.Fatalf("accepted %q: %+v", raw, ps)
		}
	})
}

// TestResumedMetricsAreTheUninterruptedOnes logs a run, stops it in the
// middle of a line, and resumes it logging again, at other wall times, the
// steps since its "checkpoint" and a pre-training: metrics.jsonl is the
// uninterrupted run's lines with the resume mark among them, and a step
// that comes back with other numbers is not hidden.
func TestResumedMetricsAreTheUninterruptedOnes(t *testing.T) {
	ev := func(method, phase string, iter int, loss float64, elapsed float64) algos.Event {
		return algos.Event{Method: method, Phase: phase, Iter: iter, Loss: algos.Number(loss), Elapsed: elapsed,
			Extra: map[string]algos.Number{"nan": algos.Number(math.NaN())}}
	}
	full := []algos.Event{ev("pretrain", "dsm", 0, 2, 0.1), ev("elegant", "drift", 0, 1, 0.2), ev("elegant", "drift", 1, 0.5, 0.3),
		ev("elegant", "drift", 2, 0.25, 0.4), ev("elegant", "drift", 3, 0.125, 0.5)}
	dir, ref := t.TempDir(), t.TempDir()
	d, err := OpenDir(ref, map[string]any{}, "cpu")
	require.NoError(t, err)
	for _, e := range full {
		d.Log(e)
	}
	require.NoError(t, d.Close())

	d, err = OpenDir(dir, map[string]any{}, "cpu")
	require.NoError(t, err)
	for _, e := range full[:3] {
		d.Log(e)
	}
	require.NoError(t, d.Close())
	path := filepath.Join(dir, "metrics.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"method":"elegant","phase":"dr`) // killed mid-line
	require.NoError(t, err)
	require.NoError(t, f.Close())

	// The resume pre-trains again and resumes the drift at iteration 1.
	d, err = ResumeDir(dir)
	require.NoError(t, err)
	d.Log(resumeMark)
	for _, e := range append([]algos.Event{full[0]}, full[2:]...) {
		e.Elapsed += 10
		d.Log(e)
	}
	require.NoError(t, d.Close())
	// The steps but for their wall time, the resume marks left out.
	steps := func(path string) []string {
		var out []string
		for l := range strings.Lines(string(mustReadFile(t, path))) {
			var e algos.Event
			require.NoError(t, json.Unmarshal([]byte(l), &e), l)
			if e.Method != resumeMark.Method {
				out = append(out, eventKey(e))
			}
		}
		return out
	}
	assert.Equal(t, steps(filepath.Join(ref, "metrics.jsonl")), steps(path))
	assert.Equal(t, 1, strings.Count(string(mustReadFile(t, path)), `"phase":"resume"`))

	// A step logged again with another loss is kept: the file shows it twice.
	d, err = ResumeDir(dir)
	require.NoError(t, err)
	d.Log(ev("elegant", "drift", 3, 0.75, 0.5))
	require.NoError(t, d.Close())
	assert.Equal(t, 2, strings.Count(string(mustReadFile(t, path)), `"phase":"drift","iter":3,`))
}
