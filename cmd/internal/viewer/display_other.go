//go:build !(cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)) || noview

package viewer

import (
	"errors"
	"image"
)

// Display is the live viewer's window; this build cannot open one (built
// with -tags noview, for machines without the X11 headers, or without cgo).
type Display struct{}

// OpenDisplay reports that this build has no window: it needs cgo on 64-bit
// Linux, as the Vulkan backend does.
func OpenDisplay(string, int, int, bool) (*Display, error) {
	return nil, errors.New("this build has no window: the viewer needs cgo on 64-bit Linux and a build without -tags noview")
}

// lowerPriority does nothing: this build opens no window.
func lowerPriority() {}

// Show is never called: OpenDisplay returns no window.
func (w *Display) Show(*DrawList) (*image.RGBA, bool, error) {
	panic("viewer: no window in this build")
}

// Poll is never called: OpenDisplay returns no window.
func (w *Display) Poll() ([]Key, bool) { panic("viewer: no window in this build") }

// Pos is never called: OpenDisplay returns no window.
func (w *Display) Pos() (int, int) { panic("viewer: no window in this build") }

// SetPos is never called: OpenDisplay returns no window.
func (w *Display) SetPos(int, int) { panic("viewer: no window in this build") }

// Messages is never called: OpenDisplay returns no window.
func (w *Display) Messages() []string { panic("viewer: no window in this build") }

// Close is never called: OpenDisplay returns no window.
func (w *Display) Close() error { panic("viewer: no window in this build") }

// Refresh is never called: OpenDisplay returns no window.
func (w *Display) Refresh() error { panic("viewer: no window in this build") }
