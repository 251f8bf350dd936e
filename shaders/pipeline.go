//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"embed"
	"encoding/binary"
	"fmt"

	vk "github.com/vulkan-go/vulkan"
)

// spirv holds the compiled shaders (make shaders; see glsl/build.list).
//
//go:embed spv/*.spv
var spirv embed.FS

// kernel is one SPIR-V compute shader: its buffer bindings (0 to
// bindings-1, all in set 0) and the size of its push constants in words.
// Bindings are storage buffers, except those whose bit is set in texels:
// uniform texel buffers (an R32G32B32A32_SFLOAT view of the whole buffer,
// see pool.view), which CPU implementations read with vector gathers.
type kernel struct {
	name     string
	bindings int
	push     int
	texels   uint32
}

// maxSpec is the most specialization constants a kernel takes (constant_id
// 0, 1, ... in order).
const maxSpec = 12

// pipeKey identifies a pipeline: a kernel specialized with constants, with
// a push-descriptor layout or not.
type pipeKey struct {
	k    *kernel
	push bool
	n    int
	spec [maxSpec]uint32
}

// pipeline is a compute pipeline with its layout.
type pipeline struct {
	h      handle // VkPipeline
	layout *layout
}

// layout is the pipeline layout shared by kernels with the same bindings
// and push-constant size. With pushDesc its set layout is a push-descriptor
// layout: set 0 is pushed at record time (vkCmdPushDescriptorSetKHR), and
// no set may be allocated from it (VUID-VkDescriptorSetAllocateInfo-pSetLayouts-00308).
type layout struct {
	bindings int
	texels   uint32 // bindings that are texel buffers
	pushDesc bool
	set      handle // VkDescriptorSetLayout
	h        handle // VkPipelineLayout
}

type layoutKey struct {
	bindings, push int
	texels         uint32
	pushDesc       bool
}

type setLayoutKey struct {
	bindings int
	texels   uint32
	pushDesc bool
}

// pipelines creates shader modules, layouts and pipelines once and keeps
// them until destroy.
type pipelines struct {
	dev     *device
	modules map[*kernel]vk.ShaderModule
	setLays map[setLayoutKey]handle
	layouts map[layoutKey]*layout
	pipes   map[pipeKey]*pipeline
	cache   vk.PipelineCache
}

func newPipelines(d *device) (*pipelines, error) {
	p := &pipelines{dev: d, modules: map[*kernel]vk.ShaderModule{}, setLays: map[setLayoutKey]handle{},
		layouts: map[layoutKey]*layout{}, pipes: map[pipeKey]*pipeline{}}
	info := &vk.PipelineCacheCreateInfo{SType: vk.StructureTypePipelineCacheCreateInfo}
	var c vk.PipelineCache
	r := vk.CreatePipelineCache(d.dev, info, nil, &c)
	info.Free()
	if err := check(r, "vkCreatePipelineCache"); err != nil {
		return nil, err
	}
	p.cache = c
	return p, nil
}

// loadSPIRV reads an embedded shader as words.
func loadSPIRV(name string) ([]uint32, error) {
	b, err := spirv.ReadFile("spv/" + name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shader %s is not embedded (run make shaders): %w", name, err)
	}
	if len(b)%4 != 0 || len(b) < 20 || binary.LittleEndian.Uint32(b) != 0x07230203 {
		return nil, fmt.Errorf("shader %s: not SPIR-V", name)
	}
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w, nil
}

func (p *pipelines) module(k *kernel) (vk.ShaderModule, error) {
	if m, ok := p.modules[k]; ok {
		return m, nil
	}
	code, err := loadSPIRV(k.name)
	if err != nil {
		return nil, err
	}
	info := &vk.ShaderModuleCreateInfo{
		SType:    vk.StructureTypeShaderModuleCreateInfo,
		CodeSize: uint(4 * len(code)), // in bytes
		PCode:    code,
	}
	var m vk.ShaderModule
	r := vk.CreateShaderModule(p.dev.dev, info, nil, &m)
	info.Free()
	if err := check(r, "vkCreateShaderModule "+k.name); err != nil {
		return nil, err
	}
	p.modules[k] = m
	return m, nil
}

func (p *pipelines) setLayout(key setLayoutKey) (handle, error) {
	if l, ok := p.setLays[key]; ok {
		return l, nil
	}
	l, err := p.dev.hot.createSetLayout(key.bindings, key.texels, key.pushDesc)
	if err != nil {
		return 0, fmt.Errorf("vkCreateDescriptorSetLayout: %w", err)
	}
	p.setLays[key] = l
	return l, nil
}

func (p *pipelines) layout(k *kernel, pushDesc bool) (*layout, error) {
	key := layoutKey{k.bindings, k.push, k.texels, pushDesc}
	if l, ok := p.layouts[key]; ok {
		return l, nil
	}
	if lim := p.dev.phys.limits.MaxPushConstantsSize; uint32(4*k.push) > lim {
		return nil, fmt.Errorf("kernel %s needs %d bytes of push constants, the device allows %d", k.name, 4*k.push, lim)
	}
	sl, err := p.setLayout(setLayoutKey{k.bindings, k.texels, pushDesc})
	if err != nil {
		return nil, err
	}
	pl, err := p.dev.hot.createPipelineLayout(sl, 4*k.push)
	if err != nil {
		return nil, fmt.Errorf("vkCreatePipelineLayout: %w", err)
	}
	l := &layout{bindings: k.bindings, texels: k.texels, pushDesc: pushDesc, set: sl, h: pl}
	p.layouts[key] = l
	return l, nil
}

// get returns the pipeline of k specialized with spec (constant_id 0, 1,
// ... in order), creating it on first use. With pushDesc its layout is a
// push-descriptor one (the device must have VK_KHR_push_descriptor).
func (p *pipelines) get(k *kernel, pushDesc bool, spec ...uint32) (*pipeline, error) {
	key := pipeKey{k: k, push: pushDesc, n: len(spec)}
	copy(key.spec[:], spec)
	if pp, ok := p.pipes[key]; ok {
		return pp, nil
	}
	m, err := p.module(k)
	if err != nil {
		return nil, err
	}
	l, err := p.layout(k, pushDesc)
	if err != nil {
		return nil, err
	}
	h, err := p.dev.hot.createComputePipeline(h64(p.cache), h64(m), l.h, spec)
	if err != nil {
		return nil, fmt.Errorf("vkCreateComputePipelines %s %v: %w", k.name, spec, err)
	}
	pp := &pipeline{h: h, layout: l}
	p.pipes[key] = pp
	return pp, nil
}

func (p *pipelines) destroy() {
	d := p.dev.dev
	for _, pp := range p.pipes {
		vk.DestroyPipeline(d, fromHandle[vk.Pipeline](pp.h), nil)
	}
	for _, l := range p.layouts {
		vk.DestroyPipelineLayout(d, fromHandle[vk.PipelineLayout](l.h), nil)
	}
	for _, l := range p.setLays {
		vk.DestroyDescriptorSetLayout(d, fromHandle[vk.DescriptorSetLayout](l), nil)
	}
	for _, m := range p.modules {
		vk.DestroyShaderModule(d, m, nil)
	}
	vk.DestroyPipelineCache(d, p.cache, nil)
	p.pipes, p.layouts, p.setLays, p.modules = nil, nil, nil, nil
}
