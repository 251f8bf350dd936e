package viewer

import "errors"

// ErrNoDisplay is OpenDisplay's error where there is no display to open a
// window on (neither DISPLAY nor WAYLAND_DISPLAY is set).
var ErrNoDisplay = errors.New("no display (neither DISPLAY nor WAYLAND_DISPLAY is set)")

// Key is a key of the viewer's window that does something.
type Key int

// The viewer's keys.
const (
	KeyPause  Key = iota + 1 // space: freeze the display (not the run)
	KeySave                  // s: save the frame shown as PNG
	KeyReplay                // r: replay the last rollout
	KeyQuit                  // q or Escape: close the window
)
