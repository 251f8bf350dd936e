package tensor

// loopPlan walks several views of one shape together: an odometer over the
// outer dimensions and a strided inner loop over the last one. Adjacent
// dimensions that every operand stores nested row-major are merged first, so
// contiguous and broadcast-by-row operands get long inner loops.
type loopPlan struct {
	outer   []int   // sizes of the outer dimensions
	n       int     // length of the inner dimension
	strides [][]int // per operand: strides of outer dimensions, then inner stride
	offsets []int   // per operand: starting offset
}

func planLoop(shape []int, ops ...*Tensor) loopPlan {
	dims := make([]int, 0, len(shape))
	strides := make([][]int, len(ops))
	for i, d := range shape {
		if d == 1 {
			continue
		}
		last := len(dims) - 1
		mergeable := last >= 0
		for k, t := range ops {
			if mergeable && strides[k][last] != t.strides[i]*d {
				mergeable = false
			}
		}
		if mergeable {
			dims[last] *= d
			for k, t := range ops {
				strides[k][last] = t.strides[i]
			}
			continue
		}
		dims = append(dims, d)
		for k, t := range ops {
			strides[k] = append(strides[k], t.strides[i])
		}
	}
	p := loopPlan{offsets: make([]int, len(ops)), strides: strides}
	for k, t := range ops {
		p.offsets[k] = t.offset
	}
	if len(dims) == 0 {
		p.n = 1
		for k := range strides {
			strides[k] = []int{1}
		}
		return p
	}
	p.outer = dims[:len(dims)-1]
	p.n = dims[len(dims)-1]
	return p
}

// run calls body for every inner row with the operands' offsets and inner
// strides, in parallel when the work is large. Rows of a single long dimension
// are cut into chunks so that both cores share them too.
func (p *loopPlan) run(body func(offs []int, n int, inner []int)) {
	nops := len(p.offsets)
	inner := make([]int, nops)
	for k := range nops {
		inner[k] = p.strides[k][len(p.strides[k])-1]
	}
	if len(p.outer) == 0 {
		grain := max(parallelGrain, 1)
		parallelFor(p.n, grain, func(lo, hi int) {
			offs := make([]int, nops)
			for k := range nops {
				offs[k] = p.offsets[k] + lo*inner[k]
			}
			body(offs, hi-lo, inner)
		})
		return
	}
	rows := numel(p.outer)
	grain := max(1, parallelGrain/max(p.n, 1))
	parallelFor(rows, grain, func(lo, hi int) {
		idx := make([]int, len(p.outer))
		offs := make([]int, nops)
		// Decompose lo into the odometer.
		r := lo
		for d := len(p.outer) - 1; d >= 0; d-- {
			idx[d] = r % p.outer[d]
			r /= p.outer[d]
		}
		for k := range nops {
			offs[k] = p.offsets[k]
			for d, i := range idx {
				offs[k] += i * p.strides[k][d]
			}
		}
		for row := lo; row < hi; row++ {
			body(offs, p.n, inner)
			// Advance the odometer.
			for d := len(p.outer) - 1; d >= 0; d-- {
				idx[d]++
				for k := range nops {
					offs[k] += p.strides[k][d]
				}
				if idx[d] < p.outer[d] {
					break
				}
				for k := range nops {
					offs[k] -= idx[d] * p.strides[k][d]
				}
				idx[d] = 0
			}
		}
	})
}
