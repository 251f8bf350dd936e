//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"

	vk "github.com/vulkan-go/vulkan"
)

// maxBindings is the most storage buffers a kernel binds (attention_grad:
// dq, dk, dv and six inputs).
const maxBindings = 9

// Descriptors reach the kernels in one of two ways.
//
// Where the device has VK_KHR_push_descriptor (device.pushDescriptors),
// each dispatch pushes its bindings into the command buffer
// (vkCmdPushDescriptorSetKHR): no set is allocated, written or cached, and
// the buffers may come back from the pool in any combination at no cost.
//
// Otherwise (the fallback), descriptor sets are cached by the buffers they
// point at: a set is written once and then only read, so it may be bound by
// any number of recorded command buffers. Pooled buffers are reused rather
// than destroyed, but fresh tensors get them back in varying combinations,
// so in a training loop most dispatches still make a new set (about 25 of
// 28 in TestNoGrowth's loop). The cache is emptied (and its pools reset)
// only when the GPU is idle.
const (
	setsPerPool = 512
	maxSets     = 16384 // past this, the cache is flushed at the next idle point
)

type setKey struct {
	n      int
	texels uint32 // the layout's texel bindings: the same buffers make another set
	buf    [maxBindings]handle
}

type descriptors struct {
	dev *device
	mem *pool // for the texel views of buffers
	// push: dispatches push their descriptors (possible only where
	// dev.pushDescriptors; tests turn it off to run the fallback).
	push bool
	// The fallback's cache.
	pools  []handle
	inCur  int // sets allocated from the last pool
	sets   map[setKey]handle
	allocs int // sets allocated in all (for tests and statistics)
	// range of every binding: the whole buffer, clamped to the device's
	// maxStorageBufferRange
	maxRange uint64
	// The bindings of the dispatch being pushed (see pushed): kept here so
	// that handing them to C allocates nothing.
	bufs, views [maxBindings]handle
	ranges      [maxBindings]uint64
}

func newDescriptors(d *device, mem *pool) *descriptors {
	return &descriptors{dev: d, mem: mem, push: d.pushDescriptors, sets: map[setKey]handle{},
		maxRange: uint64(d.phys.limits.MaxStorageBufferRange)}
}

func (c *descriptors) full() bool { return len(c.sets) >= maxSets }

func (c *descriptors) newPool() error {
	texels := 0
	if c.mem.texels {
		texels = setsPerPool * maxBindings
	}
	p, err := c.dev.hot.createDescriptorPool(setsPerPool, setsPerPool*maxBindings, texels)
	if err != nil {
		return fmt.Errorf("vkCreateDescriptorPool: %w", err)
	}
	c.pools = append(c.pools, p)
	c.inCur = 0
	return nil
}

// get returns a set of layout l whose binding i is slots[i] (its texel
// view for the texel bindings of l).
func (c *descriptors) get(l *layout, slots []*slot) (handle, error) {
	key := setKey{n: len(slots), texels: l.texels}
	for i, s := range slots {
		key.buf[i] = s.h
	}
	if s, ok := c.sets[key]; ok {
		return s, nil
	}
	var bufs, views [maxBindings]handle
	var offs, ranges [maxBindings]uint64
	for i, s := range slots {
		bufs[i], ranges[i] = s.h, min(s.size, c.maxRange)
		if l.texels>>i&1 != 0 {
			var err error
			if views[i], err = c.mem.view(s); err != nil {
				return 0, err
			}
		}
	}
	if len(c.pools) == 0 || c.inCur == setsPerPool {
		if err := c.newPool(); err != nil {
			return 0, err
		}
	}
	h, err := c.dev.hot.allocateSet(c.pools[len(c.pools)-1], l.set)
	if err != nil {
		return 0, fmt.Errorf("vkAllocateDescriptorSets: %w", err)
	}
	c.inCur++
	c.allocs++
	c.dev.hot.writeSet(h, bufs[:len(slots)], offs[:len(slots)], ranges[:len(slots)], views[:len(slots)], l.texels)
	c.sets[key] = h
	return h, nil
}

// pushed fills c.bufs, c.ranges and c.views with the bindings of a
// dispatch of layout l (a push-descriptor layout) on slots, for
// hot.dispatchPush. Only the buffers and views must outlive the recording,
// until the command buffer completes: pooled buffers do (a slot is reused
// only after its lastUse batch), and views are destroyed with their buffer.
func (c *descriptors) pushed(l *layout, slots []*slot) error {
	for i, s := range slots {
		c.bufs[i], c.ranges[i], c.views[i] = s.h, min(s.size, c.maxRange), 0
		if l.texels>>i&1 != 0 {
			var err error
			if c.views[i], err = c.mem.view(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// reset frees every set. The GPU must be idle.
func (c *descriptors) reset() {
	for _, p := range c.pools {
		vk.DestroyDescriptorPool(c.dev.dev, fromHandle[vk.DescriptorPool](p), nil)
	}
	c.pools, c.inCur = nil, 0
	clear(c.sets)
}

func (c *descriptors) destroy() { c.reset() }
