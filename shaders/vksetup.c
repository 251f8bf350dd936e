//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

// vksetup.c: the setup calls whose create-info structures hold arrays.
// The Go binding marshals such arrays into C memory released by a
// finalizer on a variable that is dead once the marshalling returns, so a
// garbage collection at the wrong moment frees it while the driver reads
// it (seen as crashes in vkCreateComputePipelines). Building the
// structures here, on the C stack, has no such window.
#include <stdlib.h>
#include <string.h>

#include "vkmin.h"

#define GIPA(instance, name) (((dt_PFN_vkGetInstanceProcAddr)gipa)((instance), (name)))

int dt_has_layer(void* gipa, const char* name) {
	dt_PFN_vkEnumerateInstanceLayerProperties f =
		(dt_PFN_vkEnumerateInstanceLayerProperties)GIPA(NULL, "vkEnumerateInstanceLayerProperties");
	uint32_t n = 0;
	if (f == NULL || f(&n, NULL) != 0 || n == 0) {
		return 0;
	}
	dt_VkLayerProperties* props = calloc(n, sizeof *props);
	int found = 0;
	if (props != NULL && f(&n, props) >= 0) {
		for (uint32_t i = 0; i < n && !found; i++) {
			found = strcmp(props[i].layerName, name) == 0;
		}
	}
	free(props);
	return found;
}

int dt_has_instance_extension(void* gipa, const char* name) {
	dt_PFN_vkEnumerateInstanceExtensionProperties f =
		(dt_PFN_vkEnumerateInstanceExtensionProperties)GIPA(NULL, "vkEnumerateInstanceExtensionProperties");
	uint32_t n = 0;
	if (f == NULL || f(NULL, &n, NULL) != 0 || n == 0) {
		return 0;
	}
	dt_VkExtensionProperties* props = calloc(n, sizeof *props);
	int found = 0;
	if (props != NULL && f(NULL, &n, props) >= 0) {
		for (uint32_t i = 0; i < n && !found; i++) {
			found = strcmp(props[i].extensionName, name) == 0;
		}
	}
	free(props);
	return found;
}

dt_VkResult dt_create_instance(void* gipa, uint32_t apiVersion, const char* layer, const char* const* exts, uint32_t nExts, void** instance) {
	dt_PFN_vkCreateInstance f = (dt_PFN_vkCreateInstance)GIPA(NULL, "vkCreateInstance");
	if (f == NULL) {
		return -3; // VK_ERROR_INITIALIZATION_FAILED
	}
	dt_VkApplicationInfo app = {DT_STYPE_APPLICATION_INFO, NULL, "difftune", 1, "difftune", 1, apiVersion};
	dt_VkInstanceCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = DT_STYPE_INSTANCE_CREATE_INFO;
	info.pApplicationInfo = &app;
	if (layer != NULL) {
		info.enabledLayerCount = 1;
		info.ppEnabledLayerNames = &layer;
	}
	info.enabledExtensionCount = nExts;
	info.ppEnabledExtensionNames = exts;
	return f(&info, NULL, instance);
}

// dt_compute_queue_family returns a queue family with compute, preferring
// one without graphics (a dedicated compute queue), or -1.
int dt_compute_queue_family(void* gipa, void* instance, void* phys) {
	dt_PFN_vkGetPhysicalDeviceQueueFamilyProperties f =
		(dt_PFN_vkGetPhysicalDeviceQueueFamilyProperties)GIPA(instance, "vkGetPhysicalDeviceQueueFamilyProperties");
	uint32_t n = 0;
	if (f == NULL) {
		return -1;
	}
	f(phys, &n, NULL);
	dt_VkQueueFamilyProperties* props = calloc(n ? n : 1, sizeof *props);
	if (props == NULL) {
		return -1;
	}
	f(phys, &n, props);
	int pick = -1;
	for (uint32_t i = 0; i < n; i++) {
		const uint32_t graphics = 1, compute = 2;
		if ((props[i].queueFlags & compute) == 0 || props[i].queueCount == 0) {
			continue;
		}
		if (pick < 0 || (props[i].queueFlags & graphics) == 0) {
			pick = (int)i;
		}
		if ((props[i].queueFlags & graphics) == 0) {
			break;
		}
	}
	free(props);
	return pick;
}

// dt_properties2 fills the structure next (its sType set, pNext NULL)
// through vkGetPhysicalDeviceProperties2 (Vulkan 1.1); it returns 0 when the
// loader does not have the command.
static int dt_properties2(void* gipa, void* instance, void* phys, void* next) {
	dt_PFN_vkGetPhysicalDeviceProperties2 f =
		(dt_PFN_vkGetPhysicalDeviceProperties2)GIPA(instance, "vkGetPhysicalDeviceProperties2");
	if (f == NULL) {
		return 0;
	}
	dt_VkPhysicalDeviceProperties2 p;
	memset(&p, 0, sizeof p);
	p.sType = DT_STYPE_PHYSICAL_DEVICE_PROPERTIES_2;
	p.pNext = next;
	f(phys, &p);
	return 1;
}

// dt_subgroup reads VkPhysicalDeviceSubgroupProperties (Vulkan 1.1); it
// returns 0 when the device or the loader cannot tell.
int dt_subgroup(void* gipa, void* instance, void* phys, uint32_t* size, uint32_t* stages, uint32_t* ops) {
	dt_VkPhysicalDeviceSubgroupProperties sg;
	memset(&sg, 0, sizeof sg);
	sg.sType = DT_STYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
	if (!dt_properties2(gipa, instance, phys, &sg)) {
		return 0;
	}
	*size = sg.subgroupSize;
	*stages = sg.supportedStages;
	*ops = sg.supportedOperations;
	return 1;
}

int dt_has_device_extension(void* gipa, void* instance, void* phys, const char* name) {
	dt_PFN_vkEnumerateDeviceExtensionProperties f =
		(dt_PFN_vkEnumerateDeviceExtensionProperties)GIPA(instance, "vkEnumerateDeviceExtensionProperties");
	uint32_t n = 0;
	if (f == NULL || f(phys, NULL, &n, NULL) != 0 || n == 0) {
		return 0;
	}
	dt_VkExtensionProperties* props = calloc(n, sizeof *props);
	int found = 0;
	if (props != NULL && f(phys, NULL, &n, props) >= 0) {
		for (uint32_t i = 0; i < n && !found; i++) {
			found = strcmp(props[i].extensionName, name) == 0;
		}
	}
	free(props);
	return found;
}

// dt_max_push_descriptors reads VkPhysicalDevicePushDescriptorPropertiesKHR
// (Vulkan 1.1 and VK_KHR_push_descriptor); 0 when it cannot be read.
uint32_t dt_max_push_descriptors(void* gipa, void* instance, void* phys) {
	dt_VkPhysicalDevicePushDescriptorPropertiesKHR pd;
	memset(&pd, 0, sizeof pd);
	pd.sType = DT_STYPE_PHYSICAL_DEVICE_PUSH_DESCRIPTOR_PROPERTIES_KHR;
	if (!dt_properties2(gipa, instance, phys, &pd)) {
		return 0;
	}
	return pd.maxPushDescriptors;
}

// dt_create_device creates a device with one queue of family and the nExts
// device extensions exts.
dt_VkResult dt_create_device(void* gipa, void* instance, void* phys, uint32_t family, const char* const* exts, uint32_t nExts, void** device) {
	dt_PFN_vkCreateDevice f = (dt_PFN_vkCreateDevice)GIPA(instance, "vkCreateDevice");
	if (f == NULL) {
		return -3;
	}
	float priority = 1.0f;
	dt_VkDeviceQueueCreateInfo q = {DT_STYPE_DEVICE_QUEUE_CREATE_INFO, NULL, 0, family, 1, &priority};
	dt_VkDeviceCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = DT_STYPE_DEVICE_CREATE_INFO;
	info.queueCreateInfoCount = 1;
	info.pQueueCreateInfos = &q;
	info.enabledExtensionCount = nExts;
	info.ppEnabledExtensionNames = exts;
	return f(phys, &info, NULL, device);
}

// dt_create_set_layout makes bindings 0 .. bindings-1 storage buffers, except
// those whose bit is set in texels: uniform texel buffers. flags is
// VkDescriptorSetLayoutCreateFlags (the push-descriptor bit or 0).
dt_VkResult dt_create_set_layout(dt_device* d, uint32_t bindings, uint32_t texels, dt_VkFlags flags, dt_handle* layout) {
	dt_VkDescriptorSetLayoutBinding b[16];
	if (bindings > 16) {
		return -3;
	}
	for (uint32_t i = 0; i < bindings; i++) {
		b[i].binding = i;
		b[i].descriptorType = (texels >> i) & 1u ? DT_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER : DT_DESCRIPTOR_TYPE_STORAGE_BUFFER;
		b[i].descriptorCount = 1;
		b[i].stageFlags = DT_SHADER_STAGE_COMPUTE_BIT;
		b[i].pImmutableSamplers = NULL;
	}
	dt_VkDescriptorSetLayoutCreateInfo info = {DT_STYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, NULL, flags, bindings, b};
	return d->createDescriptorSetLayout(d->device, &info, NULL, layout);
}

dt_VkResult dt_create_pipeline_layout(dt_device* d, dt_handle setLayout, uint32_t pushBytes, dt_handle* layout) {
	dt_VkPushConstantRange range = {DT_SHADER_STAGE_COMPUTE_BIT, 0, pushBytes};
	dt_VkPipelineLayoutCreateInfo info = {DT_STYPE_PIPELINE_LAYOUT_CREATE_INFO, NULL, 0, 1, &setLayout,
		pushBytes > 0 ? 1u : 0u, pushBytes > 0 ? &range : NULL};
	return d->createPipelineLayout(d->device, &info, NULL, layout);
}

dt_VkResult dt_create_descriptor_pool(dt_device* d, uint32_t maxSets, uint32_t storage, uint32_t texels, dt_handle* pool) {
	dt_VkDescriptorPoolSize sizes[2] = {{DT_DESCRIPTOR_TYPE_STORAGE_BUFFER, storage}, {DT_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, texels}};
	dt_VkDescriptorPoolCreateInfo info = {DT_STYPE_DESCRIPTOR_POOL_CREATE_INFO, NULL, 0, maxSets, texels > 0 ? 2u : 1u, sizes};
	return d->createDescriptorPool(d->device, &info, NULL, pool);
}

dt_VkResult dt_allocate_set(dt_device* d, dt_handle pool, dt_handle layout, dt_handle* set) {
	dt_VkDescriptorSetAllocateInfo info = {DT_STYPE_DESCRIPTOR_SET_ALLOCATE_INFO, NULL, pool, 1, &layout};
	return d->allocateDescriptorSets(d->device, &info, set);
}

dt_VkResult dt_create_compute_pipeline(dt_device* d, dt_handle cache, dt_handle module, dt_handle layout,
	const uint32_t* spec, uint32_t nspec, dt_handle* pipeline) {
	dt_VkSpecializationMapEntry entries[32];
	if (nspec > 32) {
		return -3;
	}
	for (uint32_t i = 0; i < nspec; i++) {
		entries[i].constantID = i;
		entries[i].offset = 4 * i;
		entries[i].size = 4;
	}
	dt_VkSpecializationInfo si = {nspec, entries, 4 * (size_t)nspec, spec};
	dt_VkComputePipelineCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = DT_STYPE_COMPUTE_PIPELINE_CREATE_INFO;
	info.stage.sType = DT_STYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
	info.stage.stage = DT_SHADER_STAGE_COMPUTE_BIT;
	info.stage.module = module;
	info.stage.pName = "main";
	info.stage.pSpecializationInfo = nspec > 0 ? &si : NULL;
	info.layout = layout;
	info.basePipelineIndex = -1;
	return d->createComputePipelines(d->device, cache, 1, &info, NULL, pipeline);
}
