//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"errors"
	"fmt"
	"math/bits"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// memKind says what a pooled buffer is for.
type memKind int

const (
	kindDevice   memKind = iota // tensor storage: device-local
	kindUpload                  // staging for host → device copies
	kindReadback                // staging for device → host copies
	numKinds
)

// Sizes of the pool. Buffers up to smallMax bytes are carved out of shared
// slabs of slabBytes; larger ones get their own allocation, which keeps the
// number of VkDeviceMemory objects low (the spec guarantees only 4096).
const (
	minClass  = 256
	smallMax  = 256 << 10
	slabBytes = 8 << 20
)

// sizeClass rounds n bytes up to its pool class: 256 bytes, then four
// classes per power of two (so at most 25% is wasted).
func sizeClass(n uint64) uint64 {
	if n <= minClass {
		return minClass
	}
	step := uint64(1) << (bits.Len64(n-1) - 3)
	return (n + step - 1) / step * step
}

// memType is the memory type chosen for one kind of buffer.
type memType struct {
	index     uint32
	mapped    bool   // host-visible and coherent: kept mapped
	typeBits  uint32 // memoryTypeBits of our buffers
	alignment uint64
}

// slab is one VkDeviceMemory, carved into buffers by a bump pointer.
type slab struct {
	mem  vk.DeviceMemory
	size uint64
	used uint64
	host unsafe.Pointer
}

// slot is one pooled VkBuffer bound to device memory. The recorder's
// fields are guarded by the backend mutex.
type slot struct {
	buf    vk.Buffer
	h      handle
	size   uint64 // usable bytes: the size class
	kind   memKind
	slab   *slab // shared slab, or a dedicated one for large buffers
	offset uint64
	host   unsafe.Pointer // mapped address, or nil
	view   vk.BufferView  // R32G32B32A32_SFLOAT view of the whole buffer (pool.view), or nil

	lastUse   uint64 // sequence number of the last batch that used it
	lastWrite uint64 // of the last batch that wrote it
	rEpoch    uint64 // barrier epoch of its last read
	wEpoch    uint64 // barrier epoch of its last write
}

// hostBytes is the mapped memory of the slot as a byte slice.
func (s *slot) hostBytes() []byte { return unsafe.Slice((*byte)(s.host), s.size) }

type classKey struct {
	kind memKind
	size uint64
}

// pool hands out buffers by size class and takes them back. It is not safe
// for concurrent use (the backend mutex guards it).
type pool struct {
	dev   *device
	types [numKinds]memType
	free  map[classKey][]*slot
	cur   [numKinds]*slab // slab being carved, per kind
	slabs []*slab
	slots []*slot // every slot, for destroy

	live     uint64 // bytes handed out and not yet returned
	reserved uint64 // bytes of device memory allocated

	// texels: buffers are created for use as uniform texel buffers too, and
	// view makes their views (of at most maxTexels elements of 16 bytes).
	texels    bool
	maxTexels uint64
}

var errOutOfMemory = errors.New("out of device memory")

const usageAll = vk.BufferUsageFlags(vk.BufferUsageStorageBufferBit | vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit)

// newPool makes the memory pool of d. On CPU implementations that support
// them, buffers can also be read as uniform texel buffers (the matmul of
// lavapipe does: its texel fetches are vector gathers, its storage-buffer
// loads a loop over the lanes).
func newPool(d *device, staged bool) (*pool, error) {
	p := &pool{dev: d, free: map[classKey][]*slot{}, texels: d.isCPU && d.texelViews,
		maxTexels: uint64(d.phys.limits.MaxTexelBufferElements)}
	// Buffers of one usage share memoryTypeBits and alignment whatever
	// their size (the spec guarantees it), so one probe tells both.
	probe, err := p.createBuffer(minClass)
	if err != nil {
		return nil, err
	}
	var req vk.MemoryRequirements
	vk.GetBufferMemoryRequirements(d.dev, probe, &req)
	req.Deref()
	vk.DestroyBuffer(d.dev, probe, nil)

	mem := &d.phys.mem
	const (
		local    = vk.MemoryPropertyFlags(vk.MemoryPropertyDeviceLocalBit)
		visible  = vk.MemoryPropertyFlags(vk.MemoryPropertyHostVisibleBit)
		coherent = vk.MemoryPropertyFlags(vk.MemoryPropertyHostCoherentBit)
		cached   = vk.MemoryPropertyFlags(vk.MemoryPropertyHostCachedBit)
	)
	find := func(want vk.MemoryPropertyFlags, best func(a, b int) bool) int {
		pick := -1
		for i := range int(mem.MemoryTypeCount) {
			if req.MemoryTypeBits&(1<<i) == 0 || mem.MemoryTypes[i].PropertyFlags&want != want {
				continue
			}
			if pick < 0 || (best != nil && best(i, pick)) {
				pick = i
			}
		}
		return pick
	}
	heapSize := func(i int) uint64 { return uint64(mem.MemoryHeaps[mem.MemoryTypes[i].HeapIndex].Size) }
	// Device memory: device-local in the largest heap, host-visible if that
	// comes for free (lavapipe, integrated GPUs, resizable BAR): then
	// uploads and downloads are plain copies.
	devIdx := find(local, func(a, b int) bool {
		if heapSize(a) != heapSize(b) {
			return heapSize(a) > heapSize(b)
		}
		fa, fb := mem.MemoryTypes[a].PropertyFlags, mem.MemoryTypes[b].PropertyFlags
		return fa&(visible|coherent) == visible|coherent && fb&(visible|coherent) != visible|coherent
	})
	if devIdx < 0 {
		devIdx = find(0, nil)
	}
	upIdx := find(visible|coherent, func(a, b int) bool {
		// Prefer memory that is not device-local for staging, keeping
		// small BAR heaps free.
		return mem.MemoryTypes[a].PropertyFlags&local == 0 && mem.MemoryTypes[b].PropertyFlags&local != 0
	})
	rbIdx := find(visible|coherent|cached, nil)
	if rbIdx < 0 {
		rbIdx = upIdx
	}
	if devIdx < 0 || upIdx < 0 {
		return nil, fmt.Errorf("%v has no usable memory type for storage buffers", d.phys)
	}
	mk := func(i int) memType {
		f := mem.MemoryTypes[i].PropertyFlags
		return memType{index: uint32(i), mapped: f&(visible|coherent) == visible|coherent,
			typeBits: req.MemoryTypeBits, alignment: max(uint64(req.Alignment), 16)}
	}
	p.types[kindDevice] = mk(devIdx)
	if staged {
		p.types[kindDevice].mapped = false // as on a discrete GPU (tests)
	}
	p.types[kindUpload] = mk(upIdx)
	p.types[kindReadback] = mk(rbIdx)
	return p, nil
}

// unified reports whether tensor memory is mapped, so that no staging is
// needed.
func (p *pool) unified() bool { return p.types[kindDevice].mapped }

func (p *pool) usage() vk.BufferUsageFlags {
	if p.texels {
		return usageAll | vk.BufferUsageFlags(vk.BufferUsageUniformTexelBufferBit)
	}
	return usageAll
}

// viewable reports whether s can be read through a texel view.
func (p *pool) viewable(s *slot) bool { return p.texels && s.size/16 <= p.maxTexels }

// view returns the R32G32B32A32_SFLOAT texel view of the whole of s,
// creating it on first use; it lives as long as the buffer. Texel i is
// floats 4i to 4i+3.
func (p *pool) view(s *slot) (handle, error) {
	if s.view != nil {
		return h64(s.view), nil
	}
	if !p.viewable(s) {
		return 0, fmt.Errorf("a buffer of %d bytes cannot be read as a texel buffer on %s", s.size, p.dev.phys.name())
	}
	info := &vk.BufferViewCreateInfo{
		SType:  vk.StructureTypeBufferViewCreateInfo,
		Buffer: s.buf,
		Format: vk.FormatR32g32b32a32Sfloat,
		Offset: 0,
		Range:  vk.DeviceSize(s.size),
	}
	var v vk.BufferView
	r := vk.CreateBufferView(p.dev.dev, info, nil, &v)
	info.Free()
	if err := check(r, "vkCreateBufferView"); err != nil {
		return 0, err
	}
	s.view = v
	return h64(v), nil
}

// destroyBuffer destroys the buffer of s and its view.
func (p *pool) destroyBuffer(s *slot) {
	if s.view != nil {
		vk.DestroyBufferView(p.dev.dev, s.view, nil)
		s.view = nil
	}
	vk.DestroyBuffer(p.dev.dev, s.buf, nil)
}

func (p *pool) createBuffer(size uint64) (vk.Buffer, error) {
	info := &vk.BufferCreateInfo{
		SType:       vk.StructureTypeBufferCreateInfo,
		Size:        vk.DeviceSize(size),
		Usage:       p.usage(),
		SharingMode: vk.SharingModeExclusive,
	}
	var buf vk.Buffer
	r := vk.CreateBuffer(p.dev.dev, info, nil, &buf)
	info.Free()
	return buf, check(r, "vkCreateBuffer")
}

func (p *pool) allocMemory(kind memKind, size uint64) (*slab, error) {
	t := p.types[kind]
	info := &vk.MemoryAllocateInfo{
		SType:           vk.StructureTypeMemoryAllocateInfo,
		AllocationSize:  vk.DeviceSize(size),
		MemoryTypeIndex: t.index,
	}
	var mem vk.DeviceMemory
	r := vk.AllocateMemory(p.dev.dev, info, nil, &mem)
	info.Free()
	if r == vk.ErrorOutOfDeviceMemory || r == vk.ErrorOutOfHostMemory {
		return nil, errOutOfMemory
	}
	if err := check(r, "vkAllocateMemory"); err != nil {
		return nil, err
	}
	s := &slab{mem: mem, size: size}
	if t.mapped {
		var ptr unsafe.Pointer
		if err := check(vk.MapMemory(p.dev.dev, mem, 0, vk.DeviceSize(size), 0, &ptr), "vkMapMemory"); err != nil {
			vk.FreeMemory(p.dev.dev, mem, nil)
			return nil, err
		}
		s.host = ptr
	}
	p.reserved += size
	return s, nil
}

func (p *pool) freeMemory(s *slab) {
	if s.host != nil {
		vk.UnmapMemory(p.dev.dev, s.mem)
	}
	vk.FreeMemory(p.dev.dev, s.mem, nil)
	p.reserved -= s.size
}

// get returns a buffer of at least n bytes (contents undefined). The
// caller guarantees that returned slots are no longer used by the GPU.
func (p *pool) get(kind memKind, n uint64) (*slot, error) {
	class := sizeClass(n)
	key := classKey{kind, class}
	if list := p.free[key]; len(list) > 0 {
		s := list[len(list)-1]
		p.free[key] = list[:len(list)-1]
		p.live += class
		return s, nil
	}
	buf, err := p.createBuffer(class)
	if err != nil {
		return nil, err
	}
	t := p.types[kind]
	var sl *slab
	var off uint64
	if class <= smallMax {
		stride := (class + t.alignment - 1) / t.alignment * t.alignment
		sl = p.cur[kind]
		if sl == nil || sl.used+stride > sl.size {
			if sl, err = p.allocMemory(kind, slabBytes); err != nil {
				vk.DestroyBuffer(p.dev.dev, buf, nil)
				return nil, err
			}
			p.cur[kind] = sl
			p.slabs = append(p.slabs, sl)
		}
		off = sl.used
		sl.used += stride
	} else {
		if sl, err = p.allocMemory(kind, class); err != nil {
			vk.DestroyBuffer(p.dev.dev, buf, nil)
			return nil, err
		}
	}
	if err := check(vk.BindBufferMemory(p.dev.dev, buf, sl.mem, vk.DeviceSize(off)), "vkBindBufferMemory"); err != nil {
		vk.DestroyBuffer(p.dev.dev, buf, nil)
		return nil, err
	}
	s := &slot{buf: buf, h: h64(buf), size: class, kind: kind, slab: sl, offset: off}
	if sl.host != nil {
		s.host = unsafe.Add(sl.host, off)
	}
	p.slots = append(p.slots, s)
	p.live += class
	return s, nil
}

// put returns a slot to its free list; the GPU must be done with it.
func (p *pool) put(s *slot) {
	key := classKey{s.kind, s.size}
	p.free[key] = append(p.free[key], s)
	p.live -= s.size
}

// trim destroys the free buffers that own their memory (the large ones),
// giving that memory back to the driver. The GPU must be idle, and no
// descriptor set may still point at them.
func (p *pool) trim() {
	keep := p.slots[:0]
	dead := map[*slot]bool{}
	for key, list := range p.free {
		if key.size <= smallMax {
			continue
		}
		for _, s := range list {
			p.destroyBuffer(s)
			p.freeMemory(s.slab)
			dead[s] = true
		}
		delete(p.free, key)
	}
	for _, s := range p.slots {
		if !dead[s] {
			keep = append(keep, s)
		}
	}
	clear(p.slots[len(keep):])
	p.slots = keep
}

// destroy frees every buffer and all memory. The GPU must be idle.
func (p *pool) destroy() {
	for _, s := range p.slots {
		p.destroyBuffer(s)
		if s.size > smallMax {
			p.freeMemory(s.slab)
		}
	}
	for _, sl := range p.slabs {
		p.freeMemory(sl)
	}
	p.slots, p.slabs, p.free = nil, nil, map[classKey][]*slot{}
	p.cur = [numKinds]*slab{}
}
