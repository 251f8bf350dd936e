package runtest

import (
	"image/png"
	"os"
	"testing"
)

// CheckFrame checks that path is a whole PNG (decoded to its last row) of
// w × h pixels: a viewer frame written by -frames.
func CheckFrame(t testing.TB, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("%s: a frame of %v, want %d×%d", path, b, w, h)
	}
}
