//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64) && !noview

package main

import (
	"path/filepath"
	"testing"

	"github.com/difftune/difftune/cmd/internal/runtest"
	"github.com/difftune/difftune/cmd/internal/viewer"
)

// TestWatch runs the -quick preset with -view under Xvfb and -frames: the
// window drew ELEGANT's fit at λ_final and the frames of its first
// iteration were written.
func TestWatch(t *testing.T) {
	out, frames := t.TempDir(), filepath.Join(t.TempDir(), "frames")
	args := []string{"-quick", "-pretrain-iters", "200", "-width", "32", "-sde-steps", "10", "--steps", "40", "-lambda-min", "0.005",
		"-lambda-max", "3", "--output_dir", out, "-cache", t.TempDir(), "-view", "-frames", frames, "-frames-every", "1000"}
	live, _ := runtest.RunViewed(t, run, args)
	if live.Rollouts() == 0 {
		t.Error("no rollout was offered for replay")
	}
	runtest.CheckFrame(t, filepath.Join(frames, "frame_elegant_00000.png"), viewer.FrameW, viewer.FrameH)
}
