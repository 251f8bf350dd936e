//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	vk "github.com/vulkan-go/vulkan"
)

// EnvDevice is the environment variable that picks the Vulkan device: its
// index in the driver's enumeration or a substring of its name (matched
// without regard to case). Without it, the first discrete GPU is taken,
// then an integrated GPU, a virtual one, and last a CPU implementation such
// as lavapipe.
const EnvDevice = "DIFFTUNE_VULKAN_DEVICE"

// physical describes one enumerated physical device.
type physical struct {
	index  int
	dev    vk.PhysicalDevice
	props  vk.PhysicalDeviceProperties
	limits vk.PhysicalDeviceLimits
	mem    vk.PhysicalDeviceMemoryProperties
	queue  int // a queue family with compute, or -1
	sub    subgroupInfo
}

func (p *physical) name() string { return vk.ToString(p.props.DeviceName[:]) }

func (p *physical) typeName() string {
	switch p.props.DeviceType {
	case vk.PhysicalDeviceTypeDiscreteGpu:
		return "discrete GPU"
	case vk.PhysicalDeviceTypeIntegratedGpu:
		return "integrated GPU"
	case vk.PhysicalDeviceTypeVirtualGpu:
		return "virtual GPU"
	case vk.PhysicalDeviceTypeCpu:
		return "CPU"
	}
	return "other"
}

// rank orders device types by preference (lower is better).
func (p *physical) rank() int {
	switch p.props.DeviceType {
	case vk.PhysicalDeviceTypeDiscreteGpu:
		return 0
	case vk.PhysicalDeviceTypeIntegratedGpu:
		return 1
	case vk.PhysicalDeviceTypeVirtualGpu:
		return 2
	case vk.PhysicalDeviceTypeCpu:
		return 3
	}
	return 4
}

func (p *physical) String() string {
	v := p.props.ApiVersion
	return fmt.Sprintf("#%d %s (%s, Vulkan %d.%d.%d)", p.index, p.name(), p.typeName(), v>>22, (v>>12)&0x3ff, v&0xfff)
}

func enumeratePhysical(in *instance) ([]*physical, error) {
	inst := in.inst
	var n uint32
	if err := check(vk.EnumeratePhysicalDevices(inst, &n, nil), "vkEnumeratePhysicalDevices"); err != nil {
		return nil, err
	}
	devs := make([]vk.PhysicalDevice, n)
	if n > 0 {
		if err := check(vk.EnumeratePhysicalDevices(inst, &n, devs), "vkEnumeratePhysicalDevices"); err != nil {
			return nil, err
		}
	}
	var out []*physical
	for i, d := range devs[:n] {
		p := &physical{index: i, dev: d, queue: -1}
		vk.GetPhysicalDeviceProperties(d, &p.props)
		p.props.Deref()
		p.limits = p.props.Limits
		p.limits.Deref()
		vk.GetPhysicalDeviceMemoryProperties(d, &p.mem)
		p.mem.Deref()
		for k := range p.mem.MemoryTypeCount {
			p.mem.MemoryTypes[k].Deref()
		}
		for k := range p.mem.MemoryHeapCount {
			p.mem.MemoryHeaps[k].Deref()
		}
		p.queue = computeQueueFamily(in.gipa, ptrOf(inst), ptrOf(d))
		if p.props.ApiVersion >= vk.MakeVersion(1, 1, 0) {
			p.sub = querySubgroup(in.gipa, ptrOf(inst), ptrOf(d))
		}
		out = append(out, p)
	}
	return out, nil
}

// choosePhysical applies $DIFFTUNE_VULKAN_DEVICE, or the type preference.
func choosePhysical(devs []*physical, want string) (*physical, error) {
	var usable []*physical
	for _, p := range devs {
		if p.queue >= 0 {
			usable = append(usable, p)
		}
	}
	list := func() string {
		var s []string
		for _, p := range devs {
			s = append(s, p.String())
		}
		return strings.Join(s, "; ")
	}
	if len(devs) == 0 {
		return nil, fmt.Errorf("no Vulkan device found: the loader found no driver (install mesa-vulkan-drivers for lavapipe, a CPU Vulkan device, or your GPU's Vulkan driver; VK_ICD_FILENAMES or VK_DRIVER_FILES may point at a driver manifest)")
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("no Vulkan device with a compute queue (that presents to the window, when one is open) among: %s", list())
	}
	if want != "" {
		if i, err := strconv.Atoi(want); err == nil {
			for _, p := range usable {
				if p.index == i {
					return p, nil
				}
			}
			return nil, fmt.Errorf("%s=%s: no usable device with that index among: %s", EnvDevice, want, list())
		}
		for _, p := range usable {
			if strings.Contains(strings.ToLower(p.name()), strings.ToLower(want)) {
				return p, nil
			}
		}
		return nil, fmt.Errorf("%s=%q: no usable device whose name contains it among: %s", EnvDevice, want, list())
	}
	return slices.MinFunc(usable, func(a, b *physical) int { return a.rank() - b.rank() }), nil
}

// device owns the logical device, its queue and the hot-path entry points.
type device struct {
	phys  *physical
	dev   vk.Device
	queue vk.Queue
	hot   hot
	isCPU bool
	// texelViews: R32G32B32A32_SFLOAT uniform texel buffers are supported
	// (mandatory in Vulkan; checked all the same).
	texelViews bool
	// pushDescriptors: VK_KHR_push_descriptor is enabled, with room for
	// every kernel's bindings (maxPushDescriptors ≥ maxBindings), so that
	// dispatches may push their descriptors instead of binding cached sets
	// (see descriptors).
	pushDescriptors bool
}

// extPushDescriptor is the device extension of push descriptors.
const extPushDescriptor = "VK_KHR_push_descriptor"

// extSwapchain is the device extension of presentation to a window.
const extSwapchain = "VK_KHR_swapchain"

// newDevice creates a device on the physical device chosen by want (see
// EnvDevice), with VK_KHR_push_descriptor enabled where it is usable unless
// noPush. With a surface (non-zero), only devices with a queue family that
// computes and presents to it are usable, and VK_KHR_swapchain is enabled.
func newDevice(in *instance, want string, noPush bool, surface handle) (*device, error) {
	if want == "" {
		want = os.Getenv(EnvDevice)
	}
	devs, err := enumeratePhysical(in)
	if err != nil {
		return nil, err
	}
	if surface != 0 {
		for _, p := range devs {
			p.queue = presentQueueFamily(in.gipa, ptrOf(in.inst), ptrOf(p.dev), surface)
			if !hasDeviceExtension(in.gipa, ptrOf(in.inst), ptrOf(p.dev), extSwapchain) {
				p.queue = -1
			}
		}
	}
	p, err := choosePhysical(devs, want)
	if err != nil {
		return nil, err
	}
	// VkPhysicalDevicePushDescriptorPropertiesKHR is read through
	// vkGetPhysicalDeviceProperties2 (core in Vulkan 1.1). Every binding of a
	// push-descriptor set layout counts against maxPushDescriptors
	// (VUID-VkDescriptorSetLayoutCreateInfo-flags-00281).
	push := !noPush && p.props.ApiVersion >= vk.MakeVersion(1, 1, 0) &&
		hasDeviceExtension(in.gipa, ptrOf(in.inst), ptrOf(p.dev), extPushDescriptor) &&
		maxPushDescriptors(in.gipa, ptrOf(in.inst), ptrOf(p.dev)) >= maxBindings
	var exts []string
	if push {
		exts = append(exts, extPushDescriptor)
	}
	if surface != 0 {
		exts = append(exts, extSwapchain)
	}
	ptr, r := createDevice(in.gipa, ptrOf(in.inst), ptrOf(p.dev), p.queue, exts)
	if r != 0 {
		return nil, fmt.Errorf("vkCreateDevice on %v: %w", p, vkError(r))
	}
	dev := fromPtr[vk.Device](ptr)
	var q vk.Queue
	vk.GetDeviceQueue(dev, uint32(p.queue), 0, &q)
	h, err := newHot(in.gipa, ptrOf(in.inst), ptrOf(dev), ptrOf(q), push)
	if err != nil {
		vk.DestroyDevice(dev, nil)
		return nil, fmt.Errorf("%v: %w", p, err)
	}
	var fp vk.FormatProperties
	vk.GetPhysicalDeviceFormatProperties(p.dev, vk.FormatR32g32b32a32Sfloat, &fp)
	fp.Deref()
	texels := fp.BufferFeatures&vk.FormatFeatureFlags(vk.FormatFeatureUniformTexelBufferBit) != 0
	return &device{phys: p, dev: dev, queue: q, hot: h, isCPU: p.props.DeviceType == vk.PhysicalDeviceTypeCpu, texelViews: texels,
		pushDescriptors: push}, nil
}

func (d *device) destroy() {
	vk.DeviceWaitIdle(d.dev)
	d.hot.free()
	vk.DestroyDevice(d.dev, nil)
}
