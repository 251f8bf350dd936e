package tensor

import "math"

// AxisGeometry views a contiguous shape as [outer, shape[axis], inner]: the
// layout of every reduction, softmax and gather along one axis.
func AxisGeometry(shape []int, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, shape[axis], inner
}

func (c *cpuBackend) Reduce(op ReduceOp, dst, src *Tensor, axis int) {
	src = src.Contiguous()
	outer, n, inner := AxisGeometry(src.shape, axis)
	switch dst.DType() {
	case Float32:
		reduceKernel(op, host[float32](dst)[dst.offset:], host[float32](src)[src.offset:], outer, n, inner)
	case Float64:
		reduceKernel(op, host[float64](dst)[dst.offset:], host[float64](src)[src.offset:], outer, n, inner)
	}
}

func reduceKernel[T number](op ReduceOp, d, s []T, outer, n, inner int) {
	// Parallel over outer rows, or over inner columns when there is one row.
	if outer == 1 && inner > 1 {
		parallelFor(inner, max(1, parallelGrain/max(n, 1)), func(lo, hi int) {
			reduceBlock(op, d[lo:hi], s[lo:], n, inner, hi-lo)
		})
		return
	}
	parallelFor(outer, max(1, parallelGrain/max(n*inner, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			reduceBlock(op, d[o*inner:(o+1)*inner], s[o*n*inner:], n, inner, inner)
		}
	})
}

// reduceBlock reduces width columns of an [n, stride] block of s into d.
func reduceBlock[T number](op ReduceOp, d, s []T, n, stride, width int) {
	switch op {
	case ReduceSum:
		// Accumulate in float64 so that float32 sums over long axes stay
		// accurate: a contiguous run with sum's four partial sums (and
		// vector lanes), columns with a float64 accumulator per column.
		if width == 1 && stride == 1 {
			d[0] = T(sum(s[:n]))
			return
		}
		acc := make([]float64, width)
		for j := range n {
			row := s[j*stride : j*stride+width]
			i0 := 0
			if r32, ok := any(row).([]float32); ok {
				i0 = addWidenedVec(acc, r32)
			}
			for i, v := range row[i0:] {
				acc[i0+i] += float64(v)
			}
		}
		for i := range d[:width] {
			d[i] = T(acc[i])
		}
	case ReduceMax, ReduceMin, ReduceArgMax:
		best := make([]T, width)
		arg := make([]int, width)
		copy(best, s[:width])
		for j := 1; j < n; j++ {
			row := s[j*stride : j*stride+width]
			for i, v := range row {
				if (op == ReduceMin && v < best[i]) || (op != ReduceMin && v > best[i]) || (v != v && best[i] == best[i]) {
					best[i], arg[i] = v, j
				}
			}
		}
		if op == ReduceArgMax {
			for i := range d[:width] {
				d[i] = T(arg[i])
			}
		} else {
			copy(d[:width], best)
		}
	case ReduceLogSumExp:
		m := make([]float64, width)
		for i := range m {
			m[i] = math.Inf(-1)
		}
		for j := range n {
			for i, v := range s[j*stride : j*stride+width] {
				m[i] = math.Max(m[i], float64(v))
			}
		}
		acc := make([]float64, width)
		for j := range n {
			for i, v := range s[j*stride : j*stride+width] {
				if !math.IsInf(m[i], 0) {
					acc[i] += math.Exp(float64(v) - m[i])
				}
			}
		}
		for i := range d[:width] {
			if math.IsInf(m[i], 0) {
				d[i] = T(m[i]) // all −Inf gives −Inf; any +Inf gives +Inf
			} else {
				d[i] = T(m[i] + math.Log(acc[i]))
			}
		}
	}
}

func (c *cpuBackend) Softmax(dst, src *Tensor, axis int, log bool) {
	src = src.Contiguous()
	outer, n, inner := AxisGeometry(src.shape, axis)
	switch dst.DType() {
	case Float32:
		softmaxKernel(host[float32](dst)[dst.offset:], host[float32](src)[src.offset:], outer, n, inner, log)
	case Float64:
		softmaxKernel(host[float64](dst)[dst.offset:], host[float64](src)[src.offset:], outer, n, inner, log)
	}
}

// softmaxKernel writes the softmax (or log-softmax) of s along the axis of
// length n of s viewed as [outer, n, inner] into d, in float64 per row, or
// on SIMD lanes for contiguous float32 rows where the build has them
// (softmaxRowF32).
func softmaxKernel[T number](d, s []T, outer, n, inner int, log bool) {
	rows := outer * inner
	d32, vec := any(d).([]float32)
	s32, _ := any(s).([]float32)
	vec = vec && inner == 1
	parallelFor(rows, max(1, parallelGrain/max(n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if vec && softmaxRowF32(d32[r*n:(r+1)*n], s32[r*n:(r+1)*n], log) {
				continue
			}
			o, i := r/inner, r%inner
			base := o*n*inner + i
			m := math.Inf(-1)
			for j := range n {
				m = math.Max(m, float64(s[base+j*inner]))
			}
			var z float64
			for j := range n {
				z += math.Exp(float64(s[base+j*inner]) - m)
			}
			lz := m + math.Log(z)
			for j := range n {
				v := float64(s[base+j*inner]) - lz
				if log {
					d[base+j*inner] = T(v)
				} else {
					d[base+j*inner] = T(math.Exp(v))
				}
			}
		}
	})
}
