//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"

	vk "github.com/vulkan-go/vulkan"
)

// maxBindings is the most storage buffers a kernel binds.
const maxBindings = 6

// Descriptor sets are cached by the buffers they point at: a set is written
// once and then only read, so it may be bound by any number of recorded
// command buffers. Pooled buffers are reused rather than destroyed, so in a
// training loop the same few sets come back every step. The cache is
// emptied (and its pools reset) only when the GPU is idle.
const (
	setsPerPool = 512
	maxSets     = 16384 // past this, the cache is flushed at the next idle point
)

type setKey struct {
	n   int
	buf [maxBindings]handle
}

type descriptors struct {
	dev   *device
	pools []handle
	inCur int // sets allocated from the last pool
	sets  map[setKey]handle
	// range of every binding: the whole buffer, clamped to the device's
	// maxStorageBufferRange
	maxRange uint64
}

func newDescriptors(d *device) *descriptors {
	return &descriptors{dev: d, sets: map[setKey]handle{}, maxRange: uint64(d.phys.limits.MaxStorageBufferRange)}
}

func (c *descriptors) full() bool { return len(c.sets) >= maxSets }

func (c *descriptors) newPool() error {
	p, err := c.dev.hot.createDescriptorPool(setsPerPool, setsPerPool*maxBindings)
	if err != nil {
		return fmt.Errorf("vkCreateDescriptorPool: %w", err)
	}
	c.pools = append(c.pools, p)
	c.inCur = 0
	return nil
}

// get returns a set of layout l whose binding i is slots[i].
func (c *descriptors) get(l *layout, slots []*slot) (handle, error) {
	key := setKey{n: len(slots)}
	for i, s := range slots {
		key.buf[i] = s.h
	}
	if s, ok := c.sets[key]; ok {
		return s, nil
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
	var bufs [maxBindings]handle
	var offs, ranges [maxBindings]uint64
	for i, s := range slots {
		bufs[i], ranges[i] = s.h, min(s.size, c.maxRange)
	}
	c.dev.hot.writeSet(h, bufs[:len(slots)], offs[:len(slots)], ranges[:len(slots)])
	c.sets[key] = h
	return h, nil
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
