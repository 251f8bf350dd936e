//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

/*
#include <stdlib.h>
#include "vkmin.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Surface formats a frame can be copied into as it is (RGBA8 words) or
// with red and blue swapped; VkFormat values.
const (
	formatR8G8B8A8Unorm = 37
	formatB8G8R8A8Unorm = 44
)

// acquireTimeout bounds the wait for a swapchain image: a frame that
// cannot get one in time is skipped, not waited for.
const acquireTimeout = uint64(1e9)

// presenter is a backend's swapchain on its window: one frame in flight,
// copied from a host-visible staging buffer into the acquired image.
type presenter struct {
	b         *Backend
	wsi       *C.dt_wsi // in C memory: C keeps pointers into it
	swapchain handle
	images    []handle
	rendered  []vk.Semaphore // one per image: signalled by the copy, waited by the presentation
	swizzle   bool           // BGRA: red and blue swapped from the RGBA8 words
	w, h      int            // the images' extent
	stale     bool           // out of date or suboptimal: recreate before the next frame
	pool      vk.CommandPool
	cmd       vk.CommandBuffer
	fence     vk.Fence // signalled when the last frame's copy is done
	acquired  vk.Semaphore
	staging   *slot
}

// presentQueueFamily returns a queue family of phys that computes and
// presents to surface, or -1.
func presentQueueFamily(gipa, instance, phys unsafe.Pointer, surface handle) int {
	var n uint32
	pd := fromPtr[vk.PhysicalDevice](phys)
	vk.GetPhysicalDeviceQueueFamilyProperties(pd, &n, nil)
	props := make([]vk.QueueFamilyProperties, n)
	vk.GetPhysicalDeviceQueueFamilyProperties(pd, &n, props)
	for i := range props[:n] {
		props[i].Deref()
		if props[i].QueueFlags&vk.QueueFlags(vk.QueueComputeBit) != 0 && props[i].QueueCount > 0 &&
			C.dt_present_support(gipa, instance, phys, C.uint32_t(i), surface) != 0 {
			return i
		}
	}
	return -1
}

func destroySurface(in *instance, surface handle) {
	C.dt_destroy_surface(in.gipa, ptrOf(in.inst), surface)
}

// Present shows a frame of w × h RGBA8 words (R in the low byte, row
// major) in the window of Options.Surface, at its top left; the rest of the
// window gets the colour bg. It returns false when no frame was shown: the
// window is minimized, or no swapchain image became free within a second.
// A backend opened without a surface returns an error; so does a lost
// device or window.
func (b *Backend) Present(px []uint32, w, h int, bg uint32) (bool, error) {
	if w < 0 || h < 0 || len(px) != w*h {
		panic(fmt.Sprintf("vulkan: Present of %d words as %d × %d", len(px), w, h))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	if b.surface == 0 {
		return false, errors.New("vulkan: Present on a backend opened without Options.Surface")
	}
	if b.present == nil {
		p, err := newPresenter(b)
		if err != nil {
			return false, err
		}
		b.present = p
	}
	return b.present.frame(px, w, h, bg)
}

func newPresenter(b *Backend) (_ *presenter, err error) {
	d := b.dev
	p := &presenter{b: b, wsi: (*C.dt_wsi)(C.calloc(1, C.size_t(unsafe.Sizeof(C.dt_wsi{}))))}
	defer func() {
		if err != nil {
			p.destroy()
		}
	}()
	if missing := C.dt_wsi_init(p.wsi, b.inst.gipa, ptrOf(b.inst.inst), ptrOf(d.phys.dev), ptrOf(d.dev), ptrOf(d.queue)); missing != nil {
		return nil, fmt.Errorf("vulkan: the driver does not provide %s", C.GoString(missing))
	}
	pinfo := &vk.CommandPoolCreateInfo{
		SType:            vk.StructureTypeCommandPoolCreateInfo,
		Flags:            vk.CommandPoolCreateFlags(vk.CommandPoolCreateResetCommandBufferBit),
		QueueFamilyIndex: uint32(d.phys.queue),
	}
	var pool vk.CommandPool // a local: cgo refuses pointers into p, which holds Go pointers
	res := vk.CreateCommandPool(d.dev, pinfo, nil, &pool)
	pinfo.Free()
	if err := check(res, "vkCreateCommandPool"); err != nil {
		return nil, err
	}
	p.pool = pool
	cmds := make([]vk.CommandBuffer, 1)
	ainfo := &vk.CommandBufferAllocateInfo{SType: vk.StructureTypeCommandBufferAllocateInfo, CommandPool: p.pool,
		Level: vk.CommandBufferLevelPrimary, CommandBufferCount: 1}
	res = vk.AllocateCommandBuffers(d.dev, ainfo, cmds)
	ainfo.Free()
	if err := check(res, "vkAllocateCommandBuffers"); err != nil {
		return nil, err
	}
	p.cmd = cmds[0]
	finfo := &vk.FenceCreateInfo{SType: vk.StructureTypeFenceCreateInfo, Flags: vk.FenceCreateFlags(vk.FenceCreateSignaledBit)}
	var fence vk.Fence
	res = vk.CreateFence(d.dev, finfo, nil, &fence)
	finfo.Free()
	if err := check(res, "vkCreateFence"); err != nil {
		return nil, err
	}
	p.fence = fence
	if p.acquired, err = newSemaphore(d); err != nil {
		return nil, err
	}
	return p, nil
}

func newSemaphore(d *device) (vk.Semaphore, error) {
	info := &vk.SemaphoreCreateInfo{SType: vk.StructureTypeSemaphoreCreateInfo}
	var s vk.Semaphore
	res := vk.CreateSemaphore(d.dev, info, nil, &s)
	info.Free()
	return s, check(res, "vkCreateSemaphore")
}

// wait waits for the last frame's copy.
func (p *presenter) wait() error {
	return check(vk.WaitForFences(p.b.dev.dev, 1, []vk.Fence{p.fence}, vk.True, uint64(fenceTimeout)), "vkWaitForFences (presentation)")
}

// resize (re)creates the swapchain at the surface's extent, or at w × h
// where the window system lets the swapchain choose; ok is false while the
// window has no area (minimized).
func (p *presenter) resize(w, h int) (ok bool, err error) {
	d := p.b.dev
	if err := p.wait(); err != nil {
		return false, err
	}
	var caps C.dt_VkSurfaceCapabilitiesKHR
	if err := vkError(int32(C.dt_surface_caps(p.wsi, p.b.surface, &caps))); err != nil {
		return false, fmt.Errorf("vkGetPhysicalDeviceSurfaceCapabilitiesKHR: %w", err)
	}
	ew, eh := uint32(caps.currentExtent.width), uint32(caps.currentExtent.height)
	if ew == 0xFFFFFFFF {
		ew = min(max(uint32(w), uint32(caps.minImageExtent.width)), uint32(caps.maxImageExtent.width))
		eh = min(max(uint32(h), uint32(caps.minImageExtent.height)), uint32(caps.maxImageExtent.height))
	}
	if ew == 0 || eh == 0 {
		return false, nil
	}
	const transferDst = 0x2
	if caps.supportedUsageFlags&transferDst == 0 {
		return false, errors.New("vulkan: the window's swapchain images cannot be copied to (no VK_IMAGE_USAGE_TRANSFER_DST_BIT)")
	}
	var formats [64]C.dt_VkSurfaceFormatKHR
	n := C.uint32_t(len(formats))
	if r := int32(C.dt_surface_formats(p.wsi, p.b.surface, &n, &formats[0])); r != 0 && r != int32(vk.Incomplete) {
		return false, fmt.Errorf("vkGetPhysicalDeviceSurfaceFormatsKHR: %w", vkError(r))
	}
	format := int32(-1)
	for _, f := range formats[:n] {
		// UNORM only: an sRGB format would re-encode the frame's bytes.
		if f.colorSpace == 0 && (f.format == formatR8G8B8A8Unorm || f.format == formatB8G8R8A8Unorm) {
			format = int32(f.format)
			break
		}
	}
	if format < 0 {
		return false, errors.New("vulkan: the window offers no R8G8B8A8 or B8G8R8A8 UNORM swapchain format")
	}
	count := uint32(caps.minImageCount) + 1
	if caps.maxImageCount > 0 {
		count = min(count, uint32(caps.maxImageCount))
	}
	alpha := C.dt_VkFlags(1) // opaque
	if caps.supportedCompositeAlpha&alpha == 0 {
		alpha = caps.supportedCompositeAlpha & -caps.supportedCompositeAlpha // the lowest bit offered
	}
	info := C.dt_VkSwapchainCreateInfoKHR{
		sType:            C.DT_STYPE_SWAPCHAIN_CREATE_INFO_KHR,
		surface:          p.b.surface,
		minImageCount:    C.uint32_t(count),
		imageFormat:      C.int32_t(format),
		imageExtent:      C.dt_VkExtent2D{width: C.uint32_t(ew), height: C.uint32_t(eh)},
		imageArrayLayers: 1,
		imageUsage:       transferDst,
		preTransform:     caps.currentTransform,
		compositeAlpha:   alpha,
		presentMode:      2, // FIFO: always supported
		clipped:          1,
		oldSwapchain:     p.swapchain,
	}
	var sc handle
	r := int32(C.dt_create_swapchain(p.wsi, &info, &sc))
	p.dropSwapchain()
	if r != 0 {
		return false, fmt.Errorf("vkCreateSwapchainKHR: %w", vkError(r))
	}
	p.swapchain = sc
	var images [16]handle
	ni := C.uint32_t(len(images))
	if r := int32(C.dt_swapchain_images(p.wsi, sc, &ni, &images[0])); r != 0 && r != int32(vk.Incomplete) {
		return false, fmt.Errorf("vkGetSwapchainImagesKHR: %w", vkError(r))
	}
	p.images = append(p.images[:0], images[:ni]...)
	for range p.images {
		s, err := newSemaphore(d)
		if err != nil {
			return false, err
		}
		p.rendered = append(p.rendered, s)
	}
	p.staging = p.b.allocSlot(kindUpload, uint64(4*ew*eh))
	if p.staging.host == nil {
		return false, errors.New("vulkan: no host-visible memory for the presentation's staging buffer")
	}
	p.w, p.h, p.swizzle, p.stale = int(ew), int(eh), format == formatB8G8R8A8Unorm, false
	return true, nil
}

// dropSwapchain destroys the swapchain and what belongs to it (after wait).
func (p *presenter) dropSwapchain() {
	d := p.b.dev
	for _, s := range p.rendered {
		vk.DestroySemaphore(d.dev, s, nil)
	}
	p.rendered, p.images = p.rendered[:0], p.images[:0]
	if p.swapchain != 0 {
		C.dt_destroy_swapchain(p.wsi, p.swapchain)
		p.swapchain = 0
	}
	if p.staging != nil {
		p.b.retire(p.staging)
		p.staging = nil
	}
}

func (p *presenter) frame(px []uint32, w, h int, bg uint32) (bool, error) {
	if p.swapchain == 0 || p.stale {
		if ok, err := p.resize(w, h); !ok || err != nil {
			return false, err
		}
	}
	d := p.b.dev
	if err := p.wait(); err != nil {
		return false, err
	}
	var idx C.uint32_t
	switch r := int32(C.dt_acquire(p.wsi, p.swapchain, C.uint64_t(acquireTimeout), h64(p.acquired), &idx)); r {
	case 0:
	case C.DT_SUBOPTIMAL_KHR:
		p.stale = true
	case C.DT_ERROR_OUT_OF_DATE_KHR:
		p.stale = true
		return false, nil
	case int32(vk.Timeout), int32(vk.NotReady):
		return false, nil
	default:
		return false, fmt.Errorf("vkAcquireNextImageKHR: %w", vkError(r))
	}
	// The staging texels: the frame at the top left, bg around it.
	dst := unsafe.Slice((*uint32)(p.staging.host), p.w*p.h)
	for y := range p.h {
		row := dst[y*p.w : (y+1)*p.w]
		n := 0
		if y < h {
			n = copy(row, px[y*w:y*w+min(w, p.w)])
		}
		for x := n; x < p.w; x++ {
			row[x] = bg
		}
		if p.swizzle {
			for x, c := range row {
				row[x] = c&0xff00ff00 | c>>16&0xff | c&0xff<<16
			}
		}
	}
	if err := check(vk.ResetFences(d.dev, 1, []vk.Fence{p.fence}), "vkResetFences"); err != nil {
		return false, err
	}
	img, rendered := p.images[idx], h64(p.rendered[idx])
	if r := int32(C.dt_present_submit(d.hot.d, p.wsi, ptrOf(p.cmd), p.staging.h, img, C.uint32_t(p.w), C.uint32_t(p.h),
		h64(p.acquired), rendered, h64(p.fence))); r != 0 {
		return false, fmt.Errorf("vkQueueSubmit (presentation): %w", vkError(r))
	}
	switch r := int32(C.dt_queue_present(p.wsi, rendered, p.swapchain, idx)); r {
	case 0:
	case C.DT_SUBOPTIMAL_KHR, C.DT_ERROR_OUT_OF_DATE_KHR:
		p.stale = true
	default:
		return false, fmt.Errorf("vkQueuePresentKHR: %w", vkError(r))
	}
	return true, nil
}

func (p *presenter) destroy() {
	d := p.b.dev
	if p.fence != nil {
		_ = p.wait()
	}
	vk.QueueWaitIdle(d.queue) // the presentation engine's waits on the semaphores
	p.dropSwapchain()
	if p.acquired != nil {
		vk.DestroySemaphore(d.dev, p.acquired, nil)
	}
	if p.fence != nil {
		vk.DestroyFence(d.dev, p.fence, nil)
	}
	if p.pool != nil {
		vk.DestroyCommandPool(d.dev, p.pool, nil)
	}
	C.free(unsafe.Pointer(p.wsi))
}
