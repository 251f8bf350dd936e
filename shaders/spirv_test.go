package shaders

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSPIRVUpToDate recompiles the kernels with build.sh (what `make
// shaders` runs) and fails if the committed SPIR-V in spv/ differs, or if
// spv/ holds files build.list does not name. Without glslc it skips, except
// in CI (CI=true), where it fails.
func TestSPIRVUpToDate(t *testing.T) {
	if _, err := exec.LookPath("glslc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("glslc not found in CI (make deps installs it)")
		}
		t.Skip("glslc not found (Debian package glslc)")
	}
	dir := t.TempDir()
	out, err := exec.Command("sh", "build.sh", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	version, _ := exec.Command("glslc", "--version").Output()
	fresh, _ := filepath.Glob(filepath.Join(dir, "*.spv"))
	committed, _ := filepath.Glob("spv/*.spv")
	names := func(paths []string) []string {
		var n []string
		for _, p := range paths {
			n = append(n, filepath.Base(p))
		}
		slices.Sort(n)
		return n
	}
	if a, b := names(fresh), names(committed); !slices.Equal(a, b) {
		t.Fatalf("spv/ holds %v, build.list makes %v: run make shaders", b, a)
	}
	for _, p := range fresh {
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join("spv", filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("spv/%s differs from what %s makes of its source: run make shaders and commit spv/",
				filepath.Base(p), strings.TrimSpace(strings.SplitN(string(version), "\n", 2)[0]))
		}
	}
}
