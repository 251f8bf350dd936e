package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos/report"
	"github.com/difftune/difftune/cmd/internal/runtest"
)

func TestTFBind8FlagErrors(t *testing.T) {
	tf := []string{"-task", "tfbind8"}
	for _, args := range [][]string{
		append(tf, "-reward", "linear:1,0"), append(tf, "-alpha", "0.1,-1"), append(tf, "-alpha", "0.1,x"),
		append(tf, "-method", "ppo"), append(tf, "-reward-split", "top"), append(tf, "-k", "0"),
		append(tf, "-guidance-scale", "-1"), append(tf, "-target", "NaN"), append(tf, "-iters", "-1"), append(tf, "-seeds", ""),
	} {
		err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: error %v is not a usage error", args, err)
		}
	}
	// A missing or malformed landscape is a usage error naming the file
	// (and the line), found before -out is created.
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	missing := filepath.Join(dir, "none.txt")
	var ue usageError
	err := run(append(tf, "-landscape", missing, "-out", out, "-cache", ""), &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing landscape: %v", err)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("8-mer\t8-mer\tE-score\tMedian\tZ-score\nAAAAAAAA\tTTTTTTTT\t0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(append(tf, "-landscape", bad, "-out", out, "-cache", ""), &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("malformed landscape: %v", err)
	}
	// A -cache that is a file is refused before any training.
	err = run(append(tf, "-quick", "-cache", bad, "-out", out), &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("-cache naming a file: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("bad input created -out")
	}
}

// TestTFBind8Quick runs every method on the -quick preset (with -frames of
// the first iteration) and checks the outputs' shape, and that ELEGANT's genuine reward beats the pre-trained
// model's at an α whose target gain is clearly above the evaluation noise.
func TestTFBind8Quick(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	frames := filepath.Join(out, "frames")
	args := []string{"-task", "tfbind8", "-quick", "-out", out, "-cache", cache, "-frames", frames, "-frames-every", "1000"}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	checkFrame(t, filepath.Join(frames, "frame_elegant_00000.png"))
	checkFrame(t, filepath.Join(frames, "frame_ppokl_00000.png"))
	runs := []string{"pretrained", "elegant", "nokl", "truncation", "random", "guidance", "ppokl"}
	files := []string{"config.json", "metrics.jsonl", "summary.json", "results.md", "hist_genuine.png",
		"checkpoints/elegant_control.safetensors", "checkpoints/elegant_initial_law.safetensors", "checkpoints/ppokl_control.safetensors"}
	for _, r := range runs {
		files = append(files, "samples_"+r+".fasta")
		if r != "pretrained" && r != "guidance" {
			files = append(files, "curve_"+r+".png")
		}
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
		}
	}
	var sum struct {
		Task    string
		Alpha   float64
		Methods map[string]map[string]any // numbers, and notes
		Exact   map[string]*float64
		Targets []struct{ Alpha float64 }
		Details struct {
			RewardModel     map[string]any `json:"reward_model"`
			PretrainedStats map[string]any `json:"pretrained_stats"`
		}
	}
	raw := mustRead(t, filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatalf("summary.json: %v\n%s", err, raw)
	}
	if sum.Task != "tfbind8" || !(sum.Alpha > 0) || len(sum.Targets) != 1 || sum.Targets[0].Alpha != sum.Alpha {
		t.Fatalf("summary header: %s", raw)
	}
	for _, k := range []string{"reward", "kl", "genuine", "pretrained_target_reward", "pretrained_target_kl", "pretrained_target_ess", "pretrained_target_genuine"} {
		if sum.Exact[k] == nil {
			t.Errorf("exact lacks %s", k)
		}
	}
	for _, k := range []string{"train_rmse", "train_spearman", "other_rmse", "other_spearman"} {
		if _, ok := sum.Details.RewardModel[k].(float64); !ok {
			t.Errorf("reward_model lacks %s", k)
		}
	}
	for _, k := range []string{"position_max_abs_diff", "pair_max_abs_diff", "pair_tv"} {
		if _, ok := sum.Details.PretrainedStats[k].(float64); !ok {
			t.Errorf("pretrained_stats lacks %s", k)
		}
	}
	for _, r := range runs {
		m, ok := sum.Methods[r]
		if !ok {
			t.Fatalf("summary lacks %s", r)
		}
		for _, k := range []string{"reward_nominal", "reward_nominal_decoded", "reward_genuine", "reward_genuine_top10", "reward_genuine_max",
			"kl", "diversity", "vertex_distance", "in_train_half", "unique", "seconds"} {
			if _, ok := m[k].(float64); !ok && m[k] != nil {
				t.Errorf("%s: %s is %v", r, k, m[k])
			} else if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %s", r, k)
			}
		}
		for _, k := range []string{"energy_distance", "off_support"} {
			if _, ok := m[k]; ok {
				t.Errorf("%s has the gmm2d field %s", r, k)
			}
		}
		if !strings.Contains(string(mustRead(t, filepath.Join(out, "results.md"))), "| "+r+" |") {
			t.Errorf("results.md lacks a row for %s", r)
		}
	}
	pre, el := fastaY(t, filepath.Join(out, "samples_pretrained.fasta")), fastaY(t, filepath.Join(out, "samples_elegant.fasta"))
	if len(pre) != len(el) || len(pre) < 100 {
		t.Fatalf("%d and %d samples", len(pre), len(el))
	}
	mp, me, noise := meansAndNoise(pre, el)
	if got, _ := sum.Methods["elegant"]["reward_genuine"].(float64); math.Abs(got-me) > 1e-3 {
		t.Errorf("summary's y %v, FASTA's %v", got, me)
	}
	if gain := *sum.Exact["pretrained_target_genuine"] - mp; gain < 5*noise {
		t.Fatalf("the target's gain in y %v is not clearly above the noise %v: choose a smaller α", gain, noise)
	}
	if me-mp < 3*noise {
		t.Errorf("ELEGANT's y %v does not beat the pre-trained model's %v (noise %v)", me, mp, noise)
	}
	if !strings.Contains(stdout.String(), "| elegant |") {
		t.Errorf("stdout lacks the table:\n%s", stdout.String())
	}
}

// fastaY reads y of every sample of a FASTA file of elegant-train from the
// headers, checking that each sequence line is an 8-mer.
func fastaY(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var y []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, ">") {
			if len(line) != 8 || strings.Trim(line, "ACGT") != "" {
				t.Fatalf("%s: sequence line %q", path, line)
			}
			continue
		}
		_, after, _ := strings.Cut(line, " y=")
		v, err := strconv.ParseFloat(strings.Fields(after)[0], 64)
		if err != nil {
			t.Fatalf("%s: header %q", path, line)
		}
		y = append(y, v)
	}
	return y
}

// meansAndNoise returns the means of two independent samples and the
// standard deviation of the difference of the means.
func meansAndNoise(a, b []float64) (ma, mb, noise float64) {
	meanVar := func(v []float64) (float64, float64) {
		var m, s float64
		for _, x := range v {
			m += x
		}
		m /= float64(len(v))
		for _, x := range v {
			s += (x - m) * (x - m)
		}
		return m, s / float64(len(v)-1)
	}
	ma, va := meanVar(a)
	mb, vb := meanVar(b)
	return ma, mb, math.Sqrt(va/float64(len(a)) + vb/float64(len(b)))
}

// TestTFBind8VulkanMatchesCPU runs ELEGANT on a short preset on the CPU and
// on the Vulkan backend with the same seed and the same cached models: the
// two runs draw the same noise, so they must agree far within the noise of
// the evaluation (the spread a change of seed makes). In CI the Vulkan
// device (lavapipe) must open; elsewhere the test skips without one.
func TestTFBind8VulkanMatchesCPU(t *testing.T) {
	needVulkan(t)
	cache := t.TempDir()
	summaries := map[string]map[string]map[string]any{}
	ys := map[string][]float64{}
	for _, device := range []string{"cpu", "vulkan"} {
		out := filepath.Join(t.TempDir(), device)
		args := []string{"-task", "tfbind8", "-quick", "-method", "elegant", "-iters", "10", "-eval-samples", "500",
			"-device", device, "-out", out, "-cache", cache}
		var stderr bytes.Buffer
		if err := run(args, &bytes.Buffer{}, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", device, err, stderr.String())
		}
		var sum struct{ Methods map[string]map[string]any }
		if err := json.Unmarshal(mustRead(t, filepath.Join(out, "summary.json")), &sum); err != nil {
			t.Fatal(err)
		}
		summaries[device] = sum.Methods
		ys[device] = fastaY(t, filepath.Join(out, "samples_elegant.fasta"))
	}
	cpuY, vkY, noise := meansAndNoise(ys["cpu"], ys["vulkan"])
	t.Logf("ELEGANT y: CPU %.6f, Vulkan %.6f (noise of a seed change %.4f)", cpuY, vkY, noise)
	if math.Abs(cpuY-vkY) > noise/4 {
		t.Errorf("ELEGANT's y: CPU %v, Vulkan %v, beyond a quarter of the noise %v", cpuY, vkY, noise)
	}
	for _, key := range []string{"reward_nominal", "kl", "diversity"} {
		c, v := summaries["cpu"]["elegant"][key].(float64), summaries["vulkan"]["elegant"][key].(float64)
		t.Logf("%s: CPU %.6f, Vulkan %.6f", key, c, v)
		if math.Abs(c-v) > 0.01*(1+math.Abs(c)) {
			t.Errorf("ELEGANT's %s: CPU %v, Vulkan %v", key, c, v)
		}
	}
}

// TestTFBind8Seeds runs ELEGANT on the -quick preset over two seeds (with
// -frames of the first iteration, filed by seed) and checks the per-seed
// outputs and that the aggregate holds their mean and spread.
func TestTFBind8Seeds(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	frames := filepath.Join(t.TempDir(), "frames")
	args := []string{"-task", "tfbind8", "-quick", "-method", "elegant", "-seeds", "4,7", "-out", out, "-cache", cache,
		"-frames", frames, "-frames-every", "1000"}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, seed := range []string{"seed4", "seed7"} {
		checkFrame(t, filepath.Join(frames, seed, "frame_elegant_00000.png"))
	}
	type methods map[string]map[string]any
	var per []methods
	for _, seed := range []string{"seed4", "seed7"} {
		var s struct{ Methods methods }
		if err := json.Unmarshal(mustRead(t, filepath.Join(out, seed, "summary.json")), &s); err != nil {
			t.Fatalf("%s: %v", seed, err)
		}
		per = append(per, s.Methods)
	}
	var agg report.SeedsSummary
	raw := mustRead(t, filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(raw, &agg); err != nil {
		t.Fatalf("summary.json: %v\n%s", err, raw)
	}
	if len(agg.Seeds) != 2 || len(agg.Runs) != 2 || len(agg.Targets) != 1 {
		t.Fatalf("aggregate header: %s", raw)
	}
	for _, run := range []string{"pretrained", "elegant"} {
		for _, key := range []string{"reward_nominal", "reward_genuine", "kl", "diversity"} {
			got := agg.Metrics[run][key]
			a, b := per[0][run][key].(float64), per[1][run][key].(float64)
			if got.Finite != 2 || math.Abs(float64(got.Mean)-(a+b)/2) > 1e-12 || math.Abs(float64(got.SD)-math.Abs(a-b)/math.Sqrt2) > 1e-12 {
				t.Errorf("%s %s: aggregate %+v of %v and %v", run, key, got, a, b)
			}
		}
	}
	if a, b := per[0]["elegant"]["reward_nominal"], per[1]["elegant"]["reward_nominal"]; a == b {
		t.Errorf("both seeds gave r̂ = %v: the seed does not reach the run", a)
	}
	md := string(mustRead(t, filepath.Join(out, "results.md")))
	if !strings.Contains(md, "| elegant |") || !strings.Contains(md, " ± ") || !strings.Contains(md, "## Findings") {
		t.Errorf("results.md:\n%s", md)
	}
	// The same command again reuses both finished seeds and writes the same
	// aggregate; another setting runs again.
	stdout.Reset()
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if n := strings.Count(stdout.String(), "reusing the finished run"); n != 2 {
		t.Errorf("rerun reused %d seeds:\n%s", n, stdout.String())
	}
	if again := mustRead(t, filepath.Join(out, "summary.json")); !bytes.Equal(again, raw) {
		t.Errorf("the rerun's aggregate differs:\n%s\n%s", again, raw)
	}
	// A seed whose summary.json is missing is not reused as a whole: it
	// runs again, reusing its finished runs, to the same numbers.
	if err := os.Remove(filepath.Join(out, "seed7", "summary.json")); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("rerun without seed7/summary.json: %v", err)
	}
	if n := strings.Count(stdout.String(), "reusing the finished run in"); n != 1 || !strings.Contains(stdout.String(), "== seed 7 →") {
		t.Errorf("seed 7 without its summary.json was reused:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "reusing the finished run elegant") {
		t.Errorf("seed 7 did not reuse its finished run:\n%s", stderr.String())
	}
	if again := mustRead(t, filepath.Join(out, "summary.json")); !reflect.DeepEqual(runtest.WithoutTiming(t, again), runtest.WithoutTiming(t, raw)) {
		t.Errorf("the aggregate after seed 7's resume differs:\n%s\n%s", again, raw)
	}
	// Another setting is refused without -force, and replaces every seed
	// with it.
	var ue usageError
	if err := run(append(args, "-iters", "3"), &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "-force") {
		t.Errorf("another setting without -force: %v", err)
	}
	stdout.Reset()
	if err := run(append(args, "-iters", "3", "-force"), &stdout, &stderr); err != nil {
		t.Fatalf("rerun with another setting: %v", err)
	}
	if n := strings.Count(stdout.String(), "reusing the finished run"); n != 0 {
		t.Errorf("a run of another setting reused %d seeds", n)
	}
}
