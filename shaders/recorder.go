//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"time"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Pipeline stages and access masks used by the recorder (VkPipelineStageFlagBits,
// VkAccessFlagBits).
const (
	stageCompute  = 0x800
	stageTransfer = 0x1000
	stageHost     = 0x4000

	accessShaderRead    = 0x20
	accessShaderWrite   = 0x40
	accessTransferRead  = 0x800
	accessTransferWrite = 0x1000
	accessHostRead      = 0x2000
)

// Batching: a batch is submitted when the host needs a result, at an
// explicit Sync, or once it holds this many commands, so that the GPU starts
// on long sequences while the host records the rest.
//
// The byte threshold bounds the memory in flight: the buffers that a batch
// writes cannot be recycled until it completes, and the host records far
// faster than the device executes, so without it a loop of large
// elementwise operations would run ahead by gigabytes. With the ring of
// three batches, at most about four batches' worth is pending.
const (
	defaultBatchCommands = 256
	defaultBatchBytes    = 64 << 20
	ringSize             = 3
	fenceTimeout         = 10 * time.Minute
)

// access is one buffer a command touches.
type access struct {
	s     *slot
	write bool
}

// batch is one command buffer with its fence.
type batch struct {
	cmd       vk.CommandBuffer
	cp        unsafe.Pointer
	fence     vk.Fence
	fh        handle
	seq       uint64
	submitted bool
	commands  int
	bytes     uint64 // bytes of the buffers its commands write
}

// recorder records commands into a ring of command buffers and submits
// them. Batch sequence numbers grow by one per batch; a slot remembers the
// last batch that used it, so the host knows what to wait for before
// reading or reusing it.
//
// Barriers: within the queue, a global memory barrier orders everything
// recorded before it against everything after (submission order spans
// command buffers, so this holds across batches too). The recorder counts
// barriers in epoch and stamps each slot with the epoch of its last read and
// last write; a command needs a barrier only when it reads a slot written in
// the current epoch (read after write) or writes a slot read or written in
// it (write after read/write). Independent dispatches thus run without
// barriers between them.
type recorder struct {
	dev        *device
	pool       vk.CommandPool
	ring       []*batch
	next       int
	cur        *batch
	seq        uint64 // last sequence number handed out
	completed  uint64 // every batch up to this one has finished
	epoch      uint64
	maxCmds    int
	maxBytes   uint64
	barriers   int // barriers recorded (for tests and statistics)
	dispatches int // compute dispatches recorded
	submits    int
	err        error
}

func newRecorder(d *device) (*recorder, error) {
	r := &recorder{dev: d, epoch: 1, maxCmds: defaultBatchCommands, maxBytes: defaultBatchBytes}
	info := &vk.CommandPoolCreateInfo{
		SType:            vk.StructureTypeCommandPoolCreateInfo,
		Flags:            vk.CommandPoolCreateFlags(vk.CommandPoolCreateResetCommandBufferBit),
		QueueFamilyIndex: uint32(d.phys.queue),
	}
	var pool vk.CommandPool
	res := vk.CreateCommandPool(d.dev, info, nil, &pool)
	info.Free()
	if err := check(res, "vkCreateCommandPool"); err != nil {
		return nil, err
	}
	r.pool = pool
	cmds := make([]vk.CommandBuffer, ringSize)
	ainfo := &vk.CommandBufferAllocateInfo{
		SType:              vk.StructureTypeCommandBufferAllocateInfo,
		CommandPool:        pool,
		Level:              vk.CommandBufferLevelPrimary,
		CommandBufferCount: ringSize,
	}
	res = vk.AllocateCommandBuffers(d.dev, ainfo, cmds)
	ainfo.Free()
	if err := check(res, "vkAllocateCommandBuffers"); err != nil {
		vk.DestroyCommandPool(d.dev, pool, nil)
		return nil, err
	}
	for _, c := range cmds {
		finfo := &vk.FenceCreateInfo{SType: vk.StructureTypeFenceCreateInfo}
		var f vk.Fence
		res := vk.CreateFence(d.dev, finfo, nil, &f)
		finfo.Free()
		if err := check(res, "vkCreateFence"); err != nil {
			r.destroy()
			return nil, err
		}
		r.ring = append(r.ring, &batch{cmd: c, cp: ptrOf(c), fence: f, fh: h64(f)})
	}
	return r, nil
}

// fail records the first asynchronous failure.
func (r *recorder) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// begin returns the batch being recorded, starting one if needed.
func (r *recorder) begin() *batch {
	if r.cur != nil {
		return r.cur
	}
	b := r.ring[r.next]
	if b.submitted {
		r.waitBatch(b)
	}
	if res := r.dev.hot.begin(b.cp); res != 0 {
		panic(fmt.Sprintf("vulkan: vkBeginCommandBuffer: %v", vkError(int32(res))))
	}
	r.seq++
	b.seq = r.seq
	b.commands, b.bytes = 0, 0
	r.cur = b
	return b
}

// prepare starts (or continues) a batch for a command with the given
// accesses, inserting a barrier if one of them conflicts with a command
// since the last barrier, and stamps the slots.
func (r *recorder) prepare(acc []access) *batch {
	b := r.begin()
	need := false
	for _, a := range acc {
		if a.s.wEpoch == r.epoch || (a.write && a.s.rEpoch == r.epoch) {
			need = true
			break
		}
	}
	if need {
		r.dev.hot.barrier(b.cp, stageCompute|stageTransfer, stageCompute|stageTransfer,
			accessShaderWrite|accessTransferWrite,
			accessShaderRead|accessShaderWrite|accessTransferRead|accessTransferWrite)
		r.epoch++
		r.barriers++
	}
	for _, a := range acc {
		a.s.lastUse = b.seq
		if a.write {
			a.s.wEpoch = r.epoch
			a.s.lastWrite = b.seq
			b.bytes += a.s.size
		} else {
			a.s.rEpoch = r.epoch
		}
	}
	b.commands++
	return b
}

// done submits the batch when it has grown past a threshold.
func (r *recorder) done(b *batch) {
	if b.commands >= r.maxCmds || b.bytes >= r.maxBytes {
		r.flush()
	}
}

func (r *recorder) dispatch(p *pipeline, set handle, push []uint32, gx, gy, gz uint32, acc []access) {
	b := r.prepare(acc)
	r.dev.hot.dispatch(b.cp, p.h, p.layout.h, set, push, gx, gy, gz)
	r.dispatches++
	r.done(b)
}

// dispatchPush records a dispatch of p (of a push-descriptor layout) with
// the n bindings that d.pushed prepared.
func (r *recorder) dispatchPush(p *pipeline, d *descriptors, n int, push []uint32, gx, gy, gz uint32, acc []access) {
	b := r.prepare(acc)
	r.dev.hot.dispatchPush(b.cp, p.h, p.layout.h, n, &d.bufs, &d.ranges, &d.views, p.layout.texels, push, gx, gy, gz)
	r.dispatches++
	r.done(b)
}

func (r *recorder) copy(src, dst *slot, srcOff, dstOff, size uint64) {
	b := r.prepare([]access{{src, false}, {dst, true}})
	r.dev.hot.copy(b.cp, src.h, dst.h, srcOff, dstOff, size)
	r.done(b)
}

func (r *recorder) fill(dst *slot, off, size uint64, bits uint32) {
	b := r.prepare([]access{{dst, true}})
	r.dev.hot.fill(b.cp, dst.h, off, size, bits)
	r.done(b)
}

// flush ends and submits the batch being recorded, if any.
func (r *recorder) flush() {
	b := r.cur
	if b == nil {
		return
	}
	r.cur = nil
	// Make the batch's writes visible to host reads after the fence wait.
	r.dev.hot.barrier(b.cp, stageCompute|stageTransfer, stageHost, accessShaderWrite|accessTransferWrite, accessHostRead)
	if res := r.dev.hot.end(b.cp); res != 0 {
		panic(fmt.Sprintf("vulkan: vkEndCommandBuffer: %v", vkError(int32(res))))
	}
	if res := r.dev.hot.submit(b.cp, b.fh); res != 0 {
		r.fail(fmt.Errorf("vkQueueSubmit: %w", vkError(int32(res))))
		r.retire(b)
		return
	}
	b.submitted = true
	r.submits++
	r.next = (r.next + 1) % len(r.ring)
}

// waitBatch waits for a submitted batch and retires it.
func (r *recorder) waitBatch(b *batch) {
	if res := r.dev.hot.wait(b.fh, uint64(fenceTimeout)); res != 0 {
		r.fail(fmt.Errorf("vkWaitForFences: %w", vkError(int32(res))))
	}
	if res := r.dev.hot.resetFence(b.fh); res != 0 {
		r.fail(fmt.Errorf("vkResetFences: %w", vkError(int32(res))))
	}
	b.submitted = false
	r.retire(b)
}

func (r *recorder) retire(b *batch) {
	if b.seq > r.completed {
		r.completed = b.seq
	}
}

// wait makes sure that batch seq (and every earlier one) has completed,
// submitting it first if it is still being recorded.
func (r *recorder) wait(seq uint64) {
	if seq <= r.completed {
		return
	}
	if r.cur != nil && r.cur.seq <= seq {
		r.flush()
	}
	// Batches complete in submission order, which is ring order from next.
	for i := range len(r.ring) {
		b := r.ring[(r.next+i)%len(r.ring)]
		if b.submitted && b.seq <= seq {
			r.waitBatch(b)
		}
	}
}

// sync submits everything and waits for it.
func (r *recorder) sync() {
	r.flush()
	r.wait(r.seq)
}

// poll retires the submitted batches that have finished, without waiting.
func (r *recorder) poll() {
	for i := range len(r.ring) {
		b := r.ring[(r.next+i)%len(r.ring)]
		if !b.submitted {
			continue
		}
		if r.dev.hot.fenceStatus(b.fh) != 0 { // VK_NOT_READY (or an error, which wait reports)
			return
		}
		r.waitBatch(b)
	}
}

func (r *recorder) destroy() {
	if r.cur != nil {
		r.flush()
	}
	for _, b := range r.ring {
		if b.submitted {
			r.waitBatch(b)
		}
		vk.DestroyFence(r.dev.dev, b.fence, nil)
	}
	if r.pool != nil {
		vk.DestroyCommandPool(r.dev.dev, r.pool, nil)
	}
	r.ring = nil
}
