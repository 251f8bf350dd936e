//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64) && !noview

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/difftune/difftune/cmd/internal/runtest"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

// TestWatchRounds runs a small greedy job with -view under Xvfb and
// -frames: the window drew frames, and the frames are named by round, each
// round's iterations starting over, and metrics.jsonl records the round of
// every fine-tuning step.
func TestWatchRounds(t *testing.T) {
	out, frames := t.TempDir(), filepath.Join(t.TempDir(), "frames")
	args := []string{"-quick", "-oracle", "", "-variant", "greedy", "-pretrain-iters", "300", "-width", "64", "-steps", "15",
		"-batch-schedule", "64,128", "-iters", "4", "-eval-samples", "200", "-out", out, "-cache", t.TempDir(),
		"-view", "-frames", frames, "-frames-every", "2"}
	runtest.RunViewed(t, run, args)
	entries, err := os.ReadDir(frames)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"frame_seiko-greedy_r1_00000.png", "frame_seiko-greedy_r1_00002.png", "frame_seiko-greedy_r2_00000.png", "frame_seiko-greedy_r2_00002.png"}
	if !slices.Equal(names, want) {
		t.Errorf("-frames wrote %v, want %v", names, want)
	}
	runtest.CheckFrame(t, filepath.Join(frames, want[3]), viewer.FrameW, viewer.FrameH)
	log, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{`"round":1,"iter":3,`, `"round":2,"iter":3,`} {
		if !bytes.Contains(log, []byte(r)) {
			t.Errorf("metrics.jsonl has no step %s", r)
		}
	}
}
