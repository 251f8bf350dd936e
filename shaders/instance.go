//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

const validationLayer = "VK_LAYER_KHRONOS_validation"

// The binding keeps its entry points in process-wide C variables: Init
// resolves the global ones (and, with no instance, sets the others to
// NULL), InitInstance the rest through an instance. What InitInstance gets
// are the loader's trampolines, valid for every instance, so both run once
// per process: calling Init again, for a second backend or a failed open,
// would clear the entry points an open backend is using.
var (
	bindingMu       sync.Mutex
	bindingGlobal   bool
	bindingInstance bool
)

func initBinding(gipa unsafe.Pointer) error {
	bindingMu.Lock()
	defer bindingMu.Unlock()
	if bindingGlobal {
		return nil
	}
	vk.SetGetInstanceProcAddr(gipa)
	if err := vk.Init(); err != nil {
		return fmt.Errorf("vulkan binding initialization: %w", err)
	}
	bindingGlobal = true
	return nil
}

func initBindingInstance(inst vk.Instance) error {
	bindingMu.Lock()
	defer bindingMu.Unlock()
	if bindingInstance {
		return nil
	}
	if err := vk.InitInstance(inst); err != nil {
		return fmt.Errorf("vulkan binding instance initialization: %w", err)
	}
	bindingInstance = true
	return nil
}

// instance owns the VkInstance and its debug messenger.
type instance struct {
	gipa      unsafe.Pointer // the loader's vkGetInstanceProcAddr
	inst      vk.Instance
	messenger handle
	sinkID    uintptr
	sink      *messageSink
	// validation reports that the Khronos validation layer is active (asked
	// for by Options or by VK_INSTANCE_LAYERS).
	validation bool
	// messagesAfterClose holds what the messenger reported during
	// destruction (leaked objects, for one).
	messagesAfterClose []string
}

// newInstance loads libvulkan.so.1, hands its vkGetInstanceProcAddr to the
// binding and creates an instance. With validation (or when the environment
// enables the layer) it installs a debug-utils messenger collecting
// warnings and errors. extra are the instance extensions a window system
// needs (SurfaceSource.InstanceExtensions).
func newInstance(validation bool, extra []string) (*instance, error) {
	gipa, err := loadLoader()
	if err != nil {
		return nil, fmt.Errorf("cannot load the Vulkan loader libvulkan.so.1 (%v): install the Debian packages libvulkan1 mesa-vulkan-drivers (lavapipe, a CPU Vulkan device) or your GPU's Vulkan driver", err)
	}
	if err := initBinding(gipa); err != nil {
		return nil, err
	}

	hasValidation := hasLayer(gipa, validationLayer)
	inEnv := strings.Contains(os.Getenv("VK_INSTANCE_LAYERS"), validationLayer)
	layer := ""
	if validation && !inEnv {
		if !hasValidation {
			return nil, fmt.Errorf("validation requested but %s is not installed (Debian package vulkan-validationlayers)", validationLayer)
		}
		layer = validationLayer
	}
	in := &instance{gipa: gipa, validation: (validation || inEnv) && hasValidation}
	var exts []string
	for _, e := range extra {
		if !hasInstanceExtension(gipa, e) {
			return nil, fmt.Errorf("the Vulkan loader has no instance extension %s, which the window needs: install your GPU's Vulkan driver or mesa-vulkan-drivers (lavapipe presents to X11)", e)
		}
		exts = append(exts, e)
	}
	debug := hasInstanceExtension(gipa, "VK_EXT_debug_utils")
	if debug {
		exts = append(exts, "VK_EXT_debug_utils")
	}
	ptr, r := createInstance(gipa, layer, exts)
	if r != 0 {
		hint := ""
		if vk.Result(r) == vk.ErrorIncompatibleDriver {
			hint = " (no Vulkan driver is installed: install mesa-vulkan-drivers for the lavapipe CPU device, or your GPU's driver)"
		}
		return nil, fmt.Errorf("vkCreateInstance: %v%s", vkError(r), hint)
	}
	inst := fromPtr[vk.Instance](ptr)
	if err := initBindingInstance(inst); err != nil {
		vk.DestroyInstance(inst, nil)
		return nil, err
	}
	in.inst = inst
	if debug {
		in.sink = &messageSink{}
		m, id, err := createMessenger(gipa, ptrOf(inst), in.sink)
		if err != nil {
			vk.DestroyInstance(inst, nil)
			return nil, err
		}
		in.messenger, in.sinkID = m, id
	}
	return in, nil
}

func (in *instance) destroy() {
	if in.messenger != 0 {
		in.messagesAfterClose = in.sink.take()
		destroyMessenger(in.gipa, ptrOf(in.inst), in.messenger, in.sinkID)
		in.messenger = 0
	}
	vk.DestroyInstance(in.inst, nil)
}

// messages returns and forgets the messages the debug messenger collected.
func (in *instance) messages() []string {
	if in.sink == nil {
		return nil
	}
	return in.sink.take()
}
