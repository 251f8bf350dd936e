package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/difftune/difftune/cmd/internal/runtest"
)

func TestMain(m *testing.M) { runtest.Main(m, "elegant-train", main) }

var resumedAt = regexp.MustCompile(`resuming the fit of (\S+) from its checkpoint (at drift iteration (\d+)|after (\w+))`)

// firstDriftAfterResume is the first drift iteration of run that
// metrics.jsonl logged after its last resume mark (-1: none): the first one
// that the stopped run had not logged.
func firstDriftAfterResume(t *testing.T, dir, run string) int {
	t.Helper()
	lines := strings.Split(string(mustRead(t, filepath.Join(dir, "metrics.jsonl"))), "\n")
	last := -1
	for i, l := range lines {
		if strings.Contains(l, `"phase":"resume"`) {
			last = i
		}
	}
	for _, l := range lines[last+1:] {
		var e struct{ Method, Phase string }
		var it struct{ Iter int }
		if json.Unmarshal([]byte(l), &e) == nil && e.Method == run && e.Phase == "drift" {
			json.Unmarshal([]byte(l), &it)
			return it.Iter
		}
	}
	return -1
}

// TestKillMidFitResumes kills a gmm2d -quick run (small networks) five
// times while it fine-tunes — at ELEGANT's phase boundary after its value
// fit, at drift iterations of ELEGANT and Random drawn from a fixed seed
// by the crash hook, by a real SIGKILL from outside during NO KL, and by
// SIGINT, which must release the lock and say so with status 130 — and
// resumes each time with the same command. Every resume continues the fit
// from its last checkpoint (not from iteration 0), and the final
// summary.json, samples and metrics.jsonl are those of an uninterrupted
// run, but for the timing fields (and the resume marks of metrics.jsonl):
// the iterations between a checkpoint and a kill are logged once.
func TestKillMidFitResumes(t *testing.T) {
	if runtest.SIMDBuild {
		t.Skip("kill tests run in the plain build")
	}
	if testing.Short() {
		t.Skip("six runs of a subprocess")
	}
	dir := t.TempDir()
	cache, ref, out := filepath.Join(dir, "cache"), filepath.Join(dir, "ref"), filepath.Join(dir, "out")
	const iters, every = 30, 5
	args := func(out string) []string {
		return tiny(out, cache, "-method", "elegant,nokl,random", "-iters", strconv.Itoa(iters), "-checkpoint-every", strconv.Itoa(every))
	}
	start := time.Now()
	if log, code := runtest.RunTo(t, "", args(ref)...); code != 0 {
		t.Fatalf("uninterrupted run: status %d\n%s", code, log)
	}
	t.Logf("uninterrupted run: %v", time.Since(start))

	rng := rand.New(rand.NewPCG(19, 0))
	kElegant, kRandom := 1+rng.IntN(iters-1), 1+rng.IntN(iters-1)
	type resumed struct{ run, at string }
	// check runs the same command after a stop and checks where the fit of
	// want.run resumed; the run is killed again at crashAt if set.
	check := func(crashAt string, want resumed) string {
		t.Helper()
		var log string
		if crashAt != "" {
			log = runtest.Killed(t, crashAt, args(out)...)
		} else if l, code := runtest.RunTo(t, "", args(out)...); code != 0 {
			t.Fatalf("resume: status %d\n%s", code, l)
		} else {
			log = l
		}
		if want.run == "" {
			return log
		}
		m := resumedAt.FindStringSubmatch(log)
		switch {
		case m == nil || m[1] != want.run:
			t.Fatalf("the fit of %s did not resume from its checkpoint (%q):\n%s", want.run, m, log)
		case m[3] != "" && m[3] != want.at, m[4] != "" && m[4] != want.at:
			t.Errorf("the fit of %s resumed %s, want at %s", want.run, m[2], want.at)
		}
		return log
	}

	// 1. At the boundary after ELEGANT's value fit.
	runtest.Killed(t, "checkpoint:elegant:after-value:0", args(out)...)
	if _, err := os.Stat(filepath.Join(out, ".lock")); err != nil {
		t.Fatalf("a killed run left no lock file: %v", err)
	}
	// 2. Resumes after the value fit; killed in ELEGANT's drift.
	check(fmt.Sprintf("drift:elegant:%d", kElegant), resumed{"elegant", "value"})
	// 3. Resumes ELEGANT's drift at its last checkpoint; killed from outside
	// once NO KL's drift has passed its first checkpoint.
	cmd := runtest.Command("", args(out)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !bytes.Contains(mustReadOr(filepath.Join(out, "metrics.jsonl")), []byte(`"method":"nokl","phase":"drift","iter":`+strconv.Itoa(every+1)+`,`)) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the run never reached NO KL's drift:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if m := resumedAt.FindStringSubmatch(log.String()); m == nil || m[1] != "elegant" || m[3] != strconv.Itoa(kElegant/every*every) {
		t.Errorf("ELEGANT killed at drift iteration %d did not resume at %d (%q):\n%s", kElegant, kElegant/every*every, m, log.String())
	} else if first := firstDriftAfterResume(t, out, "elegant"); first != kElegant+1 {
		// The iterations from the checkpoint to the kill, logged again, are
		// not repeated in metrics.jsonl.
		t.Errorf("after the resume ELEGANT's first drift iteration logged is %d, not %d (the one after the kill)", first, kElegant+1)
	}
	// 4. Resumes NO KL (wherever the kill caught it: a checkpoint, or done
	// and saved); killed in Random's drift.
	l4 := runtest.Killed(t, fmt.Sprintf("drift:random:%d", kRandom), args(out)...)
	if !strings.Contains(l4, "resuming the fit of nokl from its checkpoint") && !strings.Contains(l4, "reusing the finished run nokl") {
		t.Errorf("NO KL, killed in its drift, was neither resumed nor reused:\n%s", l4)
	}
	// 5. Resumes Random; interrupted by SIGINT at its next checkpoint's
	// iteration: status 130, one line, the lock released.
	next := (kRandom/every + 1) * every
	cmd = runtest.Command("", args(out)...)
	log.Reset()
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !bytes.Contains(mustReadOr(filepath.Join(out, "metrics.jsonl")), []byte(`"method":"random","phase":"drift","iter":`+strconv.Itoa(min(next, iters-1))+`,`)) {
		if time.Now().After(deadline.Add(time.Minute)) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the run never reached Random's drift iteration %d:\n%s", next, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("SIGINT: %v, want exit status 130\n%s", err, log.String())
	}
	if !regexp.MustCompile(`(?m)^elegant-train: interrupted \(interrupt\): stopped; the same command resumes the run in \S+$`).Match(log.Bytes()) {
		t.Errorf("SIGINT: no one-line message:\n%s", log.String())
	}
	if m := resumedAt.FindStringSubmatch(log.String()); m == nil || m[1] != "random" || m[3] != strconv.Itoa(kRandom/every*every) {
		t.Errorf("Random killed at drift iteration %d did not resume at %d (%q)", kRandom, kRandom/every*every, m)
	}
	if _, err := os.Stat(filepath.Join(out, ".lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SIGINT left the lock: %v", err)
	}
	// 6. The last resume finishes, without a stale lock to take over.
	l6 := check("", resumed{})
	if strings.Contains(l6, "stale lock") {
		t.Errorf("the run after SIGINT found a stale lock:\n%s", l6)
	}
	if !strings.Contains(l6, "reusing the finished run elegant") || !strings.Contains(l6, "reusing the finished run nokl") {
		t.Errorf("the last resume did not reuse the finished runs:\n%s", l6)
	}
	runtest.SameSummary(t, filepath.Join(out, "summary.json"), filepath.Join(ref, "summary.json"))
	runtest.SameSteps(t, filepath.Join(out, "metrics.jsonl"), filepath.Join(ref, "metrics.jsonl"))
	for _, f := range []string{"samples_elegant.npy", "samples_nokl.npy", "samples_random.npy", "checkpoints/elegant_control.safetensors",
		"checkpoints/elegant_initial_law.safetensors", "checkpoints/random_control.safetensors"} {
		if !bytes.Equal(mustRead(t, filepath.Join(out, f)), mustRead(t, filepath.Join(ref, f))) {
			t.Errorf("%s differs from the uninterrupted run's", f)
		}
	}
	if partial, _ := filepath.Glob(filepath.Join(out, "checkpoints", "partial_*")); len(partial) > 0 {
		t.Errorf("partial checkpoints left after the run: %v", partial)
	}
	t.Logf("ELEGANT killed at drift iteration %d, Random at %d; whole test %v", kElegant, kRandom, time.Since(start))
}

// TestKillWhileWritingSeeds kills a tfbind8 -seeds 1,2 -quick run (NO KL,
// few iterations) while it writes the second seed's files: between its
// samples' .npy and FASTA files, then, resumed, between its results.md and
// its summary.json. The same command then completes the run, reusing the
// finished seed and the finished run of the other, to the numbers and files
// of an uninterrupted run.
func TestKillWhileWritingSeeds(t *testing.T) {
	if runtest.SIMDBuild {
		t.Skip("kill tests run in the plain build")
	}
	if testing.Short() {
		t.Skip("four tfbind8 runs")
	}
	dir := t.TempDir()
	cache, ref, out := filepath.Join(dir, "cache"), filepath.Join(dir, "ref"), filepath.Join(dir, "out")
	args := func(out string) []string {
		return []string{"-task", "tfbind8", "-quick", "-method", "nokl", "-iters", "5", "-batch", "64", "-eval-samples", "200",
			"-seeds", "1,2", "-out", out, "-cache", cache}
	}
	start := time.Now()
	if log, code := runtest.RunTo(t, "", args(ref)...); code != 0 {
		t.Fatalf("uninterrupted run: status %d\n%s", code, log)
	}
	t.Logf("uninterrupted run: %v", time.Since(start))
	runtest.Killed(t, "write:seed2/samples_nokl.fasta", args(out)...)
	for f, want := range map[string]bool{"seed1/summary.json": true, "seed2/samples_nokl.npy": true, "seed2/samples_nokl.fasta": false, "seed2/summary.json": false} {
		if _, err := os.Stat(filepath.Join(out, f)); (err == nil) != want {
			t.Fatalf("after the first kill %s exists: %v, want %v", f, err == nil, want)
		}
	}
	l2 := runtest.Killed(t, "write:seed2/summary.json", args(out)...)
	if !strings.Contains(l2, "reusing the finished run in") || !strings.Contains(l2, "reusing the finished run nokl") {
		t.Errorf("the first resume did not reuse seed 1 and seed 2's run:\n%s", l2)
	}
	if _, err := os.Stat(filepath.Join(out, "seed2", "results.md")); err != nil {
		t.Fatalf("seed 2 was killed before its results.md: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "seed2", "summary.json")); err == nil {
		t.Fatal("seed 2 wrote its summary.json before the kill")
	}
	log, code := runtest.RunTo(t, "", args(out)...)
	if code != 0 {
		t.Fatalf("resume: status %d\n%s", code, log)
	}
	if strings.Contains(log, "fine-tuning: nokl") || !strings.Contains(log, "reusing the finished run nokl") {
		t.Errorf("the resume fine-tuned again:\n%s", log)
	}
	for _, f := range []string{"summary.json", "seed1/summary.json", "seed2/summary.json"} {
		runtest.SameSummary(t, filepath.Join(out, f), filepath.Join(ref, f))
	}
	for _, seed := range []string{"seed1", "seed2"} {
		runtest.SameSteps(t, filepath.Join(out, seed, "metrics.jsonl"), filepath.Join(ref, seed, "metrics.jsonl"))
	}
	// results.md holds the seconds of each fit: it is not compared.
	for _, f := range []string{"seed2/samples_nokl.fasta", "seed2/samples_nokl.npy", "seed1/samples_nokl.fasta"} {
		if !bytes.Equal(mustRead(t, filepath.Join(out, f)), mustRead(t, filepath.Join(ref, f))) {
			t.Errorf("%s differs from the uninterrupted run's", f)
		}
	}
	t.Logf("whole test %v", time.Since(start))
}

func mustReadOr(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}
