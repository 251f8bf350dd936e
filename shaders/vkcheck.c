//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

// vkcheck.c checks, at compile time, that the declarations of vkmin.h match
// the official Vulkan headers when they are installed (libvulkan-dev). It
// compiles to nothing.
#if defined(__has_include)
#if __has_include(<vulkan/vulkan_core.h>)
#include <vulkan/vulkan_core.h>

#include "vkmin.h"

#define SAME_LAYOUT(mine, theirs, field) \
	_Static_assert(offsetof(mine, field) == offsetof(theirs, field), #mine "." #field)
#define SAME_SIZE(mine, theirs) _Static_assert(sizeof(mine) == sizeof(theirs), #mine " size")

SAME_SIZE(dt_VkCommandBufferBeginInfo, VkCommandBufferBeginInfo);
SAME_LAYOUT(dt_VkCommandBufferBeginInfo, VkCommandBufferBeginInfo, flags);
SAME_LAYOUT(dt_VkCommandBufferBeginInfo, VkCommandBufferBeginInfo, pInheritanceInfo);
SAME_SIZE(dt_VkSubmitInfo, VkSubmitInfo);
SAME_LAYOUT(dt_VkSubmitInfo, VkSubmitInfo, commandBufferCount);
SAME_LAYOUT(dt_VkSubmitInfo, VkSubmitInfo, pCommandBuffers);
SAME_LAYOUT(dt_VkSubmitInfo, VkSubmitInfo, pSignalSemaphores);
SAME_SIZE(dt_VkMemoryBarrier, VkMemoryBarrier);
SAME_LAYOUT(dt_VkMemoryBarrier, VkMemoryBarrier, dstAccessMask);
SAME_SIZE(dt_VkBufferCopy, VkBufferCopy);
SAME_SIZE(dt_VkDescriptorBufferInfo, VkDescriptorBufferInfo);
SAME_LAYOUT(dt_VkDescriptorBufferInfo, VkDescriptorBufferInfo, range);
SAME_SIZE(dt_VkWriteDescriptorSet, VkWriteDescriptorSet);
SAME_LAYOUT(dt_VkWriteDescriptorSet, VkWriteDescriptorSet, dstSet);
SAME_LAYOUT(dt_VkWriteDescriptorSet, VkWriteDescriptorSet, descriptorType);
SAME_LAYOUT(dt_VkWriteDescriptorSet, VkWriteDescriptorSet, pBufferInfo);
SAME_SIZE(dt_VkDebugUtilsMessengerCallbackDataEXT, VkDebugUtilsMessengerCallbackDataEXT);
SAME_LAYOUT(dt_VkDebugUtilsMessengerCallbackDataEXT, VkDebugUtilsMessengerCallbackDataEXT, pMessageIdName);
SAME_LAYOUT(dt_VkDebugUtilsMessengerCallbackDataEXT, VkDebugUtilsMessengerCallbackDataEXT, pMessage);
SAME_SIZE(dt_VkDebugUtilsMessengerCreateInfoEXT, VkDebugUtilsMessengerCreateInfoEXT);
SAME_LAYOUT(dt_VkDebugUtilsMessengerCreateInfoEXT, VkDebugUtilsMessengerCreateInfoEXT, pfnUserCallback);

SAME_SIZE(dt_VkApplicationInfo, VkApplicationInfo);
SAME_LAYOUT(dt_VkApplicationInfo, VkApplicationInfo, apiVersion);
SAME_SIZE(dt_VkInstanceCreateInfo, VkInstanceCreateInfo);
SAME_LAYOUT(dt_VkInstanceCreateInfo, VkInstanceCreateInfo, ppEnabledExtensionNames);
SAME_SIZE(dt_VkLayerProperties, VkLayerProperties);
SAME_SIZE(dt_VkExtensionProperties, VkExtensionProperties);
SAME_SIZE(dt_VkQueueFamilyProperties, VkQueueFamilyProperties);
SAME_SIZE(dt_VkDeviceQueueCreateInfo, VkDeviceQueueCreateInfo);
SAME_LAYOUT(dt_VkDeviceQueueCreateInfo, VkDeviceQueueCreateInfo, pQueuePriorities);
SAME_SIZE(dt_VkDeviceCreateInfo, VkDeviceCreateInfo);
SAME_LAYOUT(dt_VkDeviceCreateInfo, VkDeviceCreateInfo, pEnabledFeatures);
SAME_SIZE(dt_VkDescriptorSetLayoutBinding, VkDescriptorSetLayoutBinding);
SAME_LAYOUT(dt_VkDescriptorSetLayoutBinding, VkDescriptorSetLayoutBinding, pImmutableSamplers);
SAME_SIZE(dt_VkDescriptorSetLayoutCreateInfo, VkDescriptorSetLayoutCreateInfo);
SAME_LAYOUT(dt_VkDescriptorSetLayoutCreateInfo, VkDescriptorSetLayoutCreateInfo, pBindings);
SAME_SIZE(dt_VkPushConstantRange, VkPushConstantRange);
SAME_SIZE(dt_VkPipelineLayoutCreateInfo, VkPipelineLayoutCreateInfo);
SAME_LAYOUT(dt_VkPipelineLayoutCreateInfo, VkPipelineLayoutCreateInfo, pPushConstantRanges);
SAME_SIZE(dt_VkDescriptorPoolSize, VkDescriptorPoolSize);
SAME_SIZE(dt_VkDescriptorPoolCreateInfo, VkDescriptorPoolCreateInfo);
SAME_LAYOUT(dt_VkDescriptorPoolCreateInfo, VkDescriptorPoolCreateInfo, pPoolSizes);
SAME_SIZE(dt_VkDescriptorSetAllocateInfo, VkDescriptorSetAllocateInfo);
SAME_LAYOUT(dt_VkDescriptorSetAllocateInfo, VkDescriptorSetAllocateInfo, pSetLayouts);
SAME_SIZE(dt_VkSpecializationMapEntry, VkSpecializationMapEntry);
SAME_SIZE(dt_VkSpecializationInfo, VkSpecializationInfo);
SAME_LAYOUT(dt_VkSpecializationInfo, VkSpecializationInfo, pData);
SAME_SIZE(dt_VkPipelineShaderStageCreateInfo, VkPipelineShaderStageCreateInfo);
SAME_LAYOUT(dt_VkPipelineShaderStageCreateInfo, VkPipelineShaderStageCreateInfo, pSpecializationInfo);
SAME_SIZE(dt_VkComputePipelineCreateInfo, VkComputePipelineCreateInfo);
SAME_LAYOUT(dt_VkComputePipelineCreateInfo, VkComputePipelineCreateInfo, layout);
SAME_LAYOUT(dt_VkComputePipelineCreateInfo, VkComputePipelineCreateInfo, basePipelineIndex);

SAME_SIZE(dt_VkPhysicalDeviceSubgroupProperties, VkPhysicalDeviceSubgroupProperties);
SAME_LAYOUT(dt_VkPhysicalDeviceSubgroupProperties, VkPhysicalDeviceSubgroupProperties, supportedOperations);
SAME_LAYOUT(dt_VkPhysicalDeviceProperties2, VkPhysicalDeviceProperties2, properties);
SAME_SIZE(dt_VkPhysicalDevicePushDescriptorPropertiesKHR, VkPhysicalDevicePushDescriptorPropertiesKHR);
SAME_LAYOUT(dt_VkPhysicalDevicePushDescriptorPropertiesKHR, VkPhysicalDevicePushDescriptorPropertiesKHR, maxPushDescriptors);
_Static_assert(DT_STYPE_PHYSICAL_DEVICE_PUSH_DESCRIPTOR_PROPERTIES_KHR == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PUSH_DESCRIPTOR_PROPERTIES_KHR, "stype");
_Static_assert(DT_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR == VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR, "flag");
_Static_assert(DT_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER == VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, "descriptor type");
_Static_assert(sizeof(VkPhysicalDeviceProperties) <= sizeof(((dt_VkPhysicalDeviceProperties2*)0)->properties), "properties room");
_Static_assert(DT_STYPE_PHYSICAL_DEVICE_PROPERTIES_2 == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, "stype");
_Static_assert(DT_STYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, "stype");
_Static_assert(DT_STYPE_APPLICATION_INFO == VK_STRUCTURE_TYPE_APPLICATION_INFO, "stype");
_Static_assert(DT_STYPE_INSTANCE_CREATE_INFO == VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, "stype");
_Static_assert(DT_STYPE_DEVICE_QUEUE_CREATE_INFO == VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, "stype");
_Static_assert(DT_STYPE_DEVICE_CREATE_INFO == VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, "stype");
_Static_assert(DT_STYPE_PIPELINE_SHADER_STAGE_CREATE_INFO == VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, "stype");
_Static_assert(DT_STYPE_COMPUTE_PIPELINE_CREATE_INFO == VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, "stype");
_Static_assert(DT_STYPE_PIPELINE_LAYOUT_CREATE_INFO == VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, "stype");
_Static_assert(DT_STYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO == VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, "stype");
_Static_assert(DT_STYPE_DESCRIPTOR_POOL_CREATE_INFO == VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, "stype");
_Static_assert(DT_STYPE_DESCRIPTOR_SET_ALLOCATE_INFO == VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, "stype");
_Static_assert(DT_STYPE_SUBMIT_INFO == VK_STRUCTURE_TYPE_SUBMIT_INFO, "stype");
_Static_assert(DT_STYPE_WRITE_DESCRIPTOR_SET == VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, "stype");
_Static_assert(DT_STYPE_COMMAND_BUFFER_BEGIN_INFO == VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, "stype");
_Static_assert(DT_STYPE_MEMORY_BARRIER == VK_STRUCTURE_TYPE_MEMORY_BARRIER, "stype");
_Static_assert(DT_STYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT == VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT, "stype");
SAME_SIZE(dt_VkExtent2D, VkExtent2D);
SAME_SIZE(dt_VkSurfaceCapabilitiesKHR, VkSurfaceCapabilitiesKHR);
SAME_LAYOUT(dt_VkSurfaceCapabilitiesKHR, VkSurfaceCapabilitiesKHR, currentExtent);
SAME_LAYOUT(dt_VkSurfaceCapabilitiesKHR, VkSurfaceCapabilitiesKHR, supportedCompositeAlpha);
SAME_LAYOUT(dt_VkSurfaceCapabilitiesKHR, VkSurfaceCapabilitiesKHR, supportedUsageFlags);
SAME_SIZE(dt_VkSurfaceFormatKHR, VkSurfaceFormatKHR);
SAME_SIZE(dt_VkSwapchainCreateInfoKHR, VkSwapchainCreateInfoKHR);
SAME_LAYOUT(dt_VkSwapchainCreateInfoKHR, VkSwapchainCreateInfoKHR, surface);
SAME_LAYOUT(dt_VkSwapchainCreateInfoKHR, VkSwapchainCreateInfoKHR, imageExtent);
SAME_LAYOUT(dt_VkSwapchainCreateInfoKHR, VkSwapchainCreateInfoKHR, pQueueFamilyIndices);
SAME_LAYOUT(dt_VkSwapchainCreateInfoKHR, VkSwapchainCreateInfoKHR, presentMode);
SAME_LAYOUT(dt_VkSwapchainCreateInfoKHR, VkSwapchainCreateInfoKHR, oldSwapchain);
SAME_SIZE(dt_VkImageSubresourceRange, VkImageSubresourceRange);
SAME_SIZE(dt_VkImageMemoryBarrier, VkImageMemoryBarrier);
SAME_LAYOUT(dt_VkImageMemoryBarrier, VkImageMemoryBarrier, newLayout);
SAME_LAYOUT(dt_VkImageMemoryBarrier, VkImageMemoryBarrier, image);
SAME_LAYOUT(dt_VkImageMemoryBarrier, VkImageMemoryBarrier, subresourceRange);
SAME_SIZE(dt_VkBufferImageCopy, VkBufferImageCopy);
SAME_LAYOUT(dt_VkBufferImageCopy, VkBufferImageCopy, imageSubresource);
SAME_LAYOUT(dt_VkBufferImageCopy, VkBufferImageCopy, imageOffset);
SAME_LAYOUT(dt_VkBufferImageCopy, VkBufferImageCopy, imageExtent);
_Static_assert(DT_STYPE_IMAGE_MEMORY_BARRIER == VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, "stype");
_Static_assert(DT_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL == VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, "layout");
_Static_assert(DT_IMAGE_LAYOUT_PRESENT_SRC_KHR == VK_IMAGE_LAYOUT_PRESENT_SRC_KHR, "layout");
SAME_SIZE(dt_VkPresentInfoKHR, VkPresentInfoKHR);
SAME_LAYOUT(dt_VkPresentInfoKHR, VkPresentInfoKHR, pSwapchains);
SAME_LAYOUT(dt_VkPresentInfoKHR, VkPresentInfoKHR, pResults);
_Static_assert(DT_STYPE_SWAPCHAIN_CREATE_INFO_KHR == VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR, "stype");
_Static_assert(DT_STYPE_PRESENT_INFO_KHR == VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, "stype");
_Static_assert(DT_SUBOPTIMAL_KHR == VK_SUBOPTIMAL_KHR, "result");
_Static_assert(DT_ERROR_OUT_OF_DATE_KHR == VK_ERROR_OUT_OF_DATE_KHR, "result");
_Static_assert(DT_DESCRIPTOR_TYPE_STORAGE_BUFFER == VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, "descriptor type");
_Static_assert(DT_PIPELINE_BIND_POINT_COMPUTE == VK_PIPELINE_BIND_POINT_COMPUTE, "bind point");
_Static_assert(DT_SHADER_STAGE_COMPUTE_BIT == VK_SHADER_STAGE_COMPUTE_BIT, "stage");
#endif
#endif

typedef int dt_vkcheck_nonempty; // ISO C forbids an empty translation unit
