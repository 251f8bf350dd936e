package viewer

import (
	"encoding/binary"
	"fmt"
	"image"

	"github.com/difftune/difftune/shaders"
	"github.com/difftune/difftune/tensor"
)

// Render draws d: with the Vulkan kernels when b is a Vulkan backend, with
// the plain-Go reference otherwise (b may be nil). Both give the same image.
func Render(b tensor.Backend, d *DrawList) *image.RGBA {
	if vb, ok := b.(*shaders.Backend); ok && vb != nil {
		return RenderVulkan(vb, d)
	}
	return RenderCPU(d)
}

// RenderCPU draws d with the plain-Go reference of the kernels.
func RenderCPU(d *DrawList) *image.RGBA {
	v := d.View()
	if err := v.Validate(); err != nil {
		panic(fmt.Sprintf("viewer: %v", err)) // DrawList builds only valid views
	}
	px := make([]uint32, v.Width*v.Height)
	renderCPU(&v, px)
	return toImage(v.Width, v.Height, px)
}

// RenderVulkan draws d with the kernels on b.
func RenderVulkan(b *shaders.Backend, d *DrawList) *image.RGBA {
	v := d.View()
	px := make([]uint32, v.Width*v.Height)
	b.RenderView(v, px)
	return toImage(v.Width, v.Height, px)
}

// toImage lays RGBA8 words (R in the low byte) out as an image.
func toImage(w, h int, px []uint32) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, p := range px {
		binary.LittleEndian.PutUint32(img.Pix[4*i:], p)
	}
	return img
}
