//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

// vkhot.c: the Vulkan loader, the per-dispatch hot path and the debug
// messenger, in C so that recording a dispatch is one cgo call with no
// allocation (the Go binding marshals every struct into fresh C memory).
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "vkmin.h"
#include "_cgo_export.h"

static void* loader;

void* dt_load_loader(char* err, size_t errlen) {
	if (loader == NULL) {
		loader = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
		if (loader == NULL) {
			const char* e = dlerror();
			snprintf(err, errlen, "%s", e ? e : "dlopen failed");
			return NULL;
		}
	}
	void* gipa = dlsym(loader, "vkGetInstanceProcAddr");
	if (gipa == NULL) {
		snprintf(err, errlen, "libvulkan.so.1 has no vkGetInstanceProcAddr");
	}
	return gipa;
}

void dt_unload_loader(void) {
	// The loader stays mapped: the Go binding keeps its function pointers.
}

const char* dt_device_init(dt_device* d, void* gipa, void* instance, void* device, void* queue, int pushDescriptors) {
	dt_PFN_vkGetDeviceProcAddr gdpa =
		(dt_PFN_vkGetDeviceProcAddr)((dt_PFN_vkGetInstanceProcAddr)gipa)(instance, "vkGetDeviceProcAddr");
	if (gdpa == NULL) {
		return "vkGetDeviceProcAddr";
	}
	d->device = device;
	d->queue = queue;
#define LOAD(field, name)                      \
	d->field = (void*)gdpa(device, name);      \
	if (d->field == NULL) {                    \
		return name;                           \
	}
	LOAD(beginCommandBuffer, "vkBeginCommandBuffer");
	LOAD(endCommandBuffer, "vkEndCommandBuffer");
	LOAD(resetCommandBuffer, "vkResetCommandBuffer");
	LOAD(cmdBindPipeline, "vkCmdBindPipeline");
	LOAD(cmdBindDescriptorSets, "vkCmdBindDescriptorSets");
	LOAD(cmdPushConstants, "vkCmdPushConstants");
	LOAD(cmdDispatch, "vkCmdDispatch");
	LOAD(cmdPipelineBarrier, "vkCmdPipelineBarrier");
	LOAD(cmdCopyBuffer, "vkCmdCopyBuffer");
	LOAD(cmdFillBuffer, "vkCmdFillBuffer");
	LOAD(queueSubmit, "vkQueueSubmit");
	LOAD(waitForFences, "vkWaitForFences");
	LOAD(resetFences, "vkResetFences");
	LOAD(getFenceStatus, "vkGetFenceStatus");
	LOAD(updateDescriptorSets, "vkUpdateDescriptorSets");
	LOAD(createDescriptorSetLayout, "vkCreateDescriptorSetLayout");
	LOAD(createPipelineLayout, "vkCreatePipelineLayout");
	LOAD(createDescriptorPool, "vkCreateDescriptorPool");
	LOAD(allocateDescriptorSets, "vkAllocateDescriptorSets");
	LOAD(createComputePipelines, "vkCreateComputePipelines");
	if (pushDescriptors) {
		// A device-level extension command: vkGetDeviceProcAddr returns
		// NULL for it unless the extension was enabled at vkCreateDevice.
		LOAD(cmdPushDescriptorSetKHR, "vkCmdPushDescriptorSetKHR");
	}
#undef LOAD
	return NULL;
}

dt_VkResult dt_begin(dt_device* d, void* cmd) {
	dt_VkCommandBufferBeginInfo info = {DT_STYPE_COMMAND_BUFFER_BEGIN_INFO, NULL,
		DT_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT, NULL};
	dt_VkResult r = d->resetCommandBuffer(cmd, 0);
	if (r != 0) {
		return r;
	}
	return d->beginCommandBuffer(cmd, &info);
}

dt_VkResult dt_end(dt_device* d, void* cmd) { return d->endCommandBuffer(cmd); }

void dt_dispatch(dt_device* d, void* cmd, dt_handle pipeline, dt_handle layout, dt_handle set,
	const void* push, uint32_t pushSize, uint32_t gx, uint32_t gy, uint32_t gz) {
	d->cmdBindPipeline(cmd, DT_PIPELINE_BIND_POINT_COMPUTE, pipeline);
	d->cmdBindDescriptorSets(cmd, DT_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, NULL);
	if (pushSize > 0) {
		d->cmdPushConstants(cmd, layout, DT_SHADER_STAGE_COMPUTE_BIT, 0, pushSize, push);
	}
	d->cmdDispatch(cmd, gx, gy, gz);
}

void dt_barrier(dt_device* d, void* cmd, dt_VkFlags srcStages, dt_VkFlags dstStages,
	dt_VkFlags srcAccess, dt_VkFlags dstAccess) {
	dt_VkMemoryBarrier b = {DT_STYPE_MEMORY_BARRIER, NULL, srcAccess, dstAccess};
	d->cmdPipelineBarrier(cmd, srcStages, dstStages, 0, 1, &b, 0, NULL, 0, NULL);
}

void dt_copy(dt_device* d, void* cmd, dt_handle src, dt_handle dst, uint64_t srcOff, uint64_t dstOff, uint64_t size) {
	dt_VkBufferCopy region = {srcOff, dstOff, size};
	d->cmdCopyBuffer(cmd, src, dst, 1, &region);
}

void dt_fill(dt_device* d, void* cmd, dt_handle dst, uint64_t off, uint64_t size, uint32_t data) {
	d->cmdFillBuffer(cmd, dst, off, size, data);
}

dt_VkResult dt_submit(dt_device* d, void* cmd, dt_handle fence) {
	dt_VkSubmitInfo info;
	memset(&info, 0, sizeof info);
	info.sType = DT_STYPE_SUBMIT_INFO;
	info.commandBufferCount = 1;
	info.pCommandBuffers = &cmd;
	return d->queueSubmit(d->queue, 1, &info, fence);
}

dt_VkResult dt_wait(dt_device* d, dt_handle fence, uint64_t timeout) {
	return d->waitForFences(d->device, 1, &fence, 1, timeout);
}

dt_VkResult dt_fence_status(dt_device* d, dt_handle fence) { return d->getFenceStatus(d->device, fence); }

dt_VkResult dt_reset_fence(dt_device* d, dt_handle fence) { return d->resetFences(d->device, 1, &fence); }

// dt_max_writes bounds the bindings of one set (shaders: maxBindings).
#define dt_max_writes 16

// dt_fill_writes describes binding i < n as buffer bufs[i] (from offs[i], or
// 0 when offs is NULL, ranges[i] bytes) or, for the bindings whose bit is
// set in texels, as the texel buffer view views[i], in set (dstSet; ignored
// for pushed descriptors). n is at most dt_max_writes.
static void dt_fill_writes(dt_VkWriteDescriptorSet* writes, dt_VkDescriptorBufferInfo* infos, dt_handle set,
	uint32_t n, const dt_handle* bufs, const uint64_t* offs, const uint64_t* ranges, const dt_handle* views,
	uint32_t texels) {
	memset(writes, 0, n * sizeof writes[0]);
	for (uint32_t i = 0; i < n; i++) {
		writes[i].sType = DT_STYPE_WRITE_DESCRIPTOR_SET;
		writes[i].dstSet = set;
		writes[i].dstBinding = i;
		writes[i].descriptorCount = 1;
		if ((texels >> i) & 1u) {
			writes[i].descriptorType = DT_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
			writes[i].pTexelBufferView = &views[i];
		} else {
			infos[i].buffer = bufs[i];
			infos[i].offset = offs != NULL ? offs[i] : 0;
			infos[i].range = ranges[i];
			writes[i].descriptorType = DT_DESCRIPTOR_TYPE_STORAGE_BUFFER;
			writes[i].pBufferInfo = &infos[i];
		}
	}
}

// dt_write_set points binding i of set at buffer bufs[i] (offset, range), or
// for the bindings whose bit is set in texels, at the texel buffer view
// views[i].
void dt_write_set(dt_device* d, dt_handle set, uint32_t n, const dt_handle* bufs,
	const uint64_t* offs, const uint64_t* ranges, const dt_handle* views, uint32_t texels) {
	dt_VkDescriptorBufferInfo infos[dt_max_writes];
	dt_VkWriteDescriptorSet writes[dt_max_writes];
	if (n > dt_max_writes) {
		n = dt_max_writes;
	}
	dt_fill_writes(writes, infos, set, n, bufs, offs, ranges, views, texels);
	d->updateDescriptorSets(d->device, n, writes, 0, NULL);
}

// dt_dispatch_push records a dispatch whose set 0 is pushed
// (VK_KHR_push_descriptor) rather than bound: binding i is bufs[i] (from
// offset 0, ranges[i] bytes), or the texel buffer view views[i] for the
// bindings whose bit is set in texels. The driver copies the descriptors
// into the command buffer, so nothing outlives the call but the buffers and
// views themselves, which must stay valid until the command buffer completes.
void dt_dispatch_push(dt_device* d, void* cmd, dt_handle pipeline, dt_handle layout, uint32_t n,
	const dt_handle* bufs, const uint64_t* ranges, const dt_handle* views, uint32_t texels,
	const void* push, uint32_t pushSize, uint32_t gx, uint32_t gy, uint32_t gz) {
	dt_VkDescriptorBufferInfo infos[dt_max_writes];
	dt_VkWriteDescriptorSet writes[dt_max_writes];
	if (n > dt_max_writes) {
		n = dt_max_writes;
	}
	dt_fill_writes(writes, infos, 0, n, bufs, NULL, ranges, views, texels);
	d->cmdBindPipeline(cmd, DT_PIPELINE_BIND_POINT_COMPUTE, pipeline);
	// Set 0 must be the layout's one push-descriptor set
	// (VUID-vkCmdPushDescriptorSetKHR-set-00365): pipeline.go gives each
	// layout a single set. Pushed descriptors stay bound like bound sets
	// (pipeline layout compatibility); every dispatch pushes all of its
	// own, so none is inherited from an earlier dispatch.
	d->cmdPushDescriptorSetKHR(cmd, DT_PIPELINE_BIND_POINT_COMPUTE, layout, 0, n, writes);
	if (pushSize > 0) {
		d->cmdPushConstants(cmd, layout, DT_SHADER_STAGE_COMPUTE_BIT, 0, pushSize, push);
	}
	d->cmdDispatch(cmd, gx, gy, gz);
}

static uint32_t dt_debug_callback(dt_VkFlags severity, dt_VkFlags types,
	const dt_VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
	goVulkanMessage((uintptr_t)user, severity, types, (char*)data->pMessageIdName, (char*)data->pMessage);
	return 0; // VK_FALSE: never abort the call
}

dt_VkResult dt_create_messenger(void* gipa, void* instance, uintptr_t sink, dt_handle* messenger) {
	dt_PFN_vkCreateDebugUtilsMessengerEXT create = (dt_PFN_vkCreateDebugUtilsMessengerEXT)(
		(dt_PFN_vkGetInstanceProcAddr)gipa)(instance, "vkCreateDebugUtilsMessengerEXT");
	if (create == NULL) {
		return -7; // VK_ERROR_EXTENSION_NOT_PRESENT
	}
	dt_VkDebugUtilsMessengerCreateInfoEXT info;
	memset(&info, 0, sizeof info);
	info.sType = DT_STYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
	info.messageSeverity = 0x1000 | 0x100; // error, warning
	info.messageType = 0x1 | 0x2 | 0x4;           // general, validation, performance
	info.pfnUserCallback = dt_debug_callback;
	info.pUserData = (void*)sink;
	return create(instance, &info, NULL, messenger);
}

void dt_destroy_messenger(void* gipa, void* instance, dt_handle messenger) {
	dt_PFN_vkDestroyDebugUtilsMessengerEXT destroy = (dt_PFN_vkDestroyDebugUtilsMessengerEXT)(
		(dt_PFN_vkGetInstanceProcAddr)gipa)(instance, "vkDestroyDebugUtilsMessengerEXT");
	if (destroy != NULL) {
		destroy(instance, messenger, NULL);
	}
}
