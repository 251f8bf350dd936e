package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/difftune/difftune/algos/report"
	"github.com/difftune/difftune/cmd/internal/runtest"
)

// TestMain lets the test binary stand in for seiko-train: with
// SEIKO_TRAIN_MAIN=1 it runs main on its arguments, so that a test can
// start the command as a process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("SEIKO_TRAIN_MAIN") == "1" {
		os.Args = append([]string{"seiko-train"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKillResumesFromQueryLog kills seiko-train (SIGKILL) twice, once in
// each variant's rounds, starts the same command again and checks that the
// resumed run spent no query twice (its query logs equal an uninterrupted
// run's, line for line, their indices counted from each run's start) and
// ends with the same numbers.
func TestKillResumesFromQueryLog(t *testing.T) {
	if simdBuild {
		t.Skip("kill tests run in the plain build")
	}
	cache := t.TempDir()
	args := func(out string) []string {
		return []string{"-quick", "-oracle", "", "-variant", "greedy,ucb", "-pretrain-iters", "300", "-width", "64", "-steps", "15",
			"-batch-schedule", "64,128,256", "-iters", "12", "-eval-samples", "400", "-out", out, "-cache", cache}
	}
	ref := t.TempDir()
	if err := run(args(ref), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	start := func(env ...string) (*exec.Cmd, chan error, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], args(out)...)
		cmd.Env = append(append(os.Environ(), "SEIKO_TRAIN_MAIN=1"), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, done, &stderr
	}
	// A SIGKILL from outside once greedy's log holds 100 of its 448 queries.
	cmd, done, stderr := start()
	path := filepath.Join(out, "queries_seiko-greedy.jsonl")
	for killed := false; !killed; {
		select {
		case err := <-done:
			t.Fatalf("the run ended (%v) before greedy's log held 100 queries:\n%s", err, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Count(b, []byte("\n")) >= 100 {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-done
			killed = true
		}
	}
	// The resumed run finishes greedy and is killed (the crash hook) in UCB's
	// first round, after its 64 queries: the next run reuses greedy without
	// asking its queries again, and replays UCB's from the log.
	_, done, stderr = start(report.EnvCrashAt + "=drift:seiko-ucb:5")
	var ee *exec.ExitError
	if err := <-done; !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the run was not killed in UCB's first round: %v\n%s", err, stderr.String())
	}
	if b := mustRead(t, filepath.Join(out, "queries_seiko-ucb.jsonl")); bytes.Count(b, []byte("\n")) != 64 {
		t.Fatalf("UCB's log holds %d queries at the kill, want its first round's 64", bytes.Count(b, []byte("\n")))
	}
	var stdout bytes.Buffer
	stderr = &bytes.Buffer{}
	if err := run(args(out), &stdout, stderr); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr.String())
	}
	for _, log := range []string{"queries_seiko-greedy.jsonl", "queries_seiko-ucb.jsonl"} {
		want, got := mustRead(t, filepath.Join(ref, log)), mustRead(t, filepath.Join(out, log))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the resumed run's log (%d lines) differs from the uninterrupted one's (%d lines)", log, bytes.Count(got, []byte("\n")), bytes.Count(want, []byte("\n")))
		}
	}
	// metrics.jsonl logs each step once, as the uninterrupted run does.
	runtest.SameSteps(t, filepath.Join(out, "metrics.jsonl"), filepath.Join(ref, "metrics.jsonl"))
	a, err := report.ReadSummary(ref)
	if err != nil {
		t.Fatal(err)
	}
	b, err := report.ReadSummary(out)
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range a.Variants {
		got := b.Variants[v]
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if !bytes.Equal(wj, gj) {
			t.Errorf("variant %s: resumed %s, uninterrupted %s", v, gj, wj)
		}
	}
	t.Logf("resume: %s", firstLines(stderr.String(), 6))
}

func firstLines(s string, n int) string {
	lines := bytes.SplitN([]byte(s), []byte("\n"), n+1)
	return string(bytes.Join(lines[:min(n, len(lines))], []byte(" | ")))
}
