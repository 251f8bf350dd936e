//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/tensor"
)

// The elementwise family (glsl/elementwise.comp). Push constants: n, rank,
// p, plo, dOff, shape[6], off[nops], stride[6·nops] (where: 128 bytes, the
// least maxPushConstantsSize Vulkan guarantees).
var (
	kCopy   = &kernel{name: "copy", bindings: 2, push: 11 + 7*2}
	kUnary  = &kernel{name: "unary", bindings: 2, push: 11 + 7*1}
	kBinary = &kernel{name: "binary", bindings: 3, push: 11 + 7*2}
	kWhere  = &kernel{name: "where", bindings: 4, push: 11 + 7*3}
)

// launch records one dispatch of k specialized with spec; bind lists the
// buffers in binding order.
func (b *Backend) launch(k *kernel, spec []uint32, bind []access, push []uint32, gx, gy, gz uint32) {
	pushDesc := b.sets.push
	p, err := b.pipes.get(k, pushDesc, spec...)
	if err != nil {
		panic("vulkan: " + err.Error())
	}
	if len(bind) != k.bindings {
		panic(fmt.Sprintf("vulkan: kernel %s bound to %d buffers, want %d", k.name, len(bind), k.bindings))
	}
	if len(push) != k.push {
		panic(fmt.Sprintf("vulkan: kernel %s given %d push-constant words, want %d", k.name, len(push), k.push))
	}
	var slots [maxBindings]*slot
	for i, a := range bind {
		slots[i] = a.s
	}
	if pushDesc {
		if err := b.sets.pushed(p.layout, slots[:len(bind)]); err != nil {
			panic("vulkan: " + err.Error())
		}
		b.rec.dispatchPush(p, b.sets, len(bind), push, gx, gy, gz, bind)
		return
	}
	if b.sets.full() {
		// Sets may be bound by recorded commands: empty the cache only
		// once the device is idle.
		b.rec.sync()
		b.sets.reset()
	}
	set, err := b.sets.get(p.layout, slots[:len(bind)])
	if err != nil {
		panic("vulkan: " + err.Error())
	}
	b.rec.dispatch(p, set, push, gx, gy, gz, bind)
}

// elementwise records the elementwise kernel k over walk w, whose operand 0
// is dst (contiguous unless k is kCopy) and the rest the inputs.
func (b *Backend) elementwise(k *kernel, op uint32, p float64, w walk, bind []access) {
	w.split(func(w walk) {
		n := w.n()
		if n == 0 {
			return
		}
		first := 1 // operands with strides in the push constants
		if k == kCopy {
			first = 0
		}
		nops := len(w.strides) - first
		push := make([]uint32, 11+7*nops)
		push[0] = u32(n)
		push[1] = uint32(len(w.shape))
		push[2] = math.Float32bits(float32(p))
		push[3] = math.Float32bits(float32(p - float64(float32(p))))
		push[4] = u32(w.offsets[0])
		for j, d := range w.shape {
			push[5+j] = u32(d)
		}
		for k := range nops {
			push[11+k] = u32(w.offsets[first+k])
			for j, s := range w.strides[first+k] {
				push[11+nops+6*k+j] = u32(s)
			}
		}
		contig := uint32(0)
		if w.contiguous() {
			contig = 1
		}
		b.launch(k, []uint32{op, contig, b.cfg.wg}, bind, push, b.cfg.groups1D(n, b.cfg.wg), 1, 1)
	})
}

func operands(ts ...*tensor.Tensor) (strides [][]int, offsets []int) {
	for _, t := range ts {
		strides = append(strides, t.Strides())
		offsets = append(offsets, t.Offset())
	}
	return strides, offsets
}

// Copy writes src into dst; both may be strided. Contiguous copies are
// transfer commands.
func (b *Backend) Copy(dst, src *tensor.Tensor) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	ds, ss := b.slotOf(dst), b.slotOf(src)
	st, off := operands(dst, src)
	w := newWalk(dst.Shape(), st, off)
	if w.n() == 0 {
		return
	}
	if w.contiguous() {
		b.rec.copy(ss, ds, uint64(w.offsets[1])*4, uint64(w.offsets[0])*4, uint64(w.n())*4)
		return
	}
	b.elementwise(kCopy, 0, 0, w, []access{{ds, true}, {ss, false}})
}

// Unary computes dst = op(src; p).
func (b *Backend) Unary(op tensor.UnaryOp, dst, src *tensor.Tensor, p float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	st, off := operands(dst, src)
	b.elementwise(kUnary, uint32(op), p, newWalk(dst.Shape(), st, off),
		[]access{{b.slotOf(dst), true}, {b.slotOf(src), false}})
}

// Binary computes dst = op(x, y) with broadcasting (stride-0) operands.
func (b *Backend) Binary(op tensor.BinaryOp, dst, x, y *tensor.Tensor) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	st, off := operands(dst, x, y)
	b.elementwise(kBinary, uint32(op), 0, newWalk(dst.Shape(), st, off),
		[]access{{b.slotOf(dst), true}, {b.slotOf(x), false}, {b.slotOf(y), false}})
}

// Where computes dst = cond ≠ 0 ? x : y.
func (b *Backend) Where(dst, cond, x, y *tensor.Tensor) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	st, off := operands(dst, cond, x, y)
	b.elementwise(kWhere, 0, 0, newWalk(dst.Shape(), st, off),
		[]access{{b.slotOf(dst), true}, {b.slotOf(cond), false}, {b.slotOf(x), false}, {b.slotOf(y), false}})
}
