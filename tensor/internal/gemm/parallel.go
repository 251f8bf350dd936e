package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/difftune/difftune/tensor/internal/workers"
)

// Products below this much work (flops, plus storeCost per element of C)
// run on the calling goroutine.
const (
	minParallelWork = 1 << 21
	storeCost       = 64
)

// call is one product shared by the goroutines that compute it.
//
// The work is cut into tasks along the rows or the columns of C, and every
// participant (the caller and the workers it woke) claims tasks until none is
// left, so a worker that wakes late only takes less of the work. When k fits
// in one chunk, the operand that all the tasks share (B for row tasks, A for
// column tasks) is packed once, first, by all the participants, and a task is
// a range of micro-panels; otherwise a task is a range of C computed by
// blocked, with its own packing.
type call struct {
	p        problem
	im       *impl
	byRows   bool // tasks are ranges of rows of C, not of columns
	oneChunk bool // k fits in one chunk: the shared operand is in o

	o         operands  // shared operands (oneChunk)
	shared    []float32 // their packed panels
	packTasks int       // tasks of packing the shared operand (oneChunk)
	packSpan  int       // micro-panels per packing task
	tasks     int
	span      int // micro-panels per task

	packNext, packDone, next, done atomic.Int64
	refs                           atomic.Int32 // participants yet to leave
}

var callPool = sync.Pool{New: func() any { return new(call) }}

// Work is the part of a worker of package workers: participate.
func (c *call) Work() { c.participate(false) }

// parallel computes the product on up to Threads() goroutines.
func (p *problem) parallel(im *impl) {
	mr, nr := im.mr, im.nr
	rowTiles := (p.m + mr - 1) / mr
	colTiles := (p.n + nr - 1) / nr
	t := Threads()
	if p.serial || float64(p.m)*float64(p.n)*float64(2*p.k+storeCost) < minParallelWork {
		t = 1
	}
	byRows := rowTiles*mr >= colTiles*nr
	tiles := colTiles
	if byRows {
		tiles = rowTiles
	}
	if t = min(t, tiles); t <= 1 {
		ws := getWorkspace()
		p.blocked(im, ws, 0, p.m, 0, p.n)
		putWorkspace(ws)
		return
	}

	c := callPool.Get().(*call)
	c.p, c.im, c.byRows = *p, im, byRows
	c.oneChunk = p.k <= im.kc && (!byRows || p.n <= im.nc)
	c.packTasks, c.packSpan = 0, 0
	c.tasks = t
	if c.oneChunk {
		c.tasks = min(tiles, 4*t)
		c.prepare()
	}
	c.span = (tiles + c.tasks - 1) / c.tasks
	c.tasks = (tiles + c.span - 1) / c.span
	c.packNext.Store(0)
	c.packDone.Store(0)
	c.next.Store(0)
	c.done.Store(0)

	// One reference per worker it may reach, handed back for those it
	// did not (the queue was full); the caller's keeps c alive meanwhile.
	c.refs.Store(int32(t))
	c.refs.Add(int32(workers.Offer(c, t-1) - (t - 1)))
	c.participate(true)
}

// prepare sets up the shared operand of a one-chunk call: packs the edge
// panel of one used in place, or plans the packing of the other.
func (c *call) prepare() {
	p, im := &c.p, c.im
	c.o = p.newOperands(p.k, 0, p.k)
	mr, nr, kc := im.mr, im.nr, p.k
	if c.byRows {
		size := ((p.n+nr-1)/nr*nr+nr)*kc + 2*pad
		buf := grow(&c.shared, size)
		if c.o.bDirect {
			c.o.packB(p, im, buf, 0, p.n) // just the edge
			return
		}
		c.o.bPacked, c.o.bFrom = buf, 0
		panels := (p.n + nr - 1) / nr
		c.packSpan = max(1, panels/8)
		c.packTasks = (panels + c.packSpan - 1) / c.packSpan
		return
	}
	size := ((p.m+mr-1)/mr*mr+mr)*kc + 2*pad
	buf := grow(&c.shared, size)
	if c.o.aDirect {
		c.o.packA(p, im, buf, 0, p.m) // just the edge
		return
	}
	c.o.aPacked, c.o.aFrom = buf, 0
	panels := (p.m + mr - 1) / mr
	c.packSpan = max(1, panels/8)
	c.packTasks = (panels + c.packSpan - 1) / c.packSpan
}

// participate claims and runs tasks of c until none is left, then leaves c.
// The caller also waits until the tasks that others claimed are done.
func (c *call) participate(caller bool) {
	p, im := &c.p, c.im
	mr, nr := im.mr, im.nr
	ws := getWorkspace()
	t := grow(&ws.t, 2*mr*nr)
	// Pack the shared operand.
	for {
		i := int(c.packNext.Add(1) - 1)
		if i >= c.packTasks {
			break
		}
		if c.byRows {
			j0 := i * c.packSpan * nr
			j1 := min(j0+c.packSpan*nr, p.n)
			p.packB(c.o.bPacked[j0*p.k:], nr, 0, p.k, j0, j1-j0)
		} else {
			i0 := i * c.packSpan * mr
			i1 := min(i0+c.packSpan*mr, p.m)
			p.packA(c.o.aPacked[i0*p.k:], mr, i0, i1-i0, 0, p.k)
		}
		c.packDone.Add(1)
	}
	for int(c.packDone.Load()) < c.packTasks {
		runtime.Gosched()
	}
	// Compute.
	for {
		i := int(c.next.Add(1) - 1)
		if i >= c.tasks {
			break
		}
		if c.byRows {
			i0, i1 := i*c.span*mr, min((i+1)*c.span*mr, p.m)
			if !c.oneChunk {
				p.blocked(im, ws, i0, i1, 0, p.n)
			} else {
				o := c.o
				o.packA(p, im, grow(&ws.a, (i1-i0+mr)*p.k+2*pad), i0, i1)
				p.tiles(im, &o, t, i0, i1, 0, p.n, true, true)
			}
		} else {
			j0, j1 := i*c.span*nr, min((i+1)*c.span*nr, p.n)
			if !c.oneChunk {
				p.blocked(im, ws, 0, p.m, j0, j1)
			} else {
				o := c.o
				o.packB(p, im, grow(&ws.b, (j1-j0+nr)*p.k+2*pad), j0, j1)
				p.tiles(im, &o, t, 0, p.m, j0, j1, true, true)
			}
		}
		c.done.Add(1)
	}
	putWorkspace(ws)
	if caller {
		for int(c.done.Load()) < c.tasks {
			runtime.Gosched()
		}
	}
	// Whoever leaves last puts the call back in the pool.
	if c.refs.Add(-1) == 0 {
		c.p, c.o = problem{}, operands{}
		callPool.Put(c)
	}
}
