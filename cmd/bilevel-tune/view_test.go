//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64) && !noview

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difftune/difftune/cmd/internal/runtest"
	"github.com/difftune/difftune/cmd/internal/viewer"
	"github.com/difftune/difftune/cmd/internal/viewer/xvfb"
	"github.com/difftune/difftune/cmd/internal/watch"
)

// TestWatch runs the -quick preset with -view under Xvfb and -frames: the
// window drew ELEGANT's fit at λ_final and the frames of its first
// iteration were written.
func TestWatch(t *testing.T) {
	srv := xvfb.Start(t, 800, 600)
	t.Setenv("DISPLAY", srv.Display)
	out, frames := t.TempDir(), filepath.Join(t.TempDir(), "frames")
	var live *viewer.Live
	watch.Started = func(l *viewer.Live) { live = l }
	defer func() { watch.Started = nil }()
	args := []string{"-quick", "-pretrain-iters", "200", "-width", "32", "-sde-steps", "10", "--steps", "40", "-lambda-min", "0.005",
		"-lambda-max", "3", "--output_dir", out, "-cache", t.TempDir(), "-view", "-frames", frames, "-frames-every", "1000"}
	var stderr bytes.Buffer
	if err := run(args, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if live == nil || live.Shown() == 0 || strings.Contains(stderr.String(), "-view") {
		t.Fatalf("-view showed no frame: %s", stderr.String())
	}
	if live.Rollouts() == 0 {
		t.Error("no rollout was offered for replay")
	}
	runtest.CheckFrame(t, filepath.Join(frames, "frame_elegant_00000.png"), viewer.FrameW, viewer.FrameH)
}
