//go:build !(cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64))

package shaders

// RenderView panics: this build has no Vulkan backend (Open never returns
// one).
func (b *Backend) RenderView(View, []uint32) { panic(errUnsupported) }

// Present panics: this build has no Vulkan backend (Open never returns
// one).
func (b *Backend) Present([]uint32, int, int, uint32) (bool, error) { panic(errUnsupported) }
