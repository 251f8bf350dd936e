package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difftune/difftune/cmd/internal/cli"
)

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-alpha", "0"}, {"-alpha", "-1"}, {"-alpha", "NaN"}, {"-method", "ppo"}, {"-task", "mnist"},
		{"-iters", "-1"}, {"-batch", "0"}, {"-beta-max", "0"}, {"-nosuchflag"}, {"-alpha", "x"}, {"extra"},
		{"-lr", "Inf"}, {"-lr", "0"}, {"-eval-samples", "1"}, {"-beta-max", "Inf"}, {"-landscape", "x"}, {"-reward-split", "top"},
		{"-reward", "linaer:1,0"}, {"-seeds", "1,1"}, {"-seeds", "1,x"}, {"-seed", "2", "-seeds", "1,3"}, {"-guidance-scale", "-1"}, {"-target", "NaN"},
	} {
		var stderr bytes.Buffer
		err := run(args, &bytes.Buffer{}, &stderr)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: error %v is not a usage error", args, err)
		}
	}
	// A bad reward is reported before any work, naming the reward.
	err := run([]string{"-reward", "linear:1", "-out", t.TempDir(), "-cache", ""}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "linear:1") {
		t.Errorf("bad reward: %v", err)
	}
	// A flag of another task names it.
	if err := run([]string{"-landscape", "x"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "tfbind8") {
		t.Errorf("tfbind8 flag on gmm2d: %v", err)
	}
	// Bad values are refused before -out is created.
	out := filepath.Join(t.TempDir(), "never")
	if err := run([]string{"-reward", "linear:1", "-out", out}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("bad reward accepted")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a bad value created -out")
	}
	if _, err := cli.OpenDevice("no-such-device"); err == nil || !strings.Contains(err.Error(), "available") {
		t.Errorf("unknown device: %v", err)
	}
}

// TestSmallRun runs the whole job on a tiny preset and checks every output:
// the files, the shape of summary.json, that ELEGANT moves the reward toward
// the target, and that a second run reuses the cached pre-trained model.
func TestSmallRun(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	args := []string{"-quick", "-pretrain-iters", "300", "-width", "64", "-steps", "20", "-iters", "30", "-lr", "0.01",
		"-eval-samples", "400", "-out", out, "-cache", cache}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{"config.json", "metrics.jsonl", "summary.json", "results.md", "samples_elegant.npy", "samples_nostep2.npy",
		"samples_nokl.npy", "samples_pretrained.npy", "samples_exact.npy", "scatter_elegant.png", "curve_elegant.png", "hist_genuine.png",
		"checkpoints/elegant_control.safetensors", "checkpoints/elegant_initial_law.safetensors"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Task    string
		Alpha   float64
		Methods map[string]map[string]*float64
		Exact   map[string]*float64
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatalf("summary.json is not valid JSON: %v\n%s", err, raw)
	}
	if sum.Task != "gmm2d" || sum.Alpha != 1 || sum.Exact["reward"] == nil || sum.Exact["kl"] == nil {
		t.Fatalf("summary header: %s", raw)
	}
	for _, m := range []string{"pretrained", "elegant", "nostep2", "nokl"} {
		ms, ok := sum.Methods[m]
		if !ok {
			t.Fatalf("summary lacks method %s", m)
		}
		for _, k := range []string{"reward_nominal", "reward_genuine", "kl", "diversity", "energy_distance", "off_support", "seconds"} {
			if _, ok := ms[k]; !ok {
				t.Errorf("%s lacks %s", m, k)
			}
		}
	}
	pre, el := *sum.Methods["pretrained"]["reward_nominal"], *sum.Methods["elegant"]["reward_nominal"]
	if target := *sum.Exact["reward"]; !(el > pre+0.5*(target-pre)) {
		t.Errorf("ELEGANT's reward %v did not move halfway from the pre-trained %v to the target %v", el, pre, target)
	}
	lines := bytes.Count(mustRead(t, filepath.Join(out, "metrics.jsonl")), []byte("\n"))
	if lines < 25 {
		t.Errorf("metrics.jsonl has %d lines", lines)
	}
	if !strings.Contains(stdout.String(), "elegant") {
		t.Errorf("stdout lacks the table:\n%s", stdout.String())
	}

	// Same configuration again: the pre-trained model comes from the cache.
	stderr.Reset()
	if err := run(append(args, "-method", "elegant", "-out", t.TempDir()), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "loaded the pre-trained model") {
		t.Errorf("second run did not use the cache:\n%s", stderr.String())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
