//go:build !(cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64))

package shaders

import (
	"errors"

	"github.com/difftune/difftune/tensor"
)

// EnvDevice is the environment variable that picks the Vulkan device.
const EnvDevice = "DIFFTUNE_VULKAN_DEVICE"

// Options configure Open.
type Options struct {
	Device        string
	Validation    bool
	BatchCommands int
	Surface       SurfaceSource
}

// Backend is the Vulkan backend; this build cannot open one.
type Backend struct{ tensor.Backend }

var errUnsupported = errors.New("the Vulkan backend needs cgo on 64-bit Linux (this build has neither or not both)")

// Open reports that this build has no Vulkan backend.
func Open() (*Backend, error) { return nil, errUnsupported }

// OpenWith reports that this build has no Vulkan backend.
func OpenWith(Options) (*Backend, error) { return nil, errUnsupported }

func init() {
	tensor.Register("vulkan", func() (tensor.Backend, error) { return nil, errUnsupported })
}
