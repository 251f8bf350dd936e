// vkmin.h declares the few Vulkan types and entry points that the hot path
// (recording, submission, descriptor writes) and the debug messenger call
// directly from C. They are copied from the Vulkan 1.3 registry so that the
// package builds without the Vulkan headers (libvulkan-dev); vkcheck.c checks
// every layout against <vulkan/vulkan_core.h> whenever that header exists.
//
// Only 64-bit platforms are supported: non-dispatchable handles are then
// pointers, passed here as uint64_t.
#ifndef DIFFTUNE_VKMIN_H
#define DIFFTUNE_VKMIN_H

#include <stddef.h>
#include <stdint.h>

typedef int32_t dt_VkResult;
typedef uint32_t dt_VkFlags;
typedef uint64_t dt_handle; // any non-dispatchable handle (VkBuffer, VkPipeline, ...)

typedef struct dt_VkCommandBufferBeginInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	const void* pInheritanceInfo;
} dt_VkCommandBufferBeginInfo;

typedef struct dt_VkSubmitInfo {
	int32_t sType;
	const void* pNext;
	uint32_t waitSemaphoreCount;
	const dt_handle* pWaitSemaphores;
	const dt_VkFlags* pWaitDstStageMask;
	uint32_t commandBufferCount;
	void* const* pCommandBuffers;
	uint32_t signalSemaphoreCount;
	const dt_handle* pSignalSemaphores;
} dt_VkSubmitInfo;

typedef struct dt_VkMemoryBarrier {
	int32_t sType;
	const void* pNext;
	dt_VkFlags srcAccessMask;
	dt_VkFlags dstAccessMask;
} dt_VkMemoryBarrier;

typedef struct dt_VkBufferCopy {
	uint64_t srcOffset;
	uint64_t dstOffset;
	uint64_t size;
} dt_VkBufferCopy;

typedef struct dt_VkDescriptorBufferInfo {
	dt_handle buffer;
	uint64_t offset;
	uint64_t range;
} dt_VkDescriptorBufferInfo;

typedef struct dt_VkWriteDescriptorSet {
	int32_t sType;
	const void* pNext;
	dt_handle dstSet;
	uint32_t dstBinding;
	uint32_t dstArrayElement;
	uint32_t descriptorCount;
	int32_t descriptorType;
	const void* pImageInfo;
	const dt_VkDescriptorBufferInfo* pBufferInfo;
	const void* pTexelBufferView;
} dt_VkWriteDescriptorSet;

typedef struct dt_VkDebugUtilsMessengerCallbackDataEXT {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	const char* pMessageIdName;
	int32_t messageIdNumber;
	const char* pMessage;
	uint32_t queueLabelCount;
	const void* pQueueLabels;
	uint32_t cmdBufLabelCount;
	const void* pCmdBufLabels;
	uint32_t objectCount;
	const void* pObjects;
} dt_VkDebugUtilsMessengerCallbackDataEXT;

typedef uint32_t (*dt_PFN_debugCallback)(dt_VkFlags severity, dt_VkFlags types,
	const dt_VkDebugUtilsMessengerCallbackDataEXT* data, void* user);

typedef struct dt_VkDebugUtilsMessengerCreateInfoEXT {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	dt_VkFlags messageSeverity;
	dt_VkFlags messageType;
	dt_PFN_debugCallback pfnUserCallback;
	void* pUserData;
} dt_VkDebugUtilsMessengerCreateInfoEXT;

enum {
	DT_STYPE_SUBMIT_INFO = 4,
	DT_STYPE_WRITE_DESCRIPTOR_SET = 35,
	DT_STYPE_COMMAND_BUFFER_BEGIN_INFO = 42,
	DT_STYPE_MEMORY_BARRIER = 46,
	DT_STYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT = 1000128004,
	DT_DESCRIPTOR_TYPE_STORAGE_BUFFER = 7,
	DT_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER = 4,
	DT_PIPELINE_BIND_POINT_COMPUTE = 1,
	DT_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT = 1,
	DT_SHADER_STAGE_COMPUTE_BIT = 0x20,
	DT_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR = 0x1,
};

typedef void* (*dt_PFN_vkGetInstanceProcAddr)(void* instance, const char* name);
typedef void* (*dt_PFN_vkGetDeviceProcAddr)(void* device, const char* name);
typedef dt_VkResult (*dt_PFN_vkBeginCommandBuffer)(void* cmd, const dt_VkCommandBufferBeginInfo* info);
typedef dt_VkResult (*dt_PFN_vkEndCommandBuffer)(void* cmd);
typedef dt_VkResult (*dt_PFN_vkResetCommandBuffer)(void* cmd, dt_VkFlags flags);
typedef void (*dt_PFN_vkCmdBindPipeline)(void* cmd, int32_t bindPoint, dt_handle pipeline);
typedef void (*dt_PFN_vkCmdBindDescriptorSets)(void* cmd, int32_t bindPoint, dt_handle layout,
	uint32_t firstSet, uint32_t setCount, const dt_handle* sets, uint32_t dynCount, const uint32_t* dyn);
typedef void (*dt_PFN_vkCmdPushConstants)(void* cmd, dt_handle layout, dt_VkFlags stages,
	uint32_t offset, uint32_t size, const void* values);
typedef void (*dt_PFN_vkCmdDispatch)(void* cmd, uint32_t x, uint32_t y, uint32_t z);
typedef void (*dt_PFN_vkCmdPipelineBarrier)(void* cmd, dt_VkFlags srcStages, dt_VkFlags dstStages,
	dt_VkFlags deps, uint32_t memCount, const dt_VkMemoryBarrier* mem, uint32_t bufCount,
	const void* buf, uint32_t imgCount, const void* img);
typedef void (*dt_PFN_vkCmdCopyBuffer)(void* cmd, dt_handle src, dt_handle dst, uint32_t n,
	const dt_VkBufferCopy* regions);
typedef void (*dt_PFN_vkCmdFillBuffer)(void* cmd, dt_handle dst, uint64_t offset, uint64_t size, uint32_t data);
typedef dt_VkResult (*dt_PFN_vkQueueSubmit)(void* queue, uint32_t n, const dt_VkSubmitInfo* submits, dt_handle fence);
typedef dt_VkResult (*dt_PFN_vkWaitForFences)(void* device, uint32_t n, const dt_handle* fences,
	uint32_t waitAll, uint64_t timeout);
typedef dt_VkResult (*dt_PFN_vkResetFences)(void* device, uint32_t n, const dt_handle* fences);
typedef dt_VkResult (*dt_PFN_vkGetFenceStatus)(void* device, dt_handle fence);
typedef void (*dt_PFN_vkUpdateDescriptorSets)(void* device, uint32_t nWrites,
	const dt_VkWriteDescriptorSet* writes, uint32_t nCopies, const void* copies);
typedef void (*dt_PFN_vkCmdPushDescriptorSetKHR)(void* cmd, int32_t bindPoint, dt_handle layout,
	uint32_t set, uint32_t nWrites, const dt_VkWriteDescriptorSet* writes);
typedef dt_VkResult (*dt_PFN_vkCreateDebugUtilsMessengerEXT)(void* instance,
	const dt_VkDebugUtilsMessengerCreateInfoEXT* info, const void* alloc, dt_handle* messenger);
typedef void (*dt_PFN_vkDestroyDebugUtilsMessengerEXT)(void* instance, dt_handle messenger, const void* alloc);


// Setup structures (vksetup.c). The Go binding marshals structures holding
// arrays into C memory that a finalizer may free while the driver still
// reads it, so every call taking one is made from C.
typedef struct dt_VkApplicationInfo {
	int32_t sType;
	const void* pNext;
	const char* pApplicationName;
	uint32_t applicationVersion;
	const char* pEngineName;
	uint32_t engineVersion;
	uint32_t apiVersion;
} dt_VkApplicationInfo;

typedef struct dt_VkInstanceCreateInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	const dt_VkApplicationInfo* pApplicationInfo;
	uint32_t enabledLayerCount;
	const char* const* ppEnabledLayerNames;
	uint32_t enabledExtensionCount;
	const char* const* ppEnabledExtensionNames;
} dt_VkInstanceCreateInfo;

typedef struct dt_VkLayerProperties {
	char layerName[256];
	uint32_t specVersion;
	uint32_t implementationVersion;
	char description[256];
} dt_VkLayerProperties;

typedef struct dt_VkExtensionProperties {
	char extensionName[256];
	uint32_t specVersion;
} dt_VkExtensionProperties;

typedef struct dt_VkQueueFamilyProperties {
	dt_VkFlags queueFlags;
	uint32_t queueCount;
	uint32_t timestampValidBits;
	uint32_t minImageTransferGranularity[3];
} dt_VkQueueFamilyProperties;

typedef struct dt_VkDeviceQueueCreateInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	uint32_t queueFamilyIndex;
	uint32_t queueCount;
	const float* pQueuePriorities;
} dt_VkDeviceQueueCreateInfo;

typedef struct dt_VkDeviceCreateInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	uint32_t queueCreateInfoCount;
	const dt_VkDeviceQueueCreateInfo* pQueueCreateInfos;
	uint32_t enabledLayerCount;
	const char* const* ppEnabledLayerNames;
	uint32_t enabledExtensionCount;
	const char* const* ppEnabledExtensionNames;
	const void* pEnabledFeatures;
} dt_VkDeviceCreateInfo;

typedef struct dt_VkDescriptorSetLayoutBinding {
	uint32_t binding;
	int32_t descriptorType;
	uint32_t descriptorCount;
	dt_VkFlags stageFlags;
	const void* pImmutableSamplers;
} dt_VkDescriptorSetLayoutBinding;

typedef struct dt_VkDescriptorSetLayoutCreateInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	uint32_t bindingCount;
	const dt_VkDescriptorSetLayoutBinding* pBindings;
} dt_VkDescriptorSetLayoutCreateInfo;

typedef struct dt_VkPushConstantRange {
	dt_VkFlags stageFlags;
	uint32_t offset;
	uint32_t size;
} dt_VkPushConstantRange;

typedef struct dt_VkPipelineLayoutCreateInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	uint32_t setLayoutCount;
	const dt_handle* pSetLayouts;
	uint32_t pushConstantRangeCount;
	const dt_VkPushConstantRange* pPushConstantRanges;
} dt_VkPipelineLayoutCreateInfo;

typedef struct dt_VkDescriptorPoolSize {
	int32_t type;
	uint32_t descriptorCount;
} dt_VkDescriptorPoolSize;

typedef struct dt_VkDescriptorPoolCreateInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	uint32_t maxSets;
	uint32_t poolSizeCount;
	const dt_VkDescriptorPoolSize* pPoolSizes;
} dt_VkDescriptorPoolCreateInfo;

typedef struct dt_VkDescriptorSetAllocateInfo {
	int32_t sType;
	const void* pNext;
	dt_handle descriptorPool;
	uint32_t descriptorSetCount;
	const dt_handle* pSetLayouts;
} dt_VkDescriptorSetAllocateInfo;

typedef struct dt_VkSpecializationMapEntry {
	uint32_t constantID;
	uint32_t offset;
	size_t size;
} dt_VkSpecializationMapEntry;

typedef struct dt_VkSpecializationInfo {
	uint32_t mapEntryCount;
	const dt_VkSpecializationMapEntry* pMapEntries;
	size_t dataSize;
	const void* pData;
} dt_VkSpecializationInfo;

typedef struct dt_VkPipelineShaderStageCreateInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	dt_VkFlags stage;
	dt_handle module;
	const char* pName;
	const dt_VkSpecializationInfo* pSpecializationInfo;
} dt_VkPipelineShaderStageCreateInfo;

typedef struct dt_VkComputePipelineCreateInfo {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	dt_VkPipelineShaderStageCreateInfo stage;
	dt_handle layout;
	dt_handle basePipelineHandle;
	int32_t basePipelineIndex;
} dt_VkComputePipelineCreateInfo;

typedef struct dt_VkPhysicalDeviceSubgroupProperties {
	int32_t sType;
	void* pNext;
	uint32_t subgroupSize;
	dt_VkFlags supportedStages;
	dt_VkFlags supportedOperations;
	uint32_t quadOperationsInAllStages;
} dt_VkPhysicalDeviceSubgroupProperties;

// dt_VkPhysicalDeviceProperties2 holds VkPhysicalDeviceProperties as
// opaque bytes (room to spare; only the pNext chain is read).
typedef struct dt_VkPhysicalDeviceProperties2 {
	int32_t sType;
	void* pNext;
	uint64_t properties[160];
} dt_VkPhysicalDeviceProperties2;

// VK_KHR_push_descriptor's limit, chained to dt_VkPhysicalDeviceProperties2.
typedef struct dt_VkPhysicalDevicePushDescriptorPropertiesKHR {
	int32_t sType;
	void* pNext;
	uint32_t maxPushDescriptors;
} dt_VkPhysicalDevicePushDescriptorPropertiesKHR;

typedef void (*dt_PFN_vkGetPhysicalDeviceProperties2)(void* phys, dt_VkPhysicalDeviceProperties2* props);

enum {
	DT_STYPE_PHYSICAL_DEVICE_PROPERTIES_2 = 1000059001,
	DT_STYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES = 1000094000,
	DT_STYPE_PHYSICAL_DEVICE_PUSH_DESCRIPTOR_PROPERTIES_KHR = 1000080000,
	DT_STYPE_APPLICATION_INFO = 0,
	DT_STYPE_INSTANCE_CREATE_INFO = 1,
	DT_STYPE_DEVICE_QUEUE_CREATE_INFO = 2,
	DT_STYPE_DEVICE_CREATE_INFO = 3,
	DT_STYPE_PIPELINE_SHADER_STAGE_CREATE_INFO = 18,
	DT_STYPE_COMPUTE_PIPELINE_CREATE_INFO = 29,
	DT_STYPE_PIPELINE_LAYOUT_CREATE_INFO = 30,
	DT_STYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO = 32,
	DT_STYPE_DESCRIPTOR_POOL_CREATE_INFO = 33,
	DT_STYPE_DESCRIPTOR_SET_ALLOCATE_INFO = 34,
};

typedef dt_VkResult (*dt_PFN_vkCreateInstance)(const dt_VkInstanceCreateInfo* info, const void* alloc, void** instance);
typedef dt_VkResult (*dt_PFN_vkEnumerateInstanceLayerProperties)(uint32_t* n, dt_VkLayerProperties* props);
typedef dt_VkResult (*dt_PFN_vkEnumerateInstanceExtensionProperties)(const char* layer, uint32_t* n, dt_VkExtensionProperties* props);
typedef dt_VkResult (*dt_PFN_vkEnumerateDeviceExtensionProperties)(void* phys, const char* layer, uint32_t* n, dt_VkExtensionProperties* props);
typedef void (*dt_PFN_vkGetPhysicalDeviceQueueFamilyProperties)(void* phys, uint32_t* n, dt_VkQueueFamilyProperties* props);
typedef dt_VkResult (*dt_PFN_vkCreateDevice)(void* phys, const dt_VkDeviceCreateInfo* info, const void* alloc, void** device);
typedef dt_VkResult (*dt_PFN_vkCreateDescriptorSetLayout)(void* device, const dt_VkDescriptorSetLayoutCreateInfo* info, const void* alloc, dt_handle* layout);
typedef dt_VkResult (*dt_PFN_vkCreatePipelineLayout)(void* device, const dt_VkPipelineLayoutCreateInfo* info, const void* alloc, dt_handle* layout);
typedef dt_VkResult (*dt_PFN_vkCreateDescriptorPool)(void* device, const dt_VkDescriptorPoolCreateInfo* info, const void* alloc, dt_handle* pool);
typedef dt_VkResult (*dt_PFN_vkAllocateDescriptorSets)(void* device, const dt_VkDescriptorSetAllocateInfo* info, dt_handle* sets);
typedef dt_VkResult (*dt_PFN_vkCreateComputePipelines)(void* device, dt_handle cache, uint32_t n, const dt_VkComputePipelineCreateInfo* infos, const void* alloc, dt_handle* pipelines);

// dt_device holds the device-level entry points of the hot path, fetched
// with vkGetDeviceProcAddr (which skips the loader's dispatch trampoline).
typedef struct dt_device {
	void* device;
	void* queue;
	dt_PFN_vkBeginCommandBuffer beginCommandBuffer;
	dt_PFN_vkEndCommandBuffer endCommandBuffer;
	dt_PFN_vkResetCommandBuffer resetCommandBuffer;
	dt_PFN_vkCmdBindPipeline cmdBindPipeline;
	dt_PFN_vkCmdBindDescriptorSets cmdBindDescriptorSets;
	dt_PFN_vkCmdPushConstants cmdPushConstants;
	dt_PFN_vkCmdDispatch cmdDispatch;
	dt_PFN_vkCmdPipelineBarrier cmdPipelineBarrier;
	dt_PFN_vkCmdCopyBuffer cmdCopyBuffer;
	dt_PFN_vkCmdFillBuffer cmdFillBuffer;
	dt_PFN_vkQueueSubmit queueSubmit;
	dt_PFN_vkWaitForFences waitForFences;
	dt_PFN_vkResetFences resetFences;
	dt_PFN_vkGetFenceStatus getFenceStatus;
	dt_PFN_vkUpdateDescriptorSets updateDescriptorSets;
	dt_PFN_vkCreateDescriptorSetLayout createDescriptorSetLayout;
	dt_PFN_vkCreatePipelineLayout createPipelineLayout;
	dt_PFN_vkCreateDescriptorPool createDescriptorPool;
	dt_PFN_vkAllocateDescriptorSets allocateDescriptorSets;
	dt_PFN_vkCreateComputePipelines createComputePipelines;
	// VK_KHR_push_descriptor, or NULL when the device was created without it.
	dt_PFN_vkCmdPushDescriptorSetKHR cmdPushDescriptorSetKHR;
} dt_device;

// Loader.
void* dt_load_loader(char* err, size_t errlen);
void dt_unload_loader(void);

// Device entry points; returns the name of the first missing one, or NULL.
// pushDescriptors: VK_KHR_push_descriptor is enabled on the device.
const char* dt_device_init(dt_device* d, void* gipa, void* instance, void* device, void* queue, int pushDescriptors);

// Hot path.
dt_VkResult dt_begin(dt_device* d, void* cmd);
dt_VkResult dt_end(dt_device* d, void* cmd);
void dt_dispatch(dt_device* d, void* cmd, dt_handle pipeline, dt_handle layout, dt_handle set,
	const void* push, uint32_t pushSize, uint32_t gx, uint32_t gy, uint32_t gz);
void dt_barrier(dt_device* d, void* cmd, dt_VkFlags srcStages, dt_VkFlags dstStages,
	dt_VkFlags srcAccess, dt_VkFlags dstAccess);
void dt_copy(dt_device* d, void* cmd, dt_handle src, dt_handle dst, uint64_t srcOff, uint64_t dstOff, uint64_t size);
void dt_fill(dt_device* d, void* cmd, dt_handle dst, uint64_t off, uint64_t size, uint32_t data);
dt_VkResult dt_submit(dt_device* d, void* cmd, dt_handle fence);
dt_VkResult dt_wait(dt_device* d, dt_handle fence, uint64_t timeout);
dt_VkResult dt_fence_status(dt_device* d, dt_handle fence);
dt_VkResult dt_reset_fence(dt_device* d, dt_handle fence);
void dt_write_set(dt_device* d, dt_handle set, uint32_t n, const dt_handle* bufs,
	const uint64_t* offs, const uint64_t* ranges, const dt_handle* views, uint32_t texels);
void dt_dispatch_push(dt_device* d, void* cmd, dt_handle pipeline, dt_handle layout, uint32_t n,
	const dt_handle* bufs, const uint64_t* ranges, const dt_handle* views, uint32_t texels,
	const void* push, uint32_t pushSize, uint32_t gx, uint32_t gy, uint32_t gz);

// Setup (vksetup.c).
int dt_has_layer(void* gipa, const char* name);
int dt_has_instance_extension(void* gipa, const char* name);
dt_VkResult dt_create_instance(void* gipa, uint32_t apiVersion, const char* layer, const char* const* exts, uint32_t nExts, void** instance);
int dt_compute_queue_family(void* gipa, void* instance, void* phys);
int dt_subgroup(void* gipa, void* instance, void* phys, uint32_t* size, uint32_t* stages, uint32_t* ops);
int dt_has_device_extension(void* gipa, void* instance, void* phys, const char* name);
uint32_t dt_max_push_descriptors(void* gipa, void* instance, void* phys);
dt_VkResult dt_create_device(void* gipa, void* instance, void* phys, uint32_t family, const char* const* exts, uint32_t nExts, void** device);
dt_VkResult dt_create_set_layout(dt_device* d, uint32_t bindings, uint32_t texels, dt_VkFlags flags, dt_handle* layout);
dt_VkResult dt_create_pipeline_layout(dt_device* d, dt_handle setLayout, uint32_t pushBytes, dt_handle* layout);
dt_VkResult dt_create_descriptor_pool(dt_device* d, uint32_t maxSets, uint32_t storage, uint32_t texels, dt_handle* pool);
dt_VkResult dt_allocate_set(dt_device* d, dt_handle pool, dt_handle layout, dt_handle* set);
dt_VkResult dt_create_compute_pipeline(dt_device* d, dt_handle cache, dt_handle module, dt_handle layout,
	const uint32_t* spec, uint32_t nspec, dt_handle* pipeline);

// Debug messenger (VK_EXT_debug_utils); messages go to goVulkanMessage.
dt_VkResult dt_create_messenger(void* gipa, void* instance, uintptr_t sink, dt_handle* messenger);
void dt_destroy_messenger(void* gipa, void* instance, dt_handle messenger);

// Window-system integration (vkpresent.c): VK_KHR_surface and
// VK_KHR_swapchain, fetched through the instance and the device that
// enabled them (the binding's process-wide table may come from an instance
// without them).
typedef struct dt_VkExtent2D {
	uint32_t width;
	uint32_t height;
} dt_VkExtent2D;

typedef struct dt_VkSurfaceCapabilitiesKHR {
	uint32_t minImageCount;
	uint32_t maxImageCount;
	dt_VkExtent2D currentExtent;
	dt_VkExtent2D minImageExtent;
	dt_VkExtent2D maxImageExtent;
	uint32_t maxImageArrayLayers;
	dt_VkFlags supportedTransforms;
	dt_VkFlags currentTransform;
	dt_VkFlags supportedCompositeAlpha;
	dt_VkFlags supportedUsageFlags;
} dt_VkSurfaceCapabilitiesKHR;

typedef struct dt_VkSurfaceFormatKHR {
	int32_t format;
	int32_t colorSpace;
} dt_VkSurfaceFormatKHR;

typedef struct dt_VkSwapchainCreateInfoKHR {
	int32_t sType;
	const void* pNext;
	dt_VkFlags flags;
	dt_handle surface;
	uint32_t minImageCount;
	int32_t imageFormat;
	int32_t imageColorSpace;
	dt_VkExtent2D imageExtent;
	uint32_t imageArrayLayers;
	dt_VkFlags imageUsage;
	int32_t imageSharingMode;
	uint32_t queueFamilyIndexCount;
	const uint32_t* pQueueFamilyIndices;
	dt_VkFlags preTransform;
	dt_VkFlags compositeAlpha;
	int32_t presentMode;
	uint32_t clipped;
	dt_handle oldSwapchain;
} dt_VkSwapchainCreateInfoKHR;

typedef struct dt_VkPresentInfoKHR {
	int32_t sType;
	const void* pNext;
	uint32_t waitSemaphoreCount;
	const dt_handle* pWaitSemaphores;
	uint32_t swapchainCount;
	const dt_handle* pSwapchains;
	const uint32_t* pImageIndices;
	dt_VkResult* pResults;
} dt_VkPresentInfoKHR;

typedef dt_VkResult (*dt_PFN_vkGetPhysicalDeviceSurfaceSupportKHR)(void* phys, uint32_t family, dt_handle surface, uint32_t* supported);
typedef dt_VkResult (*dt_PFN_vkGetPhysicalDeviceSurfaceCapabilitiesKHR)(void* phys, dt_handle surface, dt_VkSurfaceCapabilitiesKHR* caps);
typedef dt_VkResult (*dt_PFN_vkGetPhysicalDeviceSurfaceFormatsKHR)(void* phys, dt_handle surface, uint32_t* n, dt_VkSurfaceFormatKHR* formats);
typedef void (*dt_PFN_vkDestroySurfaceKHR)(void* instance, dt_handle surface, const void* alloc);
typedef dt_VkResult (*dt_PFN_vkCreateSwapchainKHR)(void* device, const dt_VkSwapchainCreateInfoKHR* info, const void* alloc, dt_handle* swapchain);
typedef void (*dt_PFN_vkDestroySwapchainKHR)(void* device, dt_handle swapchain, const void* alloc);
typedef dt_VkResult (*dt_PFN_vkGetSwapchainImagesKHR)(void* device, dt_handle swapchain, uint32_t* n, dt_handle* images);
typedef dt_VkResult (*dt_PFN_vkAcquireNextImageKHR)(void* device, dt_handle swapchain, uint64_t timeout, dt_handle semaphore, dt_handle fence, uint32_t* index);
typedef dt_VkResult (*dt_PFN_vkQueuePresentKHR)(void* queue, const dt_VkPresentInfoKHR* info);

typedef struct dt_VkImageSubresourceRange {
	dt_VkFlags aspectMask;
	uint32_t baseMipLevel;
	uint32_t levelCount;
	uint32_t baseArrayLayer;
	uint32_t layerCount;
} dt_VkImageSubresourceRange;

typedef struct dt_VkImageMemoryBarrier {
	int32_t sType;
	const void* pNext;
	dt_VkFlags srcAccessMask;
	dt_VkFlags dstAccessMask;
	int32_t oldLayout;
	int32_t newLayout;
	uint32_t srcQueueFamilyIndex;
	uint32_t dstQueueFamilyIndex;
	dt_handle image;
	dt_VkImageSubresourceRange subresourceRange;
} dt_VkImageMemoryBarrier;

typedef struct dt_VkImageSubresourceLayers {
	dt_VkFlags aspectMask;
	uint32_t mipLevel;
	uint32_t baseArrayLayer;
	uint32_t layerCount;
} dt_VkImageSubresourceLayers;

typedef struct dt_VkBufferImageCopy {
	uint64_t bufferOffset;
	uint32_t bufferRowLength;
	uint32_t bufferImageHeight;
	dt_VkImageSubresourceLayers imageSubresource;
	int32_t imageOffset[3];
	uint32_t imageExtent[3];
} dt_VkBufferImageCopy;

typedef void (*dt_PFN_vkCmdCopyBufferToImage)(void* cmd, dt_handle src, dt_handle dst, int32_t layout, uint32_t n,
	const dt_VkBufferImageCopy* regions);

// dt_wsi holds the surface and swapchain entry points of one instance and
// device.
typedef struct dt_wsi {
	void* instance;
	void* phys;
	void* device;
	void* queue;
	dt_PFN_vkGetPhysicalDeviceSurfaceCapabilitiesKHR getSurfaceCapabilities;
	dt_PFN_vkGetPhysicalDeviceSurfaceFormatsKHR getSurfaceFormats;
	dt_PFN_vkDestroySurfaceKHR destroySurface;
	dt_PFN_vkCreateSwapchainKHR createSwapchain;
	dt_PFN_vkDestroySwapchainKHR destroySwapchain;
	dt_PFN_vkGetSwapchainImagesKHR getSwapchainImages;
	dt_PFN_vkAcquireNextImageKHR acquireNextImage;
	dt_PFN_vkQueuePresentKHR queuePresent;
	dt_PFN_vkCmdCopyBufferToImage cmdCopyBufferToImage;
} dt_wsi;

enum {
	DT_STYPE_SWAPCHAIN_CREATE_INFO_KHR = 1000001000,
	DT_STYPE_PRESENT_INFO_KHR = 1000001001,
	DT_SUBOPTIMAL_KHR = 1000001003,
	DT_ERROR_OUT_OF_DATE_KHR = -1000001004,
	DT_STYPE_IMAGE_MEMORY_BARRIER = 45,
	DT_IMAGE_LAYOUT_UNDEFINED = 0,
	DT_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL = 7,
	DT_IMAGE_LAYOUT_PRESENT_SRC_KHR = 1000001002,
};

int dt_present_support(void* gipa, void* instance, void* phys, uint32_t family, dt_handle surface);
const char* dt_wsi_init(dt_wsi* w, void* gipa, void* instance, void* phys, void* device, void* queue);
void dt_destroy_surface(void* gipa, void* instance, dt_handle surface);
dt_VkResult dt_surface_caps(dt_wsi* w, dt_handle surface, dt_VkSurfaceCapabilitiesKHR* caps);
dt_VkResult dt_surface_formats(dt_wsi* w, dt_handle surface, uint32_t* n, dt_VkSurfaceFormatKHR* formats);
dt_VkResult dt_create_swapchain(dt_wsi* w, const dt_VkSwapchainCreateInfoKHR* info, dt_handle* swapchain);
void dt_destroy_swapchain(dt_wsi* w, dt_handle swapchain);
dt_VkResult dt_swapchain_images(dt_wsi* w, dt_handle swapchain, uint32_t* n, dt_handle* images);
dt_VkResult dt_acquire(dt_wsi* w, dt_handle swapchain, uint64_t timeout, dt_handle semaphore, uint32_t* index);
dt_VkResult dt_queue_present(dt_wsi* w, dt_handle semaphore, dt_handle swapchain, uint32_t index);
dt_VkResult dt_present_submit(dt_device* d, dt_wsi* w, void* cmd, dt_handle staging, dt_handle image, uint32_t width, uint32_t height,
	dt_handle acquired, dt_handle rendered, dt_handle fence);

#endif
