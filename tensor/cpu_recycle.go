package tensor

import (
	"math"
	"sync"
)

// The CPU backend recycles the storage of large tensors. A training step
// allocates the same few shapes over and over (a 512×256 activation, its
// derivative, its gradient: megabytes per Euler–Maruyama step), and a fresh
// large Go allocation is zeroed, often on pages the OS must fault in first:
// about a tenth of a gmm2d iteration went there. So a buffer of at least
// recycleMinBytes carries a cleanup that, once the garbage collector finds
// the buffer unreachable, puts its slice in a free list by exact length,
// and Alloc takes from that list first. Alloc's contents are undefined
// (Backend.Alloc), so a recycled slice is handed out as it is.
//
// Nothing else may keep a buffer's slice: host() results live only inside
// an operation, and HostFloat32 callers must hold the tensor while they use
// the slice.

// recycleMinBytes is the smallest buffer that is recycled: below, Go's
// allocator is as fast as a free list.
const recycleMinBytes = 64 << 10

// recycleMaxBytes bounds the memory held in the free lists; buffers that
// would exceed it are left to the garbage collector.
const recycleMaxBytes = 1 << 30

// freeLists holds recycled slices of one element type by length.
type freeLists[T number] struct {
	mu    sync.Mutex
	byLen map[int][][]T
	bytes int
}

var (
	free32 = &freeLists[float32]{byLen: map[int][][]T32{}}
	free64 = &freeLists[float64]{byLen: map[int][][]T64{}}
)

// T32 and T64 shorten the free lists' declarations.
type (
	T32 = float32
	T64 = float64
)

// get returns a recycled slice of length n, or nil.
func (f *freeLists[T]) get(n int) []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.byLen[n]
	if len(l) == 0 {
		return nil
	}
	s := l[len(l)-1]
	l[len(l)-1] = nil
	f.byLen[n] = l[:len(l)-1]
	f.bytes -= n * elemSize[T]()
	return s
}

// put adds s to the free list of its length, unless the lists are full.
func (f *freeLists[T]) put(s []T) {
	size := len(s) * elemSize[T]()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bytes+size > recycleMaxBytes {
		return
	}
	f.byLen[len(s)] = append(f.byLen[len(s)], s)
	f.bytes += size
}

func elemSize[T number]() int {
	var z T
	if _, ok := any(z).(float32); ok {
		return 4
	}
	return 8
}

// poisonAllocs, set by the package's tests, fills every new buffer with NaN,
// so that an operation that reads its output before writing it shows.
var poisonAllocs bool

// newCPUBuffer returns a buffer of n elements, a freed one of that length
// when there is one.
func newCPUBuffer[T number](owner *cpuBackend, f *freeLists[T], n int) *cpuBuffer[T] {
	data := f.get(n)
	if data == nil {
		data = make([]T, n)
	}
	if poisonAllocs {
		fill(data, T(math.NaN()))
	}
	return &cpuBuffer[T]{owner: owner, data: data}
}

// Free implements Freer: a buffer of at least recycleMinBytes goes to the
// free list of its length. Its slice is cut to nil, so that a later use of
// the tensor or of a view panics instead of reading reused memory.
func (c *cpuBackend) Free(b Buffer) {
	switch b := b.(type) {
	case *cpuBuffer[float32]:
		freeCPU(free32, b)
	case *cpuBuffer[float64]:
		freeCPU(free64, b)
	}
}

func freeCPU[T number](f *freeLists[T], b *cpuBuffer[T]) {
	if len(b.data)*elemSize[T]() >= recycleMinBytes {
		f.put(b.data)
	}
	b.data = nil
}

// Freer is implemented by backends that reuse the storage of tensors freed
// explicitly.
type Freer interface {
	Free(Buffer)
}

// Free gives t's storage back to its backend for reuse, where the backend
// recycles storage (Freer); elsewhere it does nothing and the garbage
// collector reclaims it. t and every view of its storage must not be used
// afterwards. Operations free the temporaries they alone hold, such as the
// saved activation derivative of a dense layer once its backward pass ran.
func Free(t *Tensor) {
	if f, ok := t.Backend().(Freer); ok {
		f.Free(t.buf)
	}
}
