package tensor

import (
	"math"
	"sync"
)

// The CPU backend recycles the storage of large tensors freed explicitly
// (Free). A training step allocates the same few shapes over and over (a
// 512×256 activation, its derivative, its gradient: megabytes per
// Euler–Maruyama step), and a fresh large Go allocation is zeroed, often on
// pages the OS must fault in first: about a tenth of a gmm2d iteration went
// there. So a freed buffer of at least recycleMinBytes goes to a free list
// by exact length, and Alloc takes from that list first. Alloc's contents
// are undefined (Backend.Alloc), so a recycled slice is handed out as it is.
// (Returning buffers when the garbage collector finds them dead was
// measured too: the free lists then count as live heap, the heap grew to
// 4 GB and page faults took over.)
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
	free32 = &freeLists[float32]{byLen: map[int][][]float32{}}
	free64 = &freeLists[float64]{byLen: map[int][][]float64{}}
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
	f.bytes -= n * dtypeOf[T]().Size()
	return s
}

// put adds s to the free list of its length, unless the lists are full.
func (f *freeLists[T]) put(s []T) {
	size := len(s) * dtypeOf[T]().Size()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bytes+size > recycleMaxBytes {
		return
	}
	f.byLen[len(s)] = append(f.byLen[len(s)], s)
	f.bytes += size
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

// Free implements Freer (free.go): a buffer of at least recycleMinBytes goes to the
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
	if len(b.data)*dtypeOf[T]().Size() >= recycleMinBytes {
		f.put(b.data)
	}
	b.data = nil
}
