//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "vkmin.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// handle is a non-dispatchable Vulkan handle (VkBuffer, VkPipeline, ...) as
// the C hot path takes it.
type handle = C.dt_handle

// h64 reinterprets a binding handle (a C pointer type on 64-bit platforms) as
// the uint64 the C hot path takes.
func h64[T any](h T) handle {
	if unsafe.Sizeof(h) != 8 {
		panic("vulkan: handles must be 64-bit")
	}
	return *(*handle)(unsafe.Pointer(&h))
}

// ptrOf reinterprets a dispatchable binding handle (VkDevice, VkQueue,
// VkCommandBuffer, VkInstance) as a C pointer.
func ptrOf[T any](h T) unsafe.Pointer {
	if unsafe.Sizeof(h) != unsafe.Sizeof(unsafe.Pointer(nil)) {
		panic("vulkan: dispatchable handles must be pointers")
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(&h))
}

// loadLoader dlopens libvulkan.so.1 and returns its vkGetInstanceProcAddr.
func loadLoader() (unsafe.Pointer, error) {
	var buf [512]C.char
	p := C.dt_load_loader(&buf[0], C.size_t(len(buf)))
	if p == nil {
		return nil, fmt.Errorf("%s", C.GoString(&buf[0]))
	}
	return p, nil
}

// hot wraps the C table of device entry points of the hot path. It lives in
// C memory so that C code may keep pointers into it.
type hot struct{ d *C.dt_device }

// newHot loads the entry points of device; pushDescriptors tells that
// VK_KHR_push_descriptor was enabled on it.
func newHot(gipa, instance, device, queue unsafe.Pointer, pushDescriptors bool) (hot, error) {
	d := (*C.dt_device)(C.calloc(1, C.size_t(unsafe.Sizeof(C.dt_device{}))))
	push := C.int(0)
	if pushDescriptors {
		push = 1
	}
	if missing := C.dt_device_init(d, gipa, instance, device, queue, push); missing != nil {
		C.free(unsafe.Pointer(d))
		return hot{}, fmt.Errorf("the driver does not provide %s", C.GoString(missing))
	}
	return hot{d}, nil
}

func (h hot) free() {
	if h.d != nil {
		C.free(unsafe.Pointer(h.d))
	}
}

func (h hot) begin(cmd unsafe.Pointer) C.dt_VkResult { return C.dt_begin(h.d, cmd) }
func (h hot) end(cmd unsafe.Pointer) C.dt_VkResult   { return C.dt_end(h.d, cmd) }

func (h hot) dispatch(cmd unsafe.Pointer, pipe, layout, set handle, push []uint32, gx, gy, gz uint32) {
	var p unsafe.Pointer
	if len(push) > 0 {
		p = unsafe.Pointer(&push[0])
	}
	C.dt_dispatch(h.d, cmd, pipe, layout, set, p, C.uint32_t(4*len(push)), C.uint32_t(gx), C.uint32_t(gy), C.uint32_t(gz))
}

// dispatchPush records a dispatch of pipe with its n bindings pushed
// (vkCmdPushDescriptorSetKHR): binding i is bufs[i] from offset 0 over
// ranges[i] bytes, or views[i] where bit i of texels is set. The arrays are
// read during the call only.
func (h hot) dispatchPush(cmd unsafe.Pointer, pipe, layout handle, n int, bufs *[maxBindings]handle, ranges *[maxBindings]uint64,
	views *[maxBindings]handle, texels uint32, push []uint32, gx, gy, gz uint32) {
	var p unsafe.Pointer
	if len(push) > 0 {
		p = unsafe.Pointer(&push[0])
	}
	C.dt_dispatch_push(h.d, cmd, pipe, layout, C.uint32_t(n), &bufs[0], (*C.uint64_t)(unsafe.Pointer(&ranges[0])), &views[0], C.uint32_t(texels),
		p, C.uint32_t(4*len(push)), C.uint32_t(gx), C.uint32_t(gy), C.uint32_t(gz))
}

func (h hot) barrier(cmd unsafe.Pointer, srcStages, dstStages, srcAccess, dstAccess uint32) {
	C.dt_barrier(h.d, cmd, C.dt_VkFlags(srcStages), C.dt_VkFlags(dstStages), C.dt_VkFlags(srcAccess), C.dt_VkFlags(dstAccess))
}

func (h hot) copy(cmd unsafe.Pointer, src, dst handle, srcOff, dstOff, size uint64) {
	C.dt_copy(h.d, cmd, src, dst, C.uint64_t(srcOff), C.uint64_t(dstOff), C.uint64_t(size))
}

func (h hot) fill(cmd unsafe.Pointer, dst handle, off, size uint64, data uint32) {
	C.dt_fill(h.d, cmd, dst, C.uint64_t(off), C.uint64_t(size), C.uint32_t(data))
}

func (h hot) submit(cmd unsafe.Pointer, fence handle) C.dt_VkResult {
	return C.dt_submit(h.d, cmd, fence)
}

func (h hot) wait(fence handle, timeout uint64) C.dt_VkResult {
	return C.dt_wait(h.d, fence, C.uint64_t(timeout))
}

func (h hot) fenceStatus(fence handle) C.dt_VkResult { return C.dt_fence_status(h.d, fence) }
func (h hot) resetFence(fence handle) C.dt_VkResult  { return C.dt_reset_fence(h.d, fence) }

// writeSet points bindings 0..len(bufs)-1 of set at the given buffer ranges.
// writeSet points binding i of set at bufs[i] (offs[i], ranges[i]), or at
// the texel buffer view views[i] for the bindings whose bit is set in texels.
func (h hot) writeSet(set handle, bufs []handle, offs, ranges []uint64, views []handle, texels uint32) {
	C.dt_write_set(h.d, set, C.uint32_t(len(bufs)), &bufs[0], (*C.uint64_t)(unsafe.Pointer(&offs[0])), (*C.uint64_t)(unsafe.Pointer(&ranges[0])),
		&views[0], C.uint32_t(texels))
}

// The debug messenger reports through goVulkanMessage to the sink whose id
// it was given as user data.
var (
	sinkMu   sync.Mutex
	sinks    = map[uintptr]*messageSink{}
	sinkNext uintptr
)

// messageSink collects the messages of one instance's debug messenger,
// keeping the first maxMessages until they are taken (a process that never
// reads them must not grow without bound).
type messageSink struct {
	mu      sync.Mutex
	msgs    []string
	dropped int
}

const maxMessages = 1000

func (s *messageSink) add(m string) {
	s.mu.Lock()
	if len(s.msgs) < maxMessages {
		s.msgs = append(s.msgs, m)
	} else {
		s.dropped++
	}
	s.mu.Unlock()
}

func (s *messageSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs
	if s.dropped > 0 {
		m = append(m, fmt.Sprintf("(%d more messages dropped)", s.dropped))
	}
	s.msgs, s.dropped = nil, 0
	return m
}

//export goVulkanMessage
func goVulkanMessage(sink C.uintptr_t, severity, types C.dt_VkFlags, id, msg *C.char) {
	sinkMu.Lock()
	s := sinks[uintptr(sink)]
	sinkMu.Unlock()
	if s != nil {
		s.add(fmt.Sprintf("%s [%s]: %s", severityName(uint32(severity)), C.GoString(id), C.GoString(msg)))
	}
}

func severityName(s uint32) string {
	switch {
	case s&0x1000 != 0:
		return "error"
	case s&0x100 != 0:
		return "warning"
	case s&0x10 != 0:
		return "info"
	}
	return "verbose"
}

// createMessenger installs a VK_EXT_debug_utils messenger that reports
// warnings and errors to sink.
func createMessenger(gipa, instance unsafe.Pointer, sink *messageSink) (handle, uintptr, error) {
	sinkMu.Lock()
	sinkNext++
	id := sinkNext
	sinks[id] = sink
	sinkMu.Unlock()
	var m handle
	if r := C.dt_create_messenger(gipa, instance, C.uintptr_t(id), &m); r != 0 {
		forgetSink(id)
		return 0, 0, fmt.Errorf("vkCreateDebugUtilsMessengerEXT: %v", vkError(int32(r)))
	}
	return m, id, nil
}

func destroyMessenger(gipa, instance unsafe.Pointer, m handle, id uintptr) {
	C.dt_destroy_messenger(gipa, instance, m)
	forgetSink(id)
}

func forgetSink(id uintptr) {
	sinkMu.Lock()
	delete(sinks, id)
	sinkMu.Unlock()
}

// fromPtr reinterprets a C pointer as a dispatchable binding handle.
func fromPtr[T any](p unsafe.Pointer) T {
	var h T
	if unsafe.Sizeof(h) != unsafe.Sizeof(p) {
		panic("vulkan: dispatchable handles must be pointers")
	}
	*(*unsafe.Pointer)(unsafe.Pointer(&h)) = p
	return h
}

// fromHandle reinterprets a non-dispatchable handle as a binding handle.
func fromHandle[T any](h handle) T {
	var v T
	if unsafe.Sizeof(v) != 8 {
		panic("vulkan: handles must be 64-bit")
	}
	*(*handle)(unsafe.Pointer(&v)) = h
	return v
}

func cString(s string) (*C.char, func()) {
	if s == "" {
		return nil, func() {}
	}
	c := C.CString(s)
	return c, func() { C.free(unsafe.Pointer(c)) }
}

func hasLayer(gipa unsafe.Pointer, name string) bool {
	c, free := cString(name)
	defer free()
	return C.dt_has_layer(gipa, c) != 0
}

func hasInstanceExtension(gipa unsafe.Pointer, name string) bool {
	c, free := cString(name)
	defer free()
	return C.dt_has_instance_extension(gipa, c) != 0
}

// cStrings copies names into a C array of C strings (nil for none) for the
// duration of a call: call free after it.
func cStrings(names []string) (**C.char, C.uint32_t, func()) {
	if len(names) == 0 {
		return nil, 0, func() {}
	}
	arr := unsafe.Slice((**C.char)(C.calloc(C.size_t(len(names)), C.size_t(unsafe.Sizeof((*C.char)(nil))))), len(names))
	for i, n := range names {
		arr[i] = C.CString(n)
	}
	return &arr[0], C.uint32_t(len(names)), func() {
		for _, c := range arr {
			C.free(unsafe.Pointer(c))
		}
		C.free(unsafe.Pointer(&arr[0]))
	}
}

// createInstance creates a Vulkan 1.1 instance with at most one layer ("" for
// none) and the given extensions.
func createInstance(gipa unsafe.Pointer, layer string, exts []string) (unsafe.Pointer, int32) {
	l, freeL := cString(layer)
	defer freeL()
	e, n, freeE := cStrings(exts)
	defer freeE()
	var inst unsafe.Pointer
	r := C.dt_create_instance(gipa, C.uint32_t(1<<22|1<<12), l, e, n, &inst)
	return inst, int32(r)
}

func computeQueueFamily(gipa, instance, phys unsafe.Pointer) int {
	return int(C.dt_compute_queue_family(gipa, instance, phys))
}

// createDevice creates a device with one queue of family and the given
// device extensions.
func createDevice(gipa, instance, phys unsafe.Pointer, family int, exts []string) (unsafe.Pointer, int32) {
	e, n, free := cStrings(exts)
	defer free()
	var dev unsafe.Pointer
	r := C.dt_create_device(gipa, instance, phys, C.uint32_t(family), e, n, &dev)
	return dev, int32(r)
}

func hasDeviceExtension(gipa, instance, phys unsafe.Pointer, name string) bool {
	c, free := cString(name)
	defer free()
	return C.dt_has_device_extension(gipa, instance, phys, c) != 0
}

// maxPushDescriptors is VkPhysicalDevicePushDescriptorPropertiesKHR's
// limit (0 when it cannot be read). Call it only on devices of Vulkan 1.1
// or later that have VK_KHR_push_descriptor.
func maxPushDescriptors(gipa, instance, phys unsafe.Pointer) uint32 {
	return uint32(C.dt_max_push_descriptors(gipa, instance, phys))
}

// createSetLayout makes a set layout of storage buffers, except for the
// bindings whose bit is set in texels: uniform texel buffers. With push, it
// is a push-descriptor layout (VK_KHR_push_descriptor): its sets are never
// allocated, only pushed at record time.
func (h hot) createSetLayout(bindings int, texels uint32, push bool) (handle, error) {
	var l handle
	flags := C.dt_VkFlags(0)
	if push {
		flags = C.DT_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR
	}
	return l, vkError(int32(C.dt_create_set_layout(h.d, C.uint32_t(bindings), C.uint32_t(texels), flags, &l)))
}

func (h hot) createPipelineLayout(set handle, pushBytes int) (handle, error) {
	var l handle
	return l, vkError(int32(C.dt_create_pipeline_layout(h.d, set, C.uint32_t(pushBytes), &l)))
}

func (h hot) createDescriptorPool(maxSets, storage, texels int) (handle, error) {
	var p handle
	return p, vkError(int32(C.dt_create_descriptor_pool(h.d, C.uint32_t(maxSets), C.uint32_t(storage), C.uint32_t(texels), &p)))
}

func (h hot) allocateSet(pool, layout handle) (handle, error) {
	var s handle
	return s, vkError(int32(C.dt_allocate_set(h.d, pool, layout, &s)))
}

func (h hot) createComputePipeline(cache, module, layout handle, spec []uint32) (handle, error) {
	var p handle
	var sp *C.uint32_t
	if len(spec) > 0 {
		sp = (*C.uint32_t)(unsafe.Pointer(&spec[0]))
	}
	return p, vkError(int32(C.dt_create_compute_pipeline(h.d, cache, module, layout, sp, C.uint32_t(len(spec)), &p)))
}

// subgroupInfo is VkPhysicalDeviceSubgroupProperties: ok is false when the
// device or loader cannot report it.
type subgroupInfo struct {
	ok                bool
	size, stages, ops uint32
}

func querySubgroup(gipa, instance, phys unsafe.Pointer) subgroupInfo {
	var size, stages, ops C.uint32_t
	ok := C.dt_subgroup(gipa, instance, phys, &size, &stages, &ops) != 0
	return subgroupInfo{ok: ok, size: uint32(size), stages: uint32(stages), ops: uint32(ops)}
}
