//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/difftune/difftune/tensor"
	"github.com/difftune/difftune/tensor/backendtest"
	vk "github.com/vulkan-go/vulkan"
)

// Float32Tol are the tolerances the Vulkan backend meets against the
// float64 references (relative, |got − want| ≤ tol·(1 + |want|)):
//   - elementwise: 2e-6, the CPU's own float32 tolerance — the kernels'
//     exp, log, tanh, sin, cos and pow are accurate to a few ulp (see
//     glsl/common.glsl); Philox normals match within 1e-5 (the suite's
//     fixed bound), uniforms bit for bit;
//   - reductions and softmax: 1e-5 (tree sums in float32);
//   - matrix products: 1e-5·√(k+1) (the suite scales MatMul by √(k+1)).
var Float32Tol = backendtest.Tolerances{Elementwise: 2e-6, Reduce: 1e-5, MatMul: 1e-5}

var (
	shared     *Backend
	sharedErr  error
	sharedOnce sync.Once
)

// testBackend returns a backend shared by the tests, with the validation
// layer on when it is installed (DIFFTUNE_VULKAN_VALIDATION=0 turns it
// off), synchronization validation included: it checks that the recorder's
// barriers cover every hazard. Without a usable device the test is skipped,
// except in CI (CI=true) where it fails.
func testBackend(t testing.TB) *Backend {
	t.Helper()
	sharedOnce.Do(func() {
		o := Options{Validation: os.Getenv("DIFFTUNE_VULKAN_VALIDATION") != "0" && validationInstalled()}
		if _, set := os.LookupEnv("VK_LAYER_ENABLES"); !set && o.Validation {
			os.Setenv("VK_LAYER_ENABLES", "VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT")
		}
		shared, sharedErr = OpenWith(o)
	})
	if sharedErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Vulkan device in CI: %v", sharedErr)
		}
		t.Skipf("no Vulkan device: %v", sharedErr)
	}
	t.Cleanup(func() { checkMessages(t, shared) })
	return shared
}

// validationInstalled reports whether the Khronos validation layer can be
// loaded (its manifest is where the loader looks for it).
func validationInstalled() bool {
	for _, dir := range []string{"/usr/share/vulkan/explicit_layer.d", "/usr/local/share/vulkan/explicit_layer.d", "/etc/vulkan/explicit_layer.d"} {
		if _, err := os.Stat(dir + "/VkLayer_khronos_validation.json"); err == nil {
			return true
		}
	}
	return false
}

// checkMessages fails t for every validation message collected.
func checkMessages(t testing.TB, b *Backend) {
	t.Helper()
	if err := b.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
	for _, m := range b.Messages() {
		t.Errorf("vulkan: %s", m)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.Close(); err != nil && code == 0 {
			os.Stderr.WriteString("vulkan: Close: " + err.Error() + "\n")
			code = 1
		}
		// Messages emitted while destroying (leaked objects, for one).
		if msgs := shared.closeMessages; len(msgs) > 0 {
			os.Stderr.WriteString("vulkan: " + strings.Join(msgs, "\nvulkan: ") + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// fusedKernels makes b run its fused convolution and attention kernels
// until the test ends, as on a GPU, on CPU devices too (where they are off
// by default: config.fused).
func fusedKernels(t *testing.T, b *Backend) {
	old := b.cfg.fused
	b.cfg.fused = true
	t.Cleanup(func() { b.cfg.fused = old })
}

// cachedSets makes b bind cached descriptor sets, the fallback of devices
// without VK_KHR_push_descriptor, until the test ends (on devices with it,
// b pushes its descriptors: descriptors.push).
func cachedSets(t *testing.T, b *Backend) {
	b.mu.Lock()
	old := b.sets.push
	b.sets.push = false
	b.mu.Unlock()
	t.Cleanup(func() {
		b.mu.Lock()
		b.sets.push = old
		b.mu.Unlock()
	})
}

// descriptorModes runs f as a subtest with pushed descriptors (skipped
// where the device lacks VK_KHR_push_descriptor) and one with cached sets.
func descriptorModes(t *testing.T, b *Backend, f func(t *testing.T, push bool)) {
	t.Run("push", func(t *testing.T) {
		if !b.dev.pushDescriptors {
			t.Skip("the device has no usable VK_KHR_push_descriptor")
		}
		f(t, true)
	})
	t.Run("cached", func(t *testing.T) {
		cachedSets(t, b)
		f(t, false)
	})
}

// TestBackendSuite runs the backend test suite (package backendtest) on the
// device in float32, with the fused kernels on.
func TestBackendSuite(t *testing.T) {
	b := testBackend(t)
	fusedKernels(t, b)
	t.Logf("device: %s (validation %v)", b.Device(), b.Validation())
	backendtest.Run(t, b, map[tensor.DType]backendtest.Tolerances{tensor.Float32: Float32Tol})
}

// openAnother opens a second backend with options o, under the validation
// layer when the shared one runs under it, and closes it when the test
// ends, failing on what the layer reported at close.
func openAnother(t *testing.T, o Options) *Backend {
	t.Helper()
	testBackend(t) // skips without a device
	o.Validation = shared.Validation() && shared.inst.messenger != 0
	b, err := OpenWith(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		for _, m := range b.closeMessages {
			t.Errorf("vulkan: %s", m)
		}
	})
	return b
}

// TestBackendSuiteWithoutPushDescriptors runs the suite on a device created
// without VK_KHR_push_descriptor, as on devices that lack it: every dispatch
// binds a cached descriptor set.
func TestBackendSuiteWithoutPushDescriptors(t *testing.T) {
	b := openAnother(t, Options{noPushDescriptors: true})
	if b.dev.pushDescriptors || b.sets.push {
		t.Fatal("push descriptors in use")
	}
	fusedKernels(t, b)
	backendtest.Run(t, b, map[tensor.DType]backendtest.Tolerances{tensor.Float32: Float32Tol})
	if b.sets.allocs == 0 {
		t.Error("no descriptor set was allocated")
	}
	checkMessages(t, b)
}

func TestFloat64Panics(t *testing.T) {
	b := testBackend(t)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "float32 only") {
			t.Fatalf("Alloc(Float64) = %v, want a panic naming float32", r)
		}
	}()
	b.Alloc(tensor.Float64, 4)
}

func TestRegistered(t *testing.T) {
	if !strings.Contains(strings.Join(tensor.Backends(), " "), "vulkan") {
		t.Fatalf("backends %v lack vulkan", tensor.Backends())
	}
	testBackend(t) // skips without a device
	be, err := tensor.Open("vulkan")
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.FromFloat32(be, []float32{1, 2}, 2)
	if got := tensor.SumAll(x).Item(); be.Name() != "vulkan" || got != 3 {
		t.Fatalf("tensor.Open(vulkan): %s, sum %v", be.Name(), got)
	}
}

// TestValidationReported makes an invalid call (a buffer of size 0) and
// checks that the validation layer's report reaches Messages, so that the
// clean runs above mean something.
func TestValidationReported(t *testing.T) {
	b := testBackend(t)
	if !b.Validation() {
		t.Skip("validation layer not active")
	}
	b.mu.Lock()
	buf, err := b.mem.createBuffer(0)
	if err == nil {
		vk.DestroyBuffer(b.dev.dev, buf, nil)
	}
	b.mu.Unlock()
	msgs := b.Messages()
	if len(msgs) == 0 {
		t.Fatal("vkCreateBuffer of size 0 was not reported")
	}
	t.Logf("reported: %.120s…", msgs[0])
}
