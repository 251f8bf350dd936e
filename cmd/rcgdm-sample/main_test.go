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

	// Again into the same directory: refused without -force, replaced with
	// it (the samples of pairs no longer asked for are removed).
	var ue usageError
	assert.ErrorAs(t, run(args, &bytes.Buffer{}, &bytes.Buffer{}), &ue)
	require.NoError(t, run(append(quick("1", "5"), "-force"), &bytes.Buffer{}, &bytes.Buffer{}))
	_, err = os.Stat(filepath.Join(out, "samples_rcgdm_t4_g1.npy"))
	assert.True(t, os.IsNotExist(err), "a sample file of the earlier run is left")
	_, err = os.Stat(filepath.Join(out, "samples_rcgdm_t1_g1.npy"))
	assert.NoError(t, err)
}
