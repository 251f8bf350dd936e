//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"

	vk "github.com/vulkan-go/vulkan"
)

// vkError turns a VkResult into an error naming it (nil for VK_SUCCESS).
func vkError(r int32) error {
	if r == 0 {
		return nil
	}
	if err := vk.Error(vk.Result(r)); err != nil {
		return err
	}
	return fmt.Errorf("VkResult %d", r)
}

// check wraps a failed call's VkResult with the call's name.
func check(r vk.Result, call string) error {
	if r == vk.Success {
		return nil
	}
	return fmt.Errorf("%s: %w", call, vkError(int32(r)))
}
