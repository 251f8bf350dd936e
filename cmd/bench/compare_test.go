package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestMain runs main itself when asked (for the exit-status test).
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_MAIN") == "1" {
		os.Args = append([]string{"bench"}, strings.Fields(os.Getenv("BENCH_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Recorded output of the two PyTorch scripts (python3-torch 1.13.1, 2 cores).
const (
	sampleGMM2D = `{
 "workload": "gmm2d_iter",
 "threads": 2,
 "batch": 512,
 "steps": 100,
 "width": 256,
 "seconds_median": 0.6862,
 "seconds_min": 0.6641,
 "gflop": 69.9,
 "gflops_median": 101.866
}
`
	sampleWorkloads = `{"workload": "transformer_iter_256x8x64", "seconds_median": 0.0213, "seconds_min": 0.0201, "gflops_median": 97.3, "torch": "1.13.1", "threads": 2}
{"workload": "unet_train_b128", "seconds_median": 0.91, "seconds_min": 0.88, "gflops_median": null, "torch": "1.13.1", "threads": 2}
`
)

func TestParseTorchOutput(t *testing.T) {
	runs, err := parseTorchOutput([]byte(sampleGMM2D + sampleWorkloads))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("got %d runs, want 3: %+v", len(runs), runs)
	}
	if r := runs[0]; r.Workload != "gmm2d_iter" || r.Median != 0.6862 || r.Min != 0.6641 || r.GFLOPS == nil || *r.GFLOPS != 101.866 {
		t.Errorf("gmm2d: %+v", r)
	}
	if r := runs[1]; r.Workload != "transformer_iter_256x8x64" || r.Median != 0.0213 || *r.GFLOPS != 97.3 {
		t.Errorf("transformer: %+v", r)
	}
	if r := runs[2]; r.Workload != "unet_train_b128" || r.GFLOPS != nil {
		t.Errorf("unet (no FLOP count): %+v", r)
	}
	for _, bad := range []string{`{"workload": "x", "seconds_median": 0}`, `{"seconds_median": 1}`, `{"workload": "x", "seconds_median": NaN}`, "Traceback"} {
		if _, err := parseTorchOutput([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	// gmm2d-like: 70 GFLOP on both sides; PyTorch 1.2×, 0.9×, 1.5× slower by round.
	const f = 70e9
	rounds := []roundSample{
		{Ours: 1.0, Torch: 1.2, OursFLOPs: f, TorchFLOPs: f},
		{Ours: 0.8, Torch: 0.72, OursFLOPs: f, TorchFLOPs: f},
		{Ours: 0.6, Torch: 0.9, OursFLOPs: f, TorchFLOPs: f},
	}
	r := summarize("gmm2d_iter", true, rounds)
	near := func(what string, got *float64, want float64) {
		t.Helper()
		if got == nil || math.Abs(*got-want) > 1e-12*math.Abs(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	near("ours median", r.OursMedian, 0.8)
	near("PyTorch median", r.TorchMedian, 0.9)
	near("ratio", r.Ratio, 0.9/0.8)
	near("ours GFLOP/s", r.OursGFLOPS, 70/0.8)
	near("PyTorch GFLOP/s", r.TorchGFLOPS, 70/0.9)
	for i, want := range []float64{1.2, 0.9, 1.5} {
		near("round ratio", &r.RoundRatios[i], want)
	}

	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", m)
	}

	// No twin, no FLOP count: nulls, never NaN, and strict JSON.
	lone := summarize("attention_256x4x8x16", false, nil)
	if lone.Ratio != nil || lone.TorchMedian != nil || lone.OursMedian != nil {
		t.Errorf("no twin: %+v", lone)
	}
	nof := summarize("unet_train_b128", true, []roundSample{{Ours: 1, Torch: 2}})
	if nof.OursGFLOPS != nil || nof.TorchGFLOPS != nil {
		t.Errorf("no FLOP count: %+v", nof)
	}
	if _, err := json.Marshal([]CompareResult{r, lone, nof}); err != nil {
		t.Error(err)
	}

	var out bytes.Buffer
	printTable(&out, []CompareResult{r, lone})
	for _, want := range []string{"> 1 means we are faster", "gmm2d_iter", "1.12×", "87.5", "77.8", "1.20 0.90 1.50", "attention_256x4x8x16", "no PyTorch twin"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printSgemm(&out, []SgemmRound{{1, 1024, 60, 190}, {1, 2048, 61, 195}, {2, 1024, 62, 191}, {2, 2048, 63, 196}}, 2, "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so")
	for _, want := range []string{"round 2", "1024³ ours", "60.0      62.0", "2048³ PyTorch/OpenBLAS", "195.0     196.0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sgemm table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseCPUInfo(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got, want := parseCPUInfo(info), "AMD EPYC (AuthenticAMD family 26 model 2)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestCompareWithoutTorch: a missing interpreter, or one without torch, is one
// clear error with the install command, and nothing is run or printed.
func TestCompareWithoutTorch(t *testing.T) {
	noTorch := writeScript(t, "python-without-torch", `echo "Traceback (most recent call last):" >&2
echo "ModuleNotFoundError: No module named 'torch'" >&2
exit 1`)
	for py, why := range map[string]string{"/nonexistent/python3": "not found", noTorch: "No module named 'torch'"} {
		var stdout, stderr bytes.Buffer
		err := run([]string{"-compare", "-python", py}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), installHint) || !strings.Contains(err.Error(), why) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line with %q and %q", py, err, why, installHint)
		}
		if stdout.Len() != 0 || stderr.Len() != 0 {
			t.Errorf("%s: printed %q / %q before failing", py, stdout.String(), stderr.String())
		}
	}

	// The binary's exit status is 2, with that one line.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BENCH_TEST_MAIN=1", "BENCH_TEST_ARGS=-compare -python /nonexistent/python3")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("exit: %v, want status 2", err)
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], installHint) || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr %q: want one line on stderr with the install command", stdout.String(), stderr.String())
	}
}

// TestCompareFakeTorch runs the whole comparison against a stand-in for
// python3 that replays recorded output, on a tiny real workload of ours.
func TestCompareFakeTorch(t *testing.T) {
	py := writeScript(t, "fake-python", `case "$1" in
-c) echo '{"torch": "1.13.1", "blas": "/usr/lib/libblas.so.3", "threads": 2, "workloads": ["matmul_256", "matmul_512"]}' ;;
*torch_workloads.py)
  test "$OMP_WAIT_POLICY" = PASSIVE || { echo "OMP_WAIT_POLICY=$OMP_WAIT_POLICY" >&2; exit 1; }
  echo "{\"workload\": \"$2\", \"seconds_median\": 0.001, \"seconds_min\": 0.0009, \"gflops_median\": 33.554432, \"torch\": \"1.13.1\", \"threads\": 2}" ;;
*) echo "unexpected $*" >&2; exit 1 ;;
esac`)
	jsonPath := filepath.Join(t.TempDir(), "compare.json")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-compare", "-python", py, "-run", "^(matmul_256|attention_256x4x8x16)$", "-sgemm", "256", "-rounds", "2", "-reps", "1", "-json", jsonPath}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"CPU:", "CPU kernels:", "1.13.1", "256³ ours", "256³ PyTorch/BLAS", "round 2", "matmul_256", "attention_256x4x8x16", "no PyTorch twin", "33.6"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(stderr.String(), "matmul_256"); n != 2 {
		t.Errorf("%d progress lines of matmul_256, want 2 (one per round):\n%s", n, stderr.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Kernels string          `json:"cpu_kernels"`
		Sgemm   []SgemmRound    `json:"sgemm"`
		Results []CompareResult `json:"results"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if got.Kernels == "" || len(got.Sgemm) != 2 || len(got.Results) != 2 {
		t.Fatalf("JSON: %s", b)
	}
	if r := got.Results[0]; r.Workload != "matmul_256" || !r.HasTwin || len(r.TorchSeconds) != 2 || *r.TorchMedian != 0.001 || r.Ratio == nil || math.Abs(*r.TorchGFLOPS-33.554432) > 1e-9 {
		t.Errorf("matmul_256: %+v", r)
	}
	if r := got.Results[1]; r.HasTwin || r.Ratio != nil || r.OursSeconds != nil {
		t.Errorf("attention (no twin): %+v", r)
	}
}

// writeScript writes an executable shell script for the tests and returns its path.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts")
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
