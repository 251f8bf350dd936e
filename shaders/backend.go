//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/difftune/difftune/tensor"
)

// Options configure Open.
type Options struct {
	// Device overrides $DIFFTUNE_VULKAN_DEVICE: a device index or a
	// substring of its name.
	Device string
	// Validation enables the Khronos validation layer (package
	// vulkan-validationlayers). The layer is also active when
	// VK_INSTANCE_LAYERS names it. Either way its warnings and errors are
	// collected; see Messages.
	Validation bool
	// BatchCommands is the number of commands after which a batch is
	// submitted without waiting (0: the default, 256).
	BatchCommands int
	// Surface, when set, is a window the backend presents frames to
	// (Present): the instance gets the window system's extensions, and
	// only a device with a queue that computes and presents to the window
	// is chosen.
	Surface SurfaceSource

	// staged keeps tensor memory unmapped even where it could be mapped,
	// so that tests exercise the staging copies of discrete GPUs.
	staged bool
	// noPushDescriptors creates the device without VK_KHR_push_descriptor,
	// so that tests exercise the cached descriptor sets of devices that
	// lack it.
	noPushDescriptors bool
}

// Backend runs tensor operations on a Vulkan device. It is safe for use by
// several goroutines; operations are recorded in the order they are called.
type Backend struct {
	mu    sync.Mutex
	inst  *instance
	dev   *device
	mem   *pool
	pipes *pipelines
	sets  *descriptors
	rec   *recorder
	cfg   config

	// Buffers whose tensors were garbage collected, pushed by cleanups
	// (which run on their own goroutine and so never touch Vulkan).
	freedMu sync.Mutex
	freed   []*slot
	closed  bool
	// Freed slots that a batch still in flight may use: they go back to
	// the pool once the batch of their lastUse has completed.
	deferred []*slot

	sinceGC uint64 // bytes allocated since the last forced collection

	closeMessages []string // reported while Close destroyed everything

	surface handle     // the window's VkSurfaceKHR (Options.Surface), or 0
	present *presenter // its swapchain, made by the first Present
}

// Open starts a Vulkan backend on the device chosen as described at
// EnvDevice. Each call creates its own instance and device; tensor.Open
// ("vulkan") shares one.
func Open() (*Backend, error) { return OpenWith(Options{}) }

// OpenWith is Open with options.
func OpenWith(o Options) (_ *Backend, err error) {
	b := &Backend{}
	defer func() {
		if err != nil {
			b.destroy()
		}
	}()
	var exts []string
	if o.Surface != nil {
		exts = o.Surface.InstanceExtensions()
	}
	if b.inst, err = newInstance(o.Validation, exts); err != nil {
		return nil, err
	}
	if o.Surface != nil {
		s, err := o.Surface.CreateSurface(ptrOf(b.inst.inst))
		if err != nil {
			return nil, fmt.Errorf("creating the window's Vulkan surface: %w", err)
		}
		b.surface = handle(s)
	}
	if b.dev, err = newDevice(b.inst, o.Device, o.noPushDescriptors, b.surface); err != nil {
		return nil, err
	}
	if b.mem, err = newPool(b.dev, o.staged); err != nil {
		return nil, err
	}
	if b.pipes, err = newPipelines(b.dev); err != nil {
		return nil, err
	}
	b.sets = newDescriptors(b.dev, b.mem)
	if b.rec, err = newRecorder(b.dev); err != nil {
		return nil, err
	}
	if o.BatchCommands > 0 {
		b.rec.maxCmds = o.BatchCommands
	}
	b.cfg = defaultConfig(b.dev)
	return b, nil
}

func init() {
	// Registration does not touch Vulkan: the open function does, on first use.
	tensor.Register("vulkan", func() (tensor.Backend, error) {
		b, err := Open()
		if err != nil {
			return nil, err
		}
		return b, nil
	})
}

// Name is "vulkan".
func (b *Backend) Name() string { return "vulkan" }

// Device describes the physical device in use.
func (b *Backend) Device() string { return b.dev.phys.String() }

// Validation reports whether the Khronos validation layer is active.
func (b *Backend) Validation() bool { return b.inst.validation }

// Messages returns (and forgets) the warnings and errors reported by the
// validation layer or the loader since the last call.
func (b *Backend) Messages() []string { return b.inst.messages() }

// Close waits for the device and frees everything the backend created.
// Tensors of the backend must not be used afterwards.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if b.rec != nil {
		b.rec.sync()
		err = b.rec.err
	}
	b.destroy()
	return err
}

func (b *Backend) destroy() {
	b.freedMu.Lock()
	b.closed = true
	b.freed = nil
	b.freedMu.Unlock()
	if b.present != nil {
		b.present.destroy()
		b.present = nil
	}
	if b.rec != nil {
		b.rec.destroy()
		b.rec = nil
	}
	if b.sets != nil {
		b.sets.destroy()
		b.sets = nil
	}
	if b.pipes != nil {
		b.pipes.destroy()
		b.pipes = nil
	}
	if b.mem != nil {
		b.mem.destroy()
		b.mem = nil
	}
	if b.dev != nil {
		b.dev.destroy()
		b.dev = nil
	}
	if b.surface != 0 {
		destroySurface(b.inst, b.surface)
		b.surface = 0
	}
	if b.inst != nil {
		b.inst.destroy()
		b.closeMessages = append(b.inst.messages(), b.inst.messagesAfterClose...)
		b.inst = nil
	}
}

// Buffer is the storage of Vulkan tensors: a pooled device buffer, given
// back to the pool when the Buffer is garbage collected or freed
// (tensor.Free) and the GPU is done with it.
type Buffer struct {
	b       *Backend
	s       *slot // nil once freed
	n       int
	cleanup runtime.Cleanup
}

// slot returns buf's device buffer; using a freed Buffer is a programmer
// error.
func (buf *Buffer) slot() *slot {
	if buf.s == nil {
		panic("vulkan: tensor used after tensor.Free")
	}
	return buf.s
}

// Backend returns the owning backend.
func (buf *Buffer) Backend() tensor.Backend { return buf.b }

// DType is always Float32.
func (buf *Buffer) DType() tensor.DType { return tensor.Float32 }

// Len is the number of elements.
func (buf *Buffer) Len() int { return buf.n }

func (b *Backend) checkOpen() {
	if b.rec == nil {
		panic("vulkan: backend used after Close")
	}
}

// Alloc returns a float32 buffer of n elements. Float64 is not supported on
// the GPU and panics.
func (b *Backend) Alloc(dt tensor.DType, n int) tensor.Buffer {
	if dt != tensor.Float32 {
		panic(fmt.Sprintf("vulkan: %v tensors are not supported on the GPU (float32 only); use the CPU backend for %v", dt, dt))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	s := b.allocSlot(kindDevice, uint64(n)*4)
	buf := &Buffer{b: b, s: s, n: n}
	buf.cleanup = runtime.AddCleanup(buf, b.free, s)
	return buf
}

var _ tensor.Freer = (*Backend)(nil)

// Free implements tensor.Freer: the buffer goes back to the pool as soon as
// the commands recorded so far are done with it, without waiting for the
// garbage collector.
func (b *Backend) Free(tb tensor.Buffer) {
	buf, ok := tb.(*Buffer)
	if !ok || buf.b != b {
		panic(fmt.Sprintf("vulkan: Free of a %T that does not live on this backend", tb))
	}
	s := buf.slot()
	buf.cleanup.Stop()
	buf.s = nil
	b.free(s)
}

// free is the cleanup of a Buffer: it runs on the cleanup goroutine, so it
// only queues the slot; the recording side recycles it (collect).
func (b *Backend) free(s *slot) {
	b.freedMu.Lock()
	if !b.closed {
		b.freed = append(b.freed, s)
	}
	b.freedMu.Unlock()
}

// collect recycles the slots of collected Buffers whose last batch has
// completed. Called with b.mu held.
func (b *Backend) collect() {
	b.freedMu.Lock()
	b.deferred = append(b.deferred, b.freed...)
	clear(b.freed)
	b.freed = b.freed[:0]
	b.freedMu.Unlock()
	if len(b.deferred) == 0 {
		return
	}
	b.rec.poll()
	keep := b.deferred[:0]
	for _, s := range b.deferred {
		if s.lastUse <= b.rec.completed {
			b.mem.put(s)
		} else {
			keep = append(keep, s)
		}
	}
	clear(b.deferred[len(keep):])
	b.deferred = keep
}

// gcEvery is the device memory allocated between forced garbage
// collections while the retained set is smaller. Go's collector does not
// see device memory (a tensor is a small Go object), so without this a loop
// could fill the GPU before the Go heap grows enough to trigger a cycle.
// Like GOGC=100, the next collection comes once as much has been allocated
// as was retained by the last one (live − sinceGC estimates that: what is
// live and was allocated before it).
const gcEvery = 256 << 20

// allocSlot takes a slot from the pool, collecting garbage and waiting for
// the device when memory runs out. Called with b.mu held.
func (b *Backend) allocSlot(kind memKind, bytes uint64) *slot {
	if lim := uint64(b.dev.phys.limits.MaxStorageBufferRange); kind == kindDevice && bytes > lim {
		panic(fmt.Sprintf("vulkan: a buffer of %d bytes exceeds the device's maxStorageBufferRange (%d bytes on %s)", bytes, lim, b.dev.phys.name()))
	}
	b.collect()
	if kind == kindDevice {
		b.sinceGC += sizeClass(bytes)
		if b.sinceGC > max(gcEvery, b.mem.live-min(b.mem.live, b.sinceGC)) {
			b.sinceGC = 0
			b.forceGC()
		}
	}
	s, err := b.mem.get(kind, bytes)
	for try := 0; err == errOutOfMemory && try < 3; try++ {
		// Wait for the GPU, collect every dead tensor, give large free
		// buffers back to the driver (no descriptor set may point at them
		// then), and try again.
		b.rec.sync()
		b.forceGC()
		time.Sleep(time.Duration(try) * 10 * time.Millisecond)
		b.collect()
		b.sets.reset()
		b.mem.trim()
		s, err = b.mem.get(kind, bytes)
	}
	if err != nil {
		panic(fmt.Sprintf("vulkan: allocating %d bytes on %s (%d bytes live, %d reserved): %v", bytes, b.dev.phys.name(), b.mem.live, b.mem.reserved, err))
	}
	s.lastUse, s.lastWrite = 0, 0
	return s
}

// forceGC runs a collection so that the cleanups of dead tensors queue
// their buffers (they arrive asynchronously; collect picks up what has).
func (b *Backend) forceGC() {
	runtime.GC()
	runtime.Gosched()
	b.collect()
}

// retire gives s back to the pool once the commands recorded so far that
// use it have completed: for temporaries (staging, index tables).
func (b *Backend) retire(s *slot) { b.deferred = append(b.deferred, s) }

func (b *Backend) slotOf(t *tensor.Tensor) *slot {
	buf, ok := t.Buffer().(*Buffer)
	if !ok || buf.b != b {
		panic(fmt.Sprintf("vulkan: tensor %v does not live on this backend", t))
	}
	return buf.slot()
}

// Upload copies src ([]float32) to the start of dst.
func (b *Backend) Upload(dst tensor.Buffer, src any) {
	data, ok := src.([]float32)
	if !ok {
		panic(fmt.Sprintf("vulkan: Upload of %T (float32 only)", src))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	s := dst.(*Buffer).slot()
	b.upload(s, 0, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), 4*len(data)))
}

// upload writes bytes at byte offset off of s, in order with the recorded
// commands.
func (b *Backend) upload(s *slot, off uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	if s.host != nil {
		// Mapped memory: the GPU must be done with every command that uses
		// s, including those recorded and not yet submitted.
		if s.lastUse > b.rec.completed {
			b.rec.wait(s.lastUse)
		}
		copy(s.hostBytes()[off:], data)
		return
	}
	st := b.allocSlot(kindUpload, uint64(len(data)))
	copy(st.hostBytes(), data)
	b.rec.copy(st, s, 0, off, uint64(len(data)))
	b.retire(st)
}

// Download copies len(dst) elements starting at offset into dst
// ([]float32), waiting for the commands that write them.
func (b *Backend) Download(src tensor.Buffer, offset int, dst any) {
	data, ok := dst.([]float32)
	if !ok {
		panic(fmt.Sprintf("vulkan: Download into %T (float32 only)", dst))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	s := src.(*Buffer).slot()
	out := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), 4*len(data))
	b.download(s, uint64(offset)*4, out)
}

func (b *Backend) download(s *slot, off uint64, out []byte) {
	if len(out) == 0 {
		return
	}
	if s.host != nil {
		if s.lastWrite > b.rec.completed {
			b.rec.wait(s.lastWrite)
		}
		b.mustNotHaveFailed()
		copy(out, s.hostBytes()[off:])
		return
	}
	st := b.allocSlot(kindReadback, uint64(len(out)))
	b.rec.copy(s, st, off, 0, uint64(len(out)))
	b.rec.wait(st.lastUse)
	b.mustNotHaveFailed()
	copy(out, st.hostBytes())
	b.mem.put(st)
}

func (b *Backend) mustNotHaveFailed() {
	if b.rec.err != nil {
		panic(fmt.Sprintf("vulkan: device failure on %s: %v", b.dev.phys.name(), b.rec.err))
	}
}

// Submits is the number of command buffers submitted so far: the measure of
// how well dispatches are batched.
func (b *Backend) Submits() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rec.submits
}

// Dispatches is the number of compute dispatches recorded so far (copies
// and fills not included): the measure of how well operations are fused.
func (b *Backend) Dispatches() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rec.dispatches
}

// Sync submits every recorded command, waits for the device and reports an
// asynchronous failure.
func (b *Backend) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	b.rec.sync()
	b.collect()
	return b.rec.err
}

// Fill sets the contiguous dst to v (a transfer command).
func (b *Backend) Fill(dst *tensor.Tensor, v float64) {
	if dst.Len() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	s := b.slotOf(dst)
	b.rec.fill(s, uint64(dst.Offset())*4, uint64(dst.Len())*4, math.Float32bits(float32(v)))
}
