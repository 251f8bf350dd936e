//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

// vkpresent.c calls the window-system entry points (VK_KHR_surface,
// VK_KHR_swapchain) for Presenter. They are fetched from the instance and
// the device that enabled those extensions: the vulkan-go binding resolves
// its table once per process, possibly through an instance without them.
#include <stddef.h>
#include <string.h>

#include "vkmin.h"

typedef void* (*dt_PFN_vkGetInstanceProcAddr)(void* instance, const char* name);
typedef void* (*dt_PFN_vkGetDeviceProcAddr)(void* device, const char* name);

int dt_present_support(void* gipa, void* instance, void* phys, uint32_t family, dt_handle surface) {
	dt_PFN_vkGetPhysicalDeviceSurfaceSupportKHR f = (dt_PFN_vkGetPhysicalDeviceSurfaceSupportKHR)
		((dt_PFN_vkGetInstanceProcAddr)gipa)(instance, "vkGetPhysicalDeviceSurfaceSupportKHR");
	uint32_t ok = 0;
	if (f == NULL || f(phys, family, surface, &ok) != 0) {
		return 0;
	}
	return ok != 0;
}

void dt_destroy_surface(void* gipa, void* instance, dt_handle surface) {
	dt_PFN_vkDestroySurfaceKHR f = (dt_PFN_vkDestroySurfaceKHR)((dt_PFN_vkGetInstanceProcAddr)gipa)(instance, "vkDestroySurfaceKHR");
	if (f != NULL) {
		f(instance, surface, NULL);
	}
}

// dt_wsi_init fills w; it returns the name of an entry point the driver
// lacks, or NULL.
const char* dt_wsi_init(dt_wsi* w, void* gipa, void* instance, void* phys, void* device, void* queue) {
	dt_PFN_vkGetInstanceProcAddr gi = (dt_PFN_vkGetInstanceProcAddr)gipa;
	dt_PFN_vkGetDeviceProcAddr gd = (dt_PFN_vkGetDeviceProcAddr)gi(instance, "vkGetDeviceProcAddr");
	if (gd == NULL) {
		return "vkGetDeviceProcAddr";
	}
	w->instance = instance;
	w->phys = phys;
	w->device = device;
	w->queue = queue;
#define INST(field, name)                    \
	if ((w->field = gi(instance, name)) == NULL) { \
		return name;                         \
	}
#define DEV(field, name)                     \
	if ((w->field = gd(device, name)) == NULL) { \
		return name;                         \
	}
	INST(getSurfaceCapabilities, "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
	INST(getSurfaceFormats, "vkGetPhysicalDeviceSurfaceFormatsKHR");
	INST(destroySurface, "vkDestroySurfaceKHR");
	DEV(createSwapchain, "vkCreateSwapchainKHR");
	DEV(destroySwapchain, "vkDestroySwapchainKHR");
	DEV(getSwapchainImages, "vkGetSwapchainImagesKHR");
	DEV(acquireNextImage, "vkAcquireNextImageKHR");
	DEV(queuePresent, "vkQueuePresentKHR");
	DEV(cmdCopyBufferToImage, "vkCmdCopyBufferToImage");
#undef INST
#undef DEV
	return NULL;
}

dt_VkResult dt_surface_caps(dt_wsi* w, dt_handle surface, dt_VkSurfaceCapabilitiesKHR* caps) {
	return w->getSurfaceCapabilities(w->phys, surface, caps);
}

// dt_surface_formats reads at most *n formats; *n is then the number read.
dt_VkResult dt_surface_formats(dt_wsi* w, dt_handle surface, uint32_t* n, dt_VkSurfaceFormatKHR* formats) {
	return w->getSurfaceFormats(w->phys, surface, n, formats);
}

dt_VkResult dt_create_swapchain(dt_wsi* w, const dt_VkSwapchainCreateInfoKHR* info, dt_handle* swapchain) {
	return w->createSwapchain(w->device, info, NULL, swapchain);
}

void dt_destroy_swapchain(dt_wsi* w, dt_handle swapchain) { w->destroySwapchain(w->device, swapchain, NULL); }

// dt_swapchain_images reads at most *n images; *n is then the number read.
dt_VkResult dt_swapchain_images(dt_wsi* w, dt_handle swapchain, uint32_t* n, dt_handle* images) {
	return w->getSwapchainImages(w->device, swapchain, n, images);
}

dt_VkResult dt_acquire(dt_wsi* w, dt_handle swapchain, uint64_t timeout, dt_handle semaphore, uint32_t* index) {
	return w->acquireNextImage(w->device, swapchain, timeout, semaphore, 0, index);
}

dt_VkResult dt_queue_present(dt_wsi* w, dt_handle semaphore, dt_handle swapchain, uint32_t index) {
	dt_VkResult result = 0;
	dt_VkPresentInfoKHR info = {DT_STYPE_PRESENT_INFO_KHR, NULL, 1, &semaphore, 1, &swapchain, &index, &result};
	dt_VkResult r = w->queuePresent(w->queue, &info);
	return r != 0 ? r : result;
}

// dt_present_submit records into cmd and submits the copy of a frame, the
// width × height texels of staging (tightly packed, in the swapchain's
// format), into the swapchain image: after the acquire semaphore, moved
// into the transfer layout and then the presentation layout; it signals
// rendered and fence.
dt_VkResult dt_present_submit(dt_device* d, dt_wsi* w, void* cmd, dt_handle staging, dt_handle image, uint32_t width, uint32_t height,
	dt_handle acquired, dt_handle rendered, dt_handle fence) {
	const dt_VkFlags topOfPipe = 0x1, transfer = 0x1000, bottomOfPipe = 0x2000, transferWrite = 0x1000, colour = 1;
	dt_VkResult r = d->resetCommandBuffer(cmd, 0);
	if (r != 0) {
		return r;
	}
	dt_VkCommandBufferBeginInfo begin = {DT_STYPE_COMMAND_BUFFER_BEGIN_INFO, NULL, 1 /* one time submit */, NULL};
	if ((r = d->beginCommandBuffer(cmd, &begin)) != 0) {
		return r;
	}
	dt_VkImageMemoryBarrier b;
	memset(&b, 0, sizeof b);
	b.sType = DT_STYPE_IMAGE_MEMORY_BARRIER;
	b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = ~0u; // VK_QUEUE_FAMILY_IGNORED
	b.image = image;
	b.subresourceRange.aspectMask = colour;
	b.subresourceRange.levelCount = 1;
	b.subresourceRange.layerCount = 1;
	b.oldLayout = DT_IMAGE_LAYOUT_UNDEFINED;
	b.newLayout = DT_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
	b.dstAccessMask = transferWrite;
	d->cmdPipelineBarrier(cmd, topOfPipe, transfer, 0, 0, NULL, 0, NULL, 1, &b);
	dt_VkBufferImageCopy region;
	memset(&region, 0, sizeof region);
	region.imageSubresource.aspectMask = colour;
	region.imageSubresource.layerCount = 1;
	region.imageExtent[0] = width;
	region.imageExtent[1] = height;
	region.imageExtent[2] = 1;
	w->cmdCopyBufferToImage(cmd, staging, image, DT_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
	b.oldLayout = DT_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
	b.newLayout = DT_IMAGE_LAYOUT_PRESENT_SRC_KHR;
	b.srcAccessMask = transferWrite;
	b.dstAccessMask = 0;
	d->cmdPipelineBarrier(cmd, transfer, bottomOfPipe, 0, 0, NULL, 0, NULL, 1, &b);
	if ((r = d->endCommandBuffer(cmd)) != 0) {
		return r;
	}
	dt_VkFlags stage = transfer;
	dt_VkSubmitInfo info;
	memset(&info, 0, sizeof info);
	info.sType = DT_STYPE_SUBMIT_INFO;
	info.waitSemaphoreCount = 1;
	info.pWaitSemaphores = &acquired;
	info.pWaitDstStageMask = &stage;
	info.commandBufferCount = 1;
	info.pCommandBuffers = &cmd;
	info.signalSemaphoreCount = 1;
	info.pSignalSemaphores = &rendered;
	return d->queueSubmit(d->queue, 1, &info, fence);
}
