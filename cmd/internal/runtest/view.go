//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64) && !noview

package runtest

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/difftune/difftune/cmd/internal/viewer"
	"github.com/difftune/difftune/cmd/internal/viewer/xvfb"
	"github.com/difftune/difftune/cmd/internal/watch"
)

// RunViewed runs a binary's run function with args (which ask for -view)
// under a fresh Xvfb and returns the live viewer it opened and its
// stderr. It fails the test when the run fails, opens no window, draws no
// frame, or reports anything about -view.
func RunViewed(t testing.TB, run func(args []string, stdout, stderr io.Writer) error, args []string) (*viewer.Live, string) {
	t.Helper()
	srv := xvfb.Start(t, 800, 600)
	t.Setenv("DISPLAY", srv.Display)
	var live *viewer.Live
	watch.Started = func(l *viewer.Live) { live = l }
	defer func() { watch.Started = nil }()
	var stderr bytes.Buffer
	if err := run(args, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if live == nil || live.Shown() == 0 || strings.Contains(stderr.String(), "-view") {
		t.Fatalf("-view showed no frame under Xvfb: %s", stderr.String())
	}
	return live, stderr.String()
}
