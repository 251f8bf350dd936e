package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/report"
)

// TestBadFlagsAreUsageErrors checks that every bad flag or value is a
// usage error (one line, exit status 2) found before --output_dir is
// created.
func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--num_samples", "1"}, {"--lambda_init", "0"}, {"--lambda_init", "-1"}, {"--lambda_init", "NaN"}, {"--lambda_init", "200"},
		{"--gamma", "0"}, {"--gamma", "Inf"}, {"--steps", "-1"}, {"-lr", "0"}, {"-lr", "NaN"}, {"-lambda-min", "0"},
		{"-lambda-min", "2", "-lambda-max", "1"}, {"-lambda-max", "Inf"}, {"-pool", "10"}, {"-eval-samples", "1"},
		{"-upper", "linaer:1,0"}, {"-lower", "quadratic:-1,0"}, {"-upper", "rhat"}, {"-task", "mnist"}, {"-task", "tfbind8", "-upper", "Y"}, {"-task", "tfbind8", "-lower", "y"},
		{"-nosuchflag"}, {"extra"}, {"-sde-steps", "0"}, {"-beta-max", "Inf"}, {"-device", "no-such-device"}, {"-quick", "-sde-steps", "0"}, {"-elegant-iters", "0"}, {"-elegant-batch", "-1"}, {"-view-stop"}, {"-frames", "x", "-frames-every", "0"},
	} {
		out := filepath.Join(t.TempDir(), "never")
		err := run(append(args, "--output_dir", out, "-cache", ""), &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: error %v is not a usage error", args, err)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: the error is not one line: %q", args, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: a bad value created --output_dir", args)
		}
	}
	// The upper reward is named in its error.
	err := run([]string{"-upper", "linear:1", "--output_dir", t.TempDir(), "-cache", ""}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "upper") || !strings.Contains(err.Error(), "linear:1") {
		t.Errorf("bad upper reward: %v", err)
	}
}

// TestQuick runs the -quick preset on gmm2d (ELEGANT included) and checks
// every output file, that λ stayed in [λ_min, λ_max] at every step, that
// lambda_final.txt is the number alone and the last step's, that the summary
// is strict JSON with both samplers, and that the same seed reproduces the
// descent and the samples exactly.
func TestQuick(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	args := []string{"-quick", "-pretrain-iters", "200", "-width", "32", "-sde-steps", "10", "--steps", "40", "-lambda-min", "0.005",
		"-lambda-max", "3", "--output_dir", out, "-cache", cache}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	files := []string{"lambda_final.txt", "summary.json", "logs/lambda.jsonl", "logs/lambda.png", "logs/metrics.jsonl",
		"samples/pretrained.npy", "samples/guided.npy", "samples/elegant.npy"}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
		}
	}
	raw := mustRead(t, filepath.Join(out, "lambda_final.txt"))
	lf, err := strconv.ParseFloat(strings.TrimSuffix(string(raw), "\n"), 64)
	if err != nil || !(lf >= 0.005 && lf <= 3) {
		t.Fatalf("lambda_final.txt %q: %v", raw, err)
	}
	f, err := os.Open(filepath.Join(out, "logs", "lambda.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []algos.BilevelStep
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var st algos.BilevelStep
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			t.Fatalf("log line %d: %v", len(steps), err)
		}
		for _, l := range []algos.Number{st.Lambda, st.Next} {
			if !(l >= 0.005 && l <= 3) {
				t.Errorf("step %d: λ = %v left [0.005, 3]", st.Step, l)
			}
		}
		if st.Step != len(steps) || !st.Grad.Finite() || !st.F.Finite() || !st.KL.Finite() {
			t.Errorf("log line %d: %s", len(steps), sc.Text())
		}
		steps = append(steps, st)
	}
	if len(steps) != 40 || float64(steps[0].Lambda) != 0.01 || float64(steps[39].Next) != lf {
		t.Fatalf("%d steps, from %v to %v; lambda_final %v", len(steps), steps[0].Lambda, steps[len(steps)-1].Next, lf)
	}
	var sum summary
	sraw := mustRead(t, filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(sraw, &sum); err != nil {
		t.Fatalf("summary.json: %v\n%s", err, sraw)
	}
	if float64(sum.LambdaFinal) != lf || sum.Exact == nil || !(sum.Exact.LambdaStar > 0.9 && sum.Exact.LambdaStar < 1.1) {
		t.Errorf("summary: λ_final %v, exact %+v", sum.LambdaFinal, sum.Exact)
	}
	for _, k := range []string{"pretrained", "guided", "elegant"} {
		if r, ok := sum.Samplers[k]; !ok || r.MeanUpper == 0 || r.Seconds < 0 {
			t.Errorf("summary lacks the sampler %s: %+v", k, r)
		}
	}
	if !strings.Contains(stdout.String(), "λ_final") || !strings.Contains(stdout.String(), "elegant") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	// The same seed again, without ELEGANT: the same descent and samples.
	again := t.TempDir()
	args = append(args[:len(args)-4], "--output_dir", again, "-cache", cache, "-elegant=false")
	if err := run(args, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"lambda_final.txt", "logs/lambda.jsonl", "samples/guided.npy", "samples/pretrained.npy"} {
		if !bytes.Equal(mustRead(t, filepath.Join(out, f)), mustRead(t, filepath.Join(again, f))) {
			t.Errorf("%s differs between two runs of one seed", f)
		}
	}
	if _, err := os.Stat(filepath.Join(again, "samples", "elegant.npy")); err == nil {
		t.Error("-elegant=false wrote ELEGANT's samples")
	}
}

// TestFormatLambda checks that lambda_final.txt reads back exactly.
func TestFormatLambda(t *testing.T) {
	for _, l := range []float64{0.01, 1.0 / 3, 0.9904, 1e-3, 100} {
		if v, err := strconv.ParseFloat(formatLambda(l), 64); err != nil || v != l || math.IsNaN(v) {
			t.Errorf("%v written as %q", l, formatLambda(l))
		}
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

// TestLockedOutputDir checks that a run refuses an output folder whose
// lock another holder keeps (here this process), before any work.
func TestLockedOutputDir(t *testing.T) {
	out := t.TempDir()
	held, err := report.LockDir(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	err = run([]string{"-quick", "--output_dir", out, "-cache", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "in use by process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("a locked output folder: %v", err)
	}
}
