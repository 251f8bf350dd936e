// Package shaders is the Vulkan compute backend of difftune: hand-written
// GLSL kernels for every tensor operation (glsl/), compiled to SPIR-V by
// `make shaders` (spv/, committed and embedded; TestSPIRVUpToDate fails when
// they drift apart), and the code that runs them.
//
// Importing the package registers the backend as tensor backend "vulkan";
// nothing touches Vulkan until it is opened (tensor.Open("vulkan"), or Open
// here). Opening loads libvulkan.so.1 itself (Debian packages libvulkan1 and
// a driver, e.g. mesa-vulkan-drivers for lavapipe; libvulkan-dev is not
// needed), hands the loader's vkGetInstanceProcAddr to the
// github.com/vulkan-go/vulkan binding, and picks a device: the first
// discrete GPU, else an integrated one, else a CPU implementation, or the
// one named by $DIFFTUNE_VULKAN_DEVICE (EnvDevice). Failures say why: no
// loader, no driver, no such device.
//
// Files by concern:
//
//   - instance.go, device.go: instance, debug messenger, device choice,
//     logical device and queue;
//   - memory.go: the buffer pool by size class (small buffers carved from
//     shared slabs, large ones with their own memory); a tensor's buffer
//     returns to the pool when the tensor is garbage collected and the
//     batches that used it have completed (backend.go);
//   - pipeline.go, descriptors.go: pipelines created once per (kernel,
//     specialization constants); descriptors pushed into the command
//     buffer per dispatch where the device has VK_KHR_push_descriptor,
//     otherwise descriptor sets cached by the buffers they bind;
//   - recorder.go: every operation is recorded into a command buffer that
//     is submitted when the host reads a result, when the batch passes a
//     command or byte threshold, or at Sync, with a barrier only between
//     commands that depend on each other;
//   - ops_*.go: the operations, one kernel family each; geometry.go
//     merges the dimensions of strided views for the kernels;
//   - vkhot.c, vksetup.c, vkmin.h: the C side. Recording a dispatch is one
//     cgo call without allocation; create-info structures that hold arrays
//     are built in C, because the binding's marshalling of them can be
//     freed by a finalizer while the driver still reads it.
//
// Only float32 is supported on the device; allocating float64 panics. The
// shared suite (package tensor/backendtest) checks every operation against
// float64 references, and the tests run under the Khronos validation layer
// (with synchronization validation) when it is installed, failing on any
// message.
package shaders
