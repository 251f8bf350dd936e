package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/difftune/difftune/cmd/internal/runtest"
)

func TestMain(m *testing.M) { runtest.Main(m, "bilevel-tune", main) }

// TestKillResumes kills a tiny gmm2d run in ELEGANT's drift (the crash
// hook), interrupts the resumed run by SIGINT (status 130, one line, the
// lock released) and runs the same command again: it resumes ELEGANT's fit
// from its last checkpoint and ends with the summary, λ, samples and
// metrics.jsonl of an uninterrupted run, but for the timing fields. On the
// finished folder a bad flag and another configuration are refused with
// status 2, leaving it as it was.
func TestKillResumes(t *testing.T) {
	if runtest.SIMDBuild {
		t.Skip("kill tests run in the plain build")
	}
	dir := t.TempDir()
	cache, ref, out := filepath.Join(dir, "cache"), filepath.Join(dir, "ref"), filepath.Join(dir, "out")
	args := func(out string, extra ...string) []string {
		return append([]string{"-quick", "-pretrain-iters", "60", "-width", "16", "-sde-steps", "6", "--steps", "20", "-eval-samples", "100",
			"-elegant-iters", "120", "-checkpoint-every", "10", "-cache", cache, "--output_dir", out}, extra...)
	}
	if log, code := runtest.RunTo(t, "", args(ref)...); code != 0 {
		t.Fatalf("uninterrupted run: status %d\n%s", code, log)
	}
	runtest.Killed(t, "drift:elegant:23", args(out)...)
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err == nil {
		t.Fatal("a killed run wrote summary.json")
	}
	// Resumed at drift iteration 20; SIGINT once it logged iteration 40.
	cmd := runtest.Command("", args(out)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !bytes.Contains(mustReadOr(filepath.Join(out, "logs", "metrics.jsonl")), []byte(`"method":"elegant","phase":"drift","iter":40,`)) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the resumed run never reached drift iteration 40:\n%s", log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("SIGINT: %v, want exit status 130\n%s", err, log.String())
	}
	for _, want := range []string{"taking over the stale lock", "resuming the fit of elegant from its checkpoint at drift iteration 20"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the resume does not say %q:\n%s", want, log.String())
		}
	}
	if !regexp.MustCompile(`(?m)^bilevel-tune: interrupted \(interrupt\): stopped; the same command resumes the run in \S+$`).Match(log.Bytes()) {
		t.Errorf("SIGINT: no one-line message:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(out, ".lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SIGINT left the lock: %v", err)
	}
	l3, code := runtest.RunTo(t, "", args(out)...)
	if code != 0 {
		t.Fatalf("resume: status %d\n%s", code, l3)
	}
	if strings.Contains(l3, "stale lock") || !regexp.MustCompile(`resuming the fit of elegant from its checkpoint at drift iteration (4|5|6|7|8|9|10|11)0`).MatchString(l3) {
		t.Errorf("the last resume did not resume ELEGANT after the SIGINT's checkpoint, or found a stale lock:\n%s", l3)
	}
	runtest.SameSummary(t, filepath.Join(out, "summary.json"), filepath.Join(ref, "summary.json"))
	runtest.SameSteps(t, filepath.Join(out, "logs", "metrics.jsonl"), filepath.Join(ref, "logs", "metrics.jsonl"))
	for _, f := range []string{"lambda_final.txt", "logs/lambda.jsonl", "samples/pretrained.npy", "samples/guided.npy", "samples/elegant.npy"} {
		if !bytes.Equal(mustRead(t, filepath.Join(out, f)), mustRead(t, filepath.Join(ref, f))) {
			t.Errorf("%s differs from the uninterrupted run's", f)
		}
	}
	if partial, _ := filepath.Glob(filepath.Join(out, "logs", "checkpoints", "partial_*")); len(partial) > 0 {
		t.Errorf("partial checkpoints left after the run: %v", partial)
	}

	// A bad flag, another configuration: status 2, the folder untouched.
	before := runtest.Snapshot(t, out)
	for _, extra := range [][]string{{"--gamma", "NaN"}, {"--steps", "21"}} {
		l, code := runtest.RunTo(t, "", args(out, extra...)...)
		if code != 2 || strings.Count(strings.TrimSpace(l), "\n") != 0 {
			t.Errorf("%v on a finished run: status %d, want 2 and one line:\n%s", extra, code, l)
		}
	}
	if !runtest.SameFiles(before, runtest.Snapshot(t, out)) {
		t.Error("a refused run changed the output folder")
	}
}

func mustReadOr(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}
