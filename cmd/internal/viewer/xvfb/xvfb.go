// Package xvfb starts a virtual X server for the viewer's window tests and
// reads back what it shows: Xvfb's -fbdir keeps the screen in a file in
// XWD format, so a test sees the pixels the window system composed, not a
// copy the program kept.
package xvfb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running Xvfb.
type Server struct {
	// Display is its DISPLAY value, e.g. ":12".
	Display string
	fb      string
}

// Start runs Xvfb with one w × h 24-bit screen for the rest of the test
// and returns it. Without Xvfb installed the test is skipped, except in CI
// (CI=true), where make deps installs it (Debian package xvfb).
func Start(t testing.TB, w, h int) *Server {
	t.Helper()
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Xvfb is missing in CI: %v (make deps installs the Debian package xvfb)", err)
		}
		t.Skipf("no Xvfb (Debian package xvfb): %v", err)
	}
	dir := t.TempDir()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// -displayfd: the server picks a free display and writes its number.
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-fbdir", dir, "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{wr}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Xvfb: %v", err)
	}
	wr.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
		r.Close()
	}()
	select {
	case n := <-got:
		if n == "" {
			t.Fatalf("Xvfb did not start: %s", stderr.String())
		}
		return &Server{Display: ":" + n, fb: filepath.Join(dir, "Xvfb_screen0")}
	case <-time.After(20 * time.Second):
		t.Fatalf("Xvfb did not report its display in 20 s: %s", stderr.String())
	}
	return nil
}

// Screen reads the screen as the server holds it now.
func (s *Server) Screen() (*image.RGBA, error) {
	b, err := os.ReadFile(s.fb)
	if err != nil {
		return nil, err
	}
	return DecodeXWD(b)
}

// DecodeXWD decodes an XWD image of 24 or 32 bits per pixel in a
// ZPixmap, with the channel masks it declares (what Xvfb writes).
func DecodeXWD(b []byte) (*image.RGBA, error) {
	if len(b) < 100 {
		return nil, errors.New("xwd: shorter than its header")
	}
	be := binary.BigEndian
	word := func(i int) uint32 { return be.Uint32(b[4*i:]) }
	headerSize, version, format := int(word(0)), word(1), word(2)
	w, h := int(word(4)), int(word(5))
	byteOrder, bpp, stride := word(7), int(word(11)), int(word(12))
	masks := [3]uint32{word(14), word(15), word(16)} // word 13 is the visual class
	ncolors := int(word(19))
	if version != 7 || format != 2 || (bpp != 32 && bpp != 24) {
		return nil, fmt.Errorf("xwd: version %d, format %d, %d bits per pixel: only version 7 ZPixmaps of 24 or 32 bits are read", version, format, bpp)
	}
	if headerSize < 100 || w <= 0 || h <= 0 || w > 1<<14 || h > 1<<14 || stride < w*bpp/8 {
		return nil, fmt.Errorf("xwd: bad header (size %d, %d × %d, %d bytes a line)", headerSize, w, h, stride)
	}
	off := headerSize + 12*ncolors
	if off < 0 || off+stride*h > len(b) {
		return nil, fmt.Errorf("xwd: %d bytes, %d needed", len(b), off+stride*h)
	}
	shift := func(m uint32) uint {
		var s uint
		for m != 0 && m&1 == 0 {
			m >>= 1
			s++
		}
		return s
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := b[off+y*stride:]
		for x := range w {
			var p uint32
			q := row[x*bpp/8:]
			if byteOrder == 0 { // LSBFirst
				p = uint32(q[0]) | uint32(q[1])<<8 | uint32(q[2])<<16
				if bpp == 32 {
					p |= uint32(q[3]) << 24
				}
			} else {
				p = uint32(q[0])<<16 | uint32(q[1])<<8 | uint32(q[2])
				if bpp == 32 {
					p = p<<8 | uint32(q[3])
				}
			}
			i := img.PixOffset(x, y)
			for c, m := range masks {
				img.Pix[i+c] = uint8((p & m) >> shift(m))
			}
			img.Pix[i+3] = 255
		}
	}
	return img, nil
}
