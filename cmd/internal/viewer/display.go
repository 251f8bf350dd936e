//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64) && !noview

package viewer

/*
#include <stdint.h>
// glfw's own, compiled into package glfw; declared here because its header
// is not on this package's include path. VkResult is a 32-bit enum.
int32_t glfwCreateWindowSurface(void* instance, void* window, const void* allocator, uint64_t* surface);
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/difftune/difftune/shaders"
)

// lowerPriority gives the calling OS thread the lowest CPU priority (nice
// 19; on Linux the nice value is a thread's, and threads it starts inherit
// it): the window's threads, and lavapipe's, which draw the frames on the
// CPU, then take from a run only the time it leaves idle. The caller must
// hold its thread (runtime.LockOSThread) for as long as it runs there.
// Best effort: a refusal leaves the priority as it was.
func lowerPriority() { _ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19) }

// Display is the live viewer's window: frames are drawn by the Vulkan
// kernels (glsl/view_*.comp) on a backend of its own, on a device that
// presents to the window, and copied into its swapchain. Its methods may
// be called from any goroutine, one at a time.
type Display struct {
	win  *glfw.Window
	b    *shaders.Backend
	w, h int

	mu      sync.Mutex
	keys    []Key
	closed  bool
	damaged bool // the window system asked for the window's pixels again
	refresh int  // frames presented again by Refresh

	last       []uint32 // the frame shown last, for Refresh
	lastW      int
	lastH      int
	background uint32
}

// OpenDisplay opens a w × h window titled title (not resizable: a frame
// fills it). It returns ErrNoDisplay without DISPLAY or WAYLAND_DISPLAY, and
// an error saying what to install when the window system or Vulkan cannot
// present. validation runs the backend under the Khronos validation layer
// (see Messages).
func OpenDisplay(title string, w, h int, validation bool) (*Display, error) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return nil, ErrNoDisplay // glfw.Init would succeed and its next call panic
	}
	var win *Display
	var err error
	onMain(func() { win, err = openDisplay(title, w, h, validation) })
	return win, err
}

func openDisplay(title string, w, h int, validation bool) (*Display, error) {
	if err := glfw.Init(); err != nil {
		return nil, fmt.Errorf("the window system: %w", err)
	}
	if !glfw.VulkanSupported() {
		glfw.Terminate()
		return nil, errors.New("glfw finds no Vulkan loader that presents to windows: install libvulkan1 and your GPU's Vulkan driver (or mesa-vulkan-drivers)")
	}
	glfw.WindowHint(glfw.ClientAPI, glfw.NoAPI)
	glfw.WindowHint(glfw.Resizable, glfw.False)
	gw, err := glfw.CreateWindow(w, h, title, nil, nil)
	if err != nil {
		glfw.Terminate()
		return nil, fmt.Errorf("opening a window: %w", err)
	}
	win := &Display{win: gw, w: w, h: h}
	// The device's own threads (lavapipe's) start now, from this thread:
	// they inherit its lowest priority (lowerPriority).
	lowerPriority()
	b, err := shaders.OpenWith(shaders.Options{Validation: validation, Surface: surface{gw}})
	if err != nil {
		gw.Destroy()
		glfw.Terminate()
		return nil, fmt.Errorf("a Vulkan device for the window: %w", err)
	}
	win.b = b
	gw.SetRefreshCallback(func(*glfw.Window) {
		win.mu.Lock()
		win.damaged = true
		win.mu.Unlock()
	})
	gw.SetKeyCallback(func(_ *glfw.Window, key glfw.Key, _ int, action glfw.Action, _ glfw.ModifierKey) {
		if action != glfw.Press {
			return
		}
		k, ok := keyOf[key]
		if ok {
			win.mu.Lock()
			win.keys = append(win.keys, k)
			win.mu.Unlock()
		}
	})
	return win, nil
}

var keyOf = map[glfw.Key]Key{
	glfw.KeySpace:  KeyPause,
	glfw.KeyS:      KeySave,
	glfw.KeyR:      KeyReplay,
	glfw.KeyQ:      KeyQuit,
	glfw.KeyEscape: KeyQuit,
}

// surface gives a glfw window to the backend (shaders.SurfaceSource).
type surface struct{ w *glfw.Window }

func (s surface) InstanceExtensions() []string { return s.w.GetRequiredInstanceExtensions() }

func (s surface) CreateSurface(instance unsafe.Pointer) (uint64, error) {
	var sf C.uint64_t
	if r := C.glfwCreateWindowSurface(instance, s.w.Handle(), nil, &sf); r != 0 {
		return 0, fmt.Errorf("glfwCreateWindowSurface: VkResult %d", int32(r))
	}
	return uint64(sf), nil
}

// Show draws d with the backend's kernels, presents it and returns the
// image drawn (what the window shows). presented is false when the window
// could not take a frame now (minimized, or busy for a second).
func (w *Display) Show(d *DrawList) (img *image.RGBA, presented bool, err error) {
	v := d.View()
	px := make([]uint32, v.Width*v.Height)
	w.b.RenderView(v, px)
	w.last, w.lastW, w.lastH, w.background = px, v.Width, v.Height, v.Background
	w.mu.Lock()
	w.damaged = false
	w.mu.Unlock()
	presented, err = w.b.Present(px, v.Width, v.Height, v.Background)
	return toImage(v.Width, v.Height, px), presented, err
}

// Refresh presents the frame shown last again, without drawing it, if the
// window system has asked for the window's pixels since the last frame
// (they were lost to another window, or the window was uncovered); it
// does nothing otherwise.
func (w *Display) Refresh() error {
	w.mu.Lock()
	damaged := w.damaged
	w.damaged = false
	w.mu.Unlock()
	if w.last == nil || !damaged {
		return nil
	}
	presented, err := w.b.Present(w.last, w.lastW, w.lastH, w.background)
	if presented {
		w.mu.Lock()
		w.refresh++
		w.mu.Unlock()
	}
	return err
}

// Poll processes the window system's events and returns the keys pressed
// since the last call, and whether the window was asked to close.
func (w *Display) Poll() (keys []Key, closing bool) {
	onMain(func() {
		glfw.PollEvents()
		closing = w.win.ShouldClose()
	})
	w.mu.Lock()
	keys, w.keys = w.keys, nil
	w.mu.Unlock()
	return keys, closing
}

// Pos is the position of the window's top left corner on the screen.
func (w *Display) Pos() (x, y int) {
	onMain(func() { x, y = w.win.GetPos() })
	return x, y
}

// SetPos moves the window's top left corner to (x, y) on the screen.
func (w *Display) SetPos(x, y int) { onMain(func() { w.win.SetPos(x, y) }) }

// Messages returns (and forgets) what the validation layer reported.
func (w *Display) Messages() []string { return w.b.Messages() }

// Close closes the window and frees its device; later calls do nothing.
func (w *Display) Close() error {
	w.mu.Lock()
	closed := w.closed
	w.closed = true
	w.mu.Unlock()
	if closed {
		return nil
	}
	err := w.b.Close()
	onMain(func() {
		w.win.Destroy()
		glfw.Terminate()
	})
	return err
}
