package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/difftune/difftune/algos/report"
	"github.com/difftune/difftune/cmd/internal/runtest"
)

// tiny is a gmm2d run of a few seconds: small network, few steps.
func tiny(out, cache string, extra ...string) []string {
	return append([]string{"-quick", "-pretrain-iters", "60", "-width", "16", "-steps", "6", "-iters", "4", "-batch", "48",
		"-eval-samples", "100", "-out", out, "-cache", cache}, extra...)
}

// TestAStoppedOrRefusedRunLeavesTheOldOne runs a tiny job, then refuses bad
// values (a reward, a batch too large for memory), a run of another
// configuration without -force and a run on a locked directory, each with
// exit status 2 (the lock: 1) and the old run intact; -force replaces it,
// and config.json records what ran (-iters reaches NO KL, -quick does not
// cap an explicit -batch).
func TestAStoppedOrRefusedRunLeavesTheOldOne(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	args := tiny(out, cache, "-method", "elegant,nokl")
	var stderr bytes.Buffer
	if err := run(args, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	before := runtest.Snapshot(t, out)
	if _, ok := before["/summary.json"]; !ok {
		t.Fatal("no summary.json")
	}
	if _, ok := before["/.lock"]; ok {
		t.Error("the lock stayed after the run")
	}
	var cfg struct {
		Plan struct {
			Recipe struct {
				Drift         struct{ Iters, Batch int }
				BaselineIters int
			}
		}
	}
	if err := json.Unmarshal(before["/config.json"], &cfg); err != nil {
		t.Fatal(err)
	}
	if r := cfg.Plan.Recipe; r.Drift.Iters != 4 || r.Drift.Batch != 48 || r.BaselineIters != 0 {
		t.Errorf("config.json records %+v, not -iters 4 -batch 48 for every method", r)
	}
	if n := bytes.Count(before["/metrics.jsonl"], []byte(`"method":"nokl","phase":"drift"`)); n != 4 {
		t.Errorf("NO KL logged %d drift iterations, not -iters 4", n)
	}

	for _, bad := range [][]string{
		{"-reward", "linear:1"}, {"-alpha", "0"}, {"-batch", "100000000"}, {"-eval-samples", "2000000000"},
		{"-iters", "5"}, {"-method", "elegant"}, // another configuration, without -force
	} {
		var stderr bytes.Buffer
		err := run(append(slices.Clone(args), bad...), &bytes.Buffer{}, &stderr)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v is not a usage error (exit 2)", bad, err)
		}
		if bad[0] == "-batch" && (err == nil || !strings.Contains(err.Error(), "GiB")) {
			t.Errorf("the batch too large is refused without the estimate: %v", err)
		}
		if bad[0] == "-iters" && (err == nil || !strings.Contains(err.Error(), "-force")) {
			t.Errorf("another configuration: %v", err)
		}
		if after := runtest.Snapshot(t, out); !reflect.DeepEqual(slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before))) {
			t.Fatalf("%v changed the files of the old run: %v", bad, slices.Sorted(maps.Keys(after)))
		} else {
			for f, b := range before {
				if !bytes.Equal(after[f], b) {
					t.Errorf("%v changed %s", bad, f)
				}
			}
		}
	}

	// A run on a directory whose lock another holder keeps (here this
	// process, through its own open file) refuses, naming it.
	held, err := report.LockDir(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = run(args, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "in use by process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("a locked directory: %v", err)
	}
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}

	// A lock file that no process holds is stale: the lock of a process
	// that died. -force replaces the run and takes the lock over.
	sleep := exec.Command("sleep", "0")
	if err := sleep.Run(); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(out, ".lock")
	if err := os.WriteFile(lock, []byte(`{"pid":`+strconv.Itoa(sleep.Process.Pid)+`,"started":"now"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if err := run(append(slices.Clone(args), "-iters", "3", "-force"), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("-force: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stale lock") {
		t.Errorf("the stale lock was not announced:\n%s", stderr.String())
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(out, "config.json")), &cfg); err != nil || cfg.Plan.Recipe.Drift.Iters != 3 {
		t.Errorf("-force did not replace the run: %+v %v", cfg, err)
	}
	if _, err := os.Stat(lock); err == nil {
		t.Error("the lock stayed after the run")
	}
}

// TestTinyESSWarns: at a tiny α the pre-trained model's target rests on one
// sample; the run says so, on stderr and in summary.json.
func TestTinyESSWarns(t *testing.T) {
	out := t.TempDir()
	var stderr bytes.Buffer
	if err := run(tiny(out, t.TempDir(), "-alpha", "1e-9", "-method", "nokl", "-iters", "1"), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "effective sample size") {
		t.Errorf("no warning on stderr:\n%s", stderr.String())
	}
	var sum struct{ Notes map[string]string }
	if err := json.Unmarshal(mustRead(t, filepath.Join(out, "summary.json")), &sum); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.Notes["ess_a1e-09"], "effective sample size") {
		t.Errorf("summary.json notes: %v", sum.Notes)
	}
}

// TestKillAndResume builds the binary, kills it (SIGKILL) while it
// fine-tunes the second method, and runs the same command again: it takes
// the stale lock over, reuses the first method's finished run and writes a
// summary.json identical, but for the seconds, to an uninterrupted run's.
func TestKillAndResume(t *testing.T) {
	if runtest.SIMDBuild {
		t.Skip("kill tests run in the plain build")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "elegant-train")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cache, ref, out := filepath.Join(dir, "cache"), filepath.Join(dir, "ref"), filepath.Join(dir, "out")
	// The second method fine-tunes long enough to be caught (a few
	// seconds).
	args := func(out string) []string { return tiny(out, cache, "-method", "elegant,nokl", "-iters", "100") }
	if b, err := exec.Command(bin, args(ref)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, args(out)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		b, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
		if bytes.Contains(b, []byte(`"method":"nokl","phase":"drift"`)) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the run never reached NO KL's drift:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err == nil {
		t.Fatal("the run finished before it was killed")
	}
	if _, err := os.Stat(filepath.Join(out, ".lock")); err != nil {
		t.Fatalf("a killed run left no lock: %v", err)
	}
	metricsBefore := mustRead(t, filepath.Join(out, "metrics.jsonl"))
	// A line the kill cut short is dropped by the resume.
	metricsBefore = metricsBefore[:bytes.LastIndexByte(metricsBefore, '\n')+1]

	again, err := exec.Command(bin, args(out)...).CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, again)
	}
	for _, want := range []string{"stale lock", "resuming the run", "reusing the finished run elegant", "fine-tuning: nokl"} {
		if !bytes.Contains(again, []byte(want)) {
			t.Errorf("the resume does not say %q:\n%s", want, again)
		}
	}
	if bytes.Contains(again, []byte("fine-tuning: elegant")) {
		t.Errorf("the resume fitted ELEGANT again:\n%s", again)
	}
	got, want := runtest.WithoutTiming(t, mustRead(t, filepath.Join(out, "summary.json"))), runtest.WithoutTiming(t, mustRead(t, filepath.Join(ref, "summary.json")))
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("the resumed summary.json differs from the uninterrupted one:\n%s\n---\n%s", g, w)
	}
	for _, f := range []string{"samples_elegant.npy", "samples_nokl.npy", "checkpoints/elegant_control.safetensors"} {
		if !bytes.Equal(mustRead(t, filepath.Join(out, f)), mustRead(t, filepath.Join(ref, f))) {
			t.Errorf("%s differs from the uninterrupted run's", f)
		}
	}
	if m := mustRead(t, filepath.Join(out, "metrics.jsonl")); !bytes.HasPrefix(m, metricsBefore) || !bytes.Contains(m, []byte(`"phase":"resume"`)) {
		t.Error("metrics.jsonl was not appended to with a resume mark")
	}
	runtest.SameSteps(t, filepath.Join(out, "metrics.jsonl"), filepath.Join(ref, "metrics.jsonl"))
	var cfg struct {
		Resumed []struct{ Reused, Fitted []string }
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(out, "config.json")), &cfg); err != nil || len(cfg.Resumed) != 1 ||
		!slices.Equal(cfg.Resumed[0].Reused, []string{"elegant"}) || !slices.Equal(cfg.Resumed[0].Fitted, []string{"nokl"}) {
		t.Errorf("config.json's resumed: %+v %v", cfg.Resumed, err)
	}
}
