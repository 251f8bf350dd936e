package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/difftune/difftune/cmd/internal/runtest"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

// TestFramesWritesPNGsAndChangesNothing runs a small gmm2d job with -frames
// and without: the frames are the PNGs of the iterations asked for, one
// set per run, and the summary and metrics.jsonl are identical (but for
// wall times) to those of the run without them.
func TestFramesWritesPNGsAndChangesNothing(t *testing.T) {
	cache := t.TempDir()
	args := []string{"-quick", "-pretrain-iters", "300", "-width", "64", "-steps", "20", "-iters", "9", "-lr", "0.01",
		"-eval-samples", "400", "-method", "elegant,nokl", "-cache", cache}
	plain, watched, frames := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "frames")
	var stderr bytes.Buffer
	if err := run(append(args, "-out", plain), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if err := run(append(args, "-out", watched, "-frames", frames, "-frames-every", "4"), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run -frames: %v\n%s", err, stderr.String())
	}
	runtest.SameSummary(t, filepath.Join(watched, "summary.json"), filepath.Join(plain, "summary.json"))
	runtest.SameSteps(t, filepath.Join(watched, "metrics.jsonl"), filepath.Join(plain, "metrics.jsonl"))

	entries, err := os.ReadDir(frames)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"frame_elegant_00000.png", "frame_elegant_00004.png", "frame_elegant_00008.png",
		"frame_nokl_00000.png", "frame_nokl_00004.png", "frame_nokl_00008.png"}
	if !slices.Equal(names, want) {
		t.Fatalf("-frames wrote %v, want %v", names, want)
	}
	checkFrame(t, filepath.Join(frames, want[1]))
}

// checkFrame checks that path is a PNG frame of the viewer's size.
func checkFrame(t *testing.T, path string) {
	t.Helper()
	runtest.CheckFrame(t, path, viewer.FrameW, viewer.FrameH)
}

// TestFramesFlagErrors: -frames into a file, or every 0 iterations, is a
// usage error found before -out is created.
func TestFramesFlagErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "never")
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"-frames", dir, "-frames-every", "0"}, "-frames-every"},
		{[]string{"-frames", file}, "is a file"},
	} {
		err := run(append(c.args, "-out", out, "-cache", ""), &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%v: %v, want a usage error saying %q", c.args, err, c.says)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused -frames created -out")
	}
}
