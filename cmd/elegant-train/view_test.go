//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64) && !noview

package main

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/difftune/difftune/cmd/internal/runtest"
	"github.com/difftune/difftune/cmd/internal/viewer"
	"github.com/difftune/difftune/cmd/internal/viewer/xvfb"
)

// viewArgs is a small gmm2d job.
func viewArgs(cache string) []string {
	return []string{"-quick", "-pretrain-iters", "300", "-width", "64", "-steps", "20", "-iters", "12", "-lr", "0.01",
		"-eval-samples", "400", "-method", "elegant,nokl", "-cache", cache}
}

// TestViewShowsFramesAndChangesNothing runs a small gmm2d job with -view
// under Xvfb and without: the window drew frames and was offered the
// rollouts behind them (their states copied for a replay), and the summary
// and metrics.jsonl are identical (but for wall times) to the plain run's.
func TestViewShowsFramesAndChangesNothing(t *testing.T) {
	cache := t.TempDir()
	plain, watched := t.TempDir(), t.TempDir()
	var stderr bytes.Buffer
	if err := run(append(viewArgs(cache), "-out", plain), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	live, _ := runtest.RunViewed(t, run, append(viewArgs(cache), "-out", watched, "-view"))
	if live.Rollouts() == 0 {
		t.Error("no rollout was offered for replay")
	}
	t.Logf("the window drew %d frames and was offered %d rollouts", live.Shown(), live.Rollouts())
	runtest.SameSummary(t, filepath.Join(watched, "summary.json"), filepath.Join(plain, "summary.json"))
	runtest.SameSteps(t, filepath.Join(watched, "metrics.jsonl"), filepath.Join(plain, "metrics.jsonl"))
}

// TestViewWithoutDisplay: -view without a display says so in one line and
// the run goes on; -view-stop alone is a usage error.
func TestViewWithoutDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	out := t.TempDir()
	var stderr bytes.Buffer
	if err := run(append(viewArgs(t.TempDir()), "-out", out, "-view"), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run -view: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var said []string
	for _, l := range lines {
		if strings.Contains(l, "-view") {
			said = append(said, l)
		}
	}
	if len(said) != 1 || !strings.Contains(said[0], "no display") || !strings.Contains(said[0], "goes on") {
		t.Errorf("-view without a display said %q, want one line about the display", said)
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err != nil {
		t.Errorf("the run without a window wrote no summary: %v", err)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"-view-stop"}, "-view-stop needs -view"},
	} {
		err := run(append(c.args, "-out", filepath.Join(t.TempDir(), "never"), "-cache", ""), &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%v: %v, want a usage error saying %q", c.args, err, c.says)
		}
	}
}

// TestViewKeysThroughX drives the window of a running elegant-train (a
// subprocess, its main thread serving glfw) with real X key events
// (xdotool, under Xvfb): s saves the frame shown into -out, and q with
// -view-stop stops the run as Ctrl-C does (status 130, the resume line).
func TestViewKeysThroughX(t *testing.T) {
	if runtest.SIMDBuild {
		t.Skip("the plain build runs it: it tests the window, not the kernels")
	}
	xdotool, err := exec.LookPath("xdotool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("xdotool is missing in CI: %v (make deps installs it)", err)
		}
		t.Skipf("no xdotool: %v", err)
	}
	srv := xvfb.Start(t, 800, 600)
	out := filepath.Join(t.TempDir(), "out")
	cmd := runtest.Command("", append(viewArgs(t.TempDir()), "-iters", "100000", "-out", out, "-view", "-view-stop")...)
	cmd.Env = append(cmd.Env, "DISPLAY="+srv.Display, "WAYLAND_DISPLAY=")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	// key presses k in the window. The window q closes may be gone before
	// xdotool sends the key's release (BadWindow): its exit status is then
	// not the test's, the run's is.
	key := func(k string, closes bool) {
		t.Helper()
		c := exec.Command(xdotool, "search", "--sync", "--name", "difftune elegant-train", "windowfocus", "--sync", "key", k)
		c.Env = append(os.Environ(), "DISPLAY="+srv.Display)
		if b, err := c.CombinedOutput(); err != nil && !(closes && bytes.Contains(b, []byte("BadWindow"))) {
			t.Fatalf("xdotool key %s: %v: %s\n%s", k, err, b, log.String())
		}
	}
	// The window shows a frame once fine-tuning has begun.
	for deadline := time.Now().Add(3 * time.Minute); !bytes.Contains(mustReadOr(filepath.Join(out, "metrics.jsonl")), []byte(`"phase":"drift","iter":2,`)); {
		if time.Now().After(deadline) {
			t.Fatalf("the run never began fine-tuning:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
	key("s", false)
	saved := filepath.Join(out, "view_0000.png")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if f, err := os.Open(saved); err == nil {
			cfg, err := png.DecodeConfig(f)
			f.Close()
			if err == nil && cfg.Width == viewer.FrameW && cfg.Height == viewer.FrameH {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("s saved no frame as %s:\n%s", saved, log.String())
		}
	}
	key("q", true)
	select {
	case err := <-exited:
		exited <- err
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(log.String(), "interrupted") {
			t.Errorf("q with -view-stop: %v, want the run stopped as by Ctrl-C (status 130):\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("q with -view-stop did not stop the run:\n%s", log.String())
	}
}
