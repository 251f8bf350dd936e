// Package runtest holds what the binaries' tests share to stop a run and
// compare the run directory it resumed with an uninterrupted one's: the
// test binary standing in for the command as a subprocess, the crash hook,
// summaries and metrics.jsonl but for their wall times.
package runtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/difftune/difftune/algos/report"
)

// envRunMain makes the test binary run the command instead of the tests.
const envRunMain = "DIFFTUNE_TEST_RUN_MAIN"

// EnvBinDir names the environment variable of a directory of built
// commands: Command runs the command found there instead of the test
// binary (to run the tests against another build, e.g. an older one).
const EnvBinDir = "DIFFTUNE_BIN_DIR"

// name is the command's name, set by Main.
var name string

// Main is the TestMain of a command's tests: the test binary runs main as
// the command name when Command started it, the tests otherwise.
func Main(m *testing.M, command string, main func()) {
	name = command
	if os.Getenv(envRunMain) == "1" {
		os.Args[0] = name
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Command is the command with args as a subprocess (the test binary, whose
// TestMain is Main, or the command in $DIFFTUNE_BIN_DIR), killing itself at
// crashAt (report.EnvCrashAt) if set.
func Command(crashAt string, args ...string) *exec.Cmd {
	path := os.Args[0]
	if dir := os.Getenv(EnvBinDir); dir != "" {
		path = filepath.Join(dir, name)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), envRunMain+"=1", report.EnvCrashAt+"="+crashAt)
	return cmd
}

// RunTo runs the command to its end and returns its output and exit status.
func RunTo(t testing.TB, crashAt string, args ...string) (string, int) {
	t.Helper()
	out, err := Command(crashAt, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("%v\n%s", err, out)
	return "", 0
}

// Killed runs the command, which must die of SIGKILL at crashAt, and
// returns its output.
func Killed(t testing.TB, crashAt string, args ...string) string {
	t.Helper()
	out, err := Command(crashAt, args...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the run was not killed at %s: %v\n%s", crashAt, err, out)
	}
	return string(out)
}

// WithoutTiming decodes a summary.json and drops its timing fields
// (seconds, elapsed, elapsed_s) at every depth.
func WithoutTiming(t testing.TB, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range []string{"seconds", "elapsed", "elapsed_s"} {
				delete(v, k)
			}
			for _, x := range v {
				strip(x)
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	return v
}

// SameSummary fails t unless the summary.json at got is the one at want
// but for their timing fields.
func SameSummary(t testing.TB, got, want string) {
	t.Helper()
	g, w := WithoutTiming(t, mustRead(t, got)), WithoutTiming(t, mustRead(t, want))
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.MarshalIndent(g, "", " ")
		wb, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("%s differs from the uninterrupted %s:\n%s\n---\n%s", got, want, gb, wb)
	}
}

// Snapshot reads every file under dir, by its path below dir ("/name").
func Snapshot(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files[strings.TrimPrefix(path, dir)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// SameFiles reports whether two snapshots hold the same files and bytes.
func SameFiles(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) }

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Steps are the lines of a metrics.jsonl but for their wall time
// (elapsed_s), without the resume marks (method "runner") and the fits of
// the cached models, pre-training and r̂ (methods "pretrain" and "reward":
// a run that found them cached logs neither).
func Steps(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var steps []string
	for l := range strings.Lines(string(raw)) {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			return nil, fmt.Errorf("%s: %v in %q", path, err, l)
		}
		switch e["method"] {
		case "runner", "pretrain", "reward":
			continue
		}
		delete(e, "elapsed_s")
		line, _ := json.Marshal(e)
		steps = append(steps, string(line))
	}
	return steps, nil
}

// SameSteps fails t unless the metrics.jsonl at got holds the steps of the
// one at want, in the same order, each once.
func SameSteps(t testing.TB, got, want string) {
	t.Helper()
	g, err := Steps(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Steps(want)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g, w) {
		t.Errorf("%s: its %d steps differ from the uninterrupted run's %d:\n%s\n---\n%s",
			got, len(g), len(w), strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}
