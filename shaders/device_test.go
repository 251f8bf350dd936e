//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"strings"
	"testing"

	vk "github.com/vulkan-go/vulkan"
)

func fakeDevice(index int, name string, typ vk.PhysicalDeviceType, queue int) *physical {
	p := &physical{index: index, queue: queue}
	copy(p.props.DeviceName[:], name)
	p.props.DeviceType = typ
	return p
}

func TestChoosePhysical(t *testing.T) {
	devs := []*physical{
		fakeDevice(0, "llvmpipe (LLVM 15.0.6, 256 bits)", vk.PhysicalDeviceTypeCpu, 0),
		fakeDevice(1, "Intel(R) UHD Graphics 630", vk.PhysicalDeviceTypeIntegratedGpu, 0),
		fakeDevice(2, "NVIDIA H100 80GB HBM3", vk.PhysicalDeviceTypeDiscreteGpu, 0),
		fakeDevice(3, "Broken GPU", vk.PhysicalDeviceTypeDiscreteGpu, -1), // no compute queue
	}
	for _, c := range []struct{ want, got string }{
		{"", "NVIDIA"}, {"0", "llvmpipe"}, {"1", "Intel"}, {"llvmpipe", "llvmpipe"}, {"uhd", "Intel"}, {"h100", "NVIDIA"},
	} {
		p, err := choosePhysical(devs, c.want)
		if err != nil || !strings.Contains(p.name(), c.got) {
			t.Errorf("choosePhysical(%q) = %v, %v; want %s", c.want, p, err, c.got)
		}
	}
	for _, want := range []string{"3", "9", "radeon"} {
		if p, err := choosePhysical(devs, want); err == nil {
			t.Errorf("choosePhysical(%q) = %v, want an error", want, p)
		} else if !strings.Contains(err.Error(), EnvDevice) {
			t.Errorf("error %q does not name %s", err, EnvDevice)
		}
	}
	if _, err := choosePhysical(devs[1:2], ""); err != nil {
		t.Errorf("integrated GPU alone: %v", err)
	}
	if _, err := choosePhysical(nil, ""); err == nil || !strings.Contains(err.Error(), "mesa-vulkan-drivers") {
		t.Errorf("no device: error %v should name the driver package", err)
	}
}

func TestSizeClass(t *testing.T) {
	prev := uint64(0)
	for n := uint64(1); n < 1<<24; n = n*9/8 + 1 {
		c := sizeClass(n)
		if c < n || c < prev || (n > minClass && float64(c) > 1.25*float64(n)+1) {
			t.Fatalf("sizeClass(%d) = %d", n, c)
		}
		prev = c
	}
}

// TestOpenErrors checks that failing to open says why.
func TestOpenErrors(t *testing.T) {
	testBackend(t) // skips without a device
	if _, err := OpenWith(Options{Device: "no such device"}); err == nil || !strings.Contains(err.Error(), "llvmpipe") && !strings.Contains(err.Error(), "#0") {
		t.Errorf("unknown device: %v (want the list of devices)", err)
	}
	t.Setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json")
	t.Setenv("VK_DRIVER_FILES", "/nonexistent/icd.json")
	if _, err := OpenWith(Options{}); err == nil || !strings.Contains(err.Error(), "mesa-vulkan-drivers") {
		t.Errorf("no driver: %v (want a hint naming mesa-vulkan-drivers)", err)
	} else {
		t.Log(err)
	}
}
