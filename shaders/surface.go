package shaders

import "unsafe"

// SurfaceSource is a window a backend presents frames to (Options.Surface,
// Backend.Present), such as a glfw window: package shaders knows nothing
// of the window system beyond these two calls.
type SurfaceSource interface {
	// InstanceExtensions are the instance extensions the window system
	// needs (VK_KHR_surface and its platform's, e.g. glfw's
	// GetRequiredInstanceExtensions).
	InstanceExtensions() []string
	// CreateSurface makes the window's VkSurfaceKHR on instance, a
	// VkInstance created with those extensions. The backend destroys it
	// on Close.
	CreateSurface(instance unsafe.Pointer) (uint64, error)
}
