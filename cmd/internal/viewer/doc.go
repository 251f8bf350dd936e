// Package viewer draws the frames of the live viewer (issue 16): a frame is
// a DrawList, a short list of items (rectangles, glyphs of a built-in 5×7
// font, RGBA images, point layers) painted in order over a background, and
// Render turns it into an *image.RGBA, with the Vulkan kernels
// glsl/view_splat.comp and glsl/view_compose.comp when the run uses a
// Vulkan backend, and with the plain-Go reference of the same two
// operations (reference.go) otherwise. Both give the same bytes: the
// splat's pixel mapping is float32 without fused multiply-adds, and all
// blending is integer arithmetic (TestViewVulkanMatchesReference).
//
// On a draw list: NewFrame starts the standard 640 × 480 frame with its
// status lines; Plane draws 2-D samples as points over a heat map of a
// density (computed once) with the pre-trained samples faint behind them;
// Histogram, Logo (a sequence logo) and Grid (greyscale images) are the
// other charts. Package cmd/internal/watch composes them into each task's
// view.
//
// Display is the window (glfw, on the main thread: RunMain): its frames are
// drawn by the kernels on a Vulkan backend opened with the window's surface
// and presented through that backend's swapchain. Live feeds a Display
// from a run on a goroutine of its own, within a budget of the wall time,
// and handles the keys (pause, save, replay of the last rollout, quit). Builds with -tags noview (no X11 headers) or
// without cgo have no Display: OpenDisplay says so.
//
// Invariants and panics: frame sizes are 1 to 16384 pixels a side; image
// and point rectangles lie inside the frame, rectangles and text are
// clipped to it. Points that are not finite or whose disc misses the plot
// are skipped, never an error. A bad size, an image or point rectangle
// outside the frame, an empty or non-finite Window or point rows of the
// wrong stride are programmer errors and panic. Nothing here retains the
// slices it is given after the call returns, except Plane, which copies.
package viewer
