package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/difftune/difftune/algos/report"
	"github.com/difftune/difftune/cmd/internal/runtest"
)

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-target", "NaN"}, {"-target", "Inf"}, {"-targets", "1,x"}, {"-targets", "1,1"}, {"-targets", ""}, {"-target", "1", "-targets", "2,3"},
		{"-guidance", "-1"}, {"-guidance", "NaN"}, {"-guidances", "1,-2"}, {"-guidances", "4,4"}, {"-guidance", "1", "-guidances", "1,2"},
		{"-num_images", "1"}, {"-label-noise", "-0.1"}, {"-label-noise", "NaN"}, {"-predictor-iters", "0"}, {"-task", "mnist"},
		{"-reward", "linaer:1,0"}, {"-nosuchflag"}, {"extra"}, {"-task", "tfbind8", "-reward", "linear:1,0"},
	} {
		out := filepath.Join(t.TempDir(), "never")
		err := run(append(args, "-out", out, "-cache", ""), &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		assert.True(t, errors.As(err, &ue), "%v: error %v is not a usage error", args, err)
		if err != nil {
			assert.NotContains(t, err.Error(), "\n", "%v: the error is one line", args)
		}
		_, statErr := os.Stat(out)
		assert.True(t, os.IsNotExist(statErr), "%v: a bad flag created -out", args)
	}
	// -out a file, and a directory that holds a run, are refused before
	// anything is written.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	var ue usageError
	assert.ErrorAs(t, run([]string{"-out", file, "-cache", ""}, &bytes.Buffer{}, &bytes.Buffer{}), &ue)
	held := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(held, "config.json"), []byte("{}"), 0o644))
	err := run([]string{"-out", held, "-cache", ""}, &bytes.Buffer{}, &bytes.Buffer{})
	assert.ErrorAs(t, err, &ue)
	assert.ErrorContains(t, err, "-force")
	raw, _ := os.ReadFile(filepath.Join(held, "config.json"))
	assert.Equal(t, "{}", string(raw), "the run in -out was kept")
}

// TestQuickSweep runs a tiny sweep on gmm2d (r = x₁) and checks the
// outputs and the curve: a higher target gives a higher genuine reward, and
// the predicted reward is recorded beside it.
func TestQuickSweep(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	targets := []float64{-2, 1, 4}
	quick := func(targets, iters string) []string {
		return []string{"-quick", "-pretrain-iters", "250", "-width", "64", "-steps", "15", "-predictor-iters", iters,
			"-num_images", "300", "-targets", targets, "-guidance", "1", "-out", out, "-cache", cache}
	}
	args := quick("-2,1,4", "100")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(args, &stdout, &stderr), stderr.String())
	runs := []string{"rcgdm_t-2_g1", "rcgdm_t1_g1", "rcgdm_t4_g1"}
	files := []string{"config.json", "metrics.jsonl", "summary.json", "results.md", "reward_vs_target.png",
		"samples_pretrained.npy", "checkpoints/rcgdm_predictor.safetensors"}
	for _, r := range runs {
		files = append(files, "samples_"+r+".npy")
	}
	for _, f := range files {
		st, err := os.Stat(filepath.Join(out, f))
		if assert.NoError(t, err, f) {
			assert.NotZero(t, st.Size(), f)
		}
	}
	_, err := os.Stat(filepath.Join(out, "samples_rcgdm.npy"))
	assert.True(t, os.IsNotExist(err), "the runner's own run is replaced by the sweep's")

	sum, err := report.ReadSummary(out)
	require.NoError(t, err)
	prev := -1e9
	for i, r := range runs {
		ms, ok := sum.Methods[r]
		require.True(t, ok, "summary lacks %s", r)
		for _, k := range []string{"reward_genuine", "reward_genuine_sd", "reward_predicted", "reward_predicted_sd", "off_support", "kl"} {
			v, ok := ms.Metric(k)
			assert.True(t, ok && v.Finite(), "%s: %s = %v", r, k, v)
		}
		target, _ := ms.Metric("target")
		assert.Equal(t, targets[i], float64(target))
		got := float64(ms.RewardGenuine)
		assert.Greater(t, got, prev+0.5, "%s: the genuine reward did not rise with the target", r)
		pred, _ := ms.Metric("reward_predicted")
		assert.InDelta(t, got, float64(pred), 1, "%s: predicted against genuine", r)
		t.Logf("%s: genuine %.3f, predicted %.3f", r, got, float64(pred))
		prev = got
	}
	// summary.json's details hold the curve.
	raw, err := os.ReadFile(filepath.Join(out, "summary.json"))
	require.NoError(t, err)
	var s struct {
		Details struct {
			Curve []point `json:"rcgdm"`
		} `json:"details"`
	}
	require.NoError(t, json.Unmarshal(raw, &s))
	assert.Len(t, s.Details.Curve, 3)
	var cfg config
	raw, err = os.ReadFile(filepath.Join(out, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Equal(t, sweep{Targets: targets, Guidances: []float64{1}}, cfg.Sweep)
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "## RCGDM: reward against the target")
	assert.Contains(t, string(md), "| 4 | 1 |")
	assert.True(t, strings.Contains(stdout.String(), "guidance 1: the genuine reward peaks"), stdout.String())

	// The same command again, killed while it writes summary.json (the
	// crash hook), leaves no finished run; once more, it starts over and
	// ends with the same summary.
	first := filepath.Join(t.TempDir(), "summary.json")
	require.NoError(t, os.WriteFile(first, mustRead(t, filepath.Join(out, "summary.json")), 0o644))
	runtest.Killed(t, "write:"+filepath.Base(out)+"/summary.json", args...)
	_, err = os.Stat(filepath.Join(out, "summary.json"))
	assert.True(t, os.IsNotExist(err), "a killed run left a summary.json")
	stderr.Reset()
	require.NoError(t, run(args, &bytes.Buffer{}, &stderr), stderr.String())
	assert.Contains(t, stderr.String(), "taking over the stale lock")
	assert.Contains(t, stderr.String(), "starting the run in "+out+" over")
	runtest.SameSummary(t, filepath.Join(out, "summary.json"), first)

	// Another configuration: refused without -force (status 2, nothing
	// changed), replaced with it (the samples of pairs no longer asked for
	// are removed).
	before := runtest.Snapshot(t, out)
	var ue usageError
	err = run(quick("1", "5"), &bytes.Buffer{}, &bytes.Buffer{})
	assert.ErrorAs(t, err, &ue)
	assert.ErrorContains(t, err, "-force")
	assert.True(t, runtest.SameFiles(before, runtest.Snapshot(t, out)), "a refused run changed -out")
	require.NoError(t, run(append(quick("1", "5"), "-force"), &bytes.Buffer{}, &bytes.Buffer{}))
	_, err = os.Stat(filepath.Join(out, "samples_rcgdm_t4_g1.npy"))
	assert.True(t, os.IsNotExist(err), "a sample file of the earlier run is left")
	_, err = os.Stat(filepath.Join(out, "samples_rcgdm_t1_g1.npy"))
	assert.NoError(t, err)
}

func TestMain(m *testing.M) { runtest.Main(m, "rcgdm-sample", main) }

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
