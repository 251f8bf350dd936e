package tensor

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

func transFlag(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

func (c *cpuBackend) MatMul(dst, a, b *Tensor, transA, transB bool, bias *Tensor, act Activation, preAct *Tensor) {
	batch, m, n := dst.shape[0], dst.shape[1], dst.shape[2]
	k := a.shape[2]
	if transA {
		k = a.shape[1]
	}
	lda, ldb := a.strides[1], b.strides[1]
	switch dst.DType() {
	case Float32:
		d, x, y := host[float32](dst), host[float32](a), host[float32](b)
		for i := range batch {
			ci := d[dst.offset+i*m*n:]
			ai, bi := x[a.offset+i*a.strides[0]:], y[b.offset+i*b.strides[0]:]
			if !c.reference && sgemmFast != nil {
				var pre []float32
				if preAct != nil {
					pre = host[float32](preAct)[preAct.offset+i*m*n:]
				}
				sgemmFast(transA, transB, m, n, k, ai, lda, bi, ldb, ci, n, host[float32](bias), act, pre)
				continue
			}
			if m*n > 0 && k > 0 {
				blas32.Implementation().Sgemm(transFlag(transA), transFlag(transB), m, n, k, 1, ai, max(lda, 1), bi, max(ldb, 1), 0, ci, max(n, 1))
			} else {
				fill(ci[:m*n], 0)
			}
			epilogue(ci[:m*n], n, host[float32](bias), act, preActRows[float32](preAct, i, m*n))
		}
	case Float64:
		d, x, y := host[float64](dst), host[float64](a), host[float64](b)
		for i := range batch {
			ci := d[dst.offset+i*m*n:]
			ai, bi := x[a.offset+i*a.strides[0]:], y[b.offset+i*b.strides[0]:]
			if m*n > 0 && k > 0 {
				blas64.Implementation().Dgemm(transFlag(transA), transFlag(transB), m, n, k, 1, ai, max(lda, 1), bi, max(ldb, 1), 0, ci, max(n, 1))
			} else {
				fill(ci[:m*n], 0)
			}
			epilogue(ci[:m*n], n, host[float64](bias), act, preActRows[float64](preAct, i, m*n))
		}
	}
}

func preActRows[T number](preAct *Tensor, i, size int) []T {
	if preAct == nil {
		return nil
	}
	return host[T](preAct)[preAct.offset+i*size : preAct.offset+(i+1)*size]
}

// sgemmFast is the packed SIMD float32 kernel with a fused epilogue, set by
// cpu_gemm.go; nil leaves every product to gonum.
var sgemmFast func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, act Activation, preAct []float32)

// epilogue adds bias to every row of c (row length n), stores the result in
// preAct if given, and applies act in place.
func epilogue[T number](c []T, n int, bias []T, act Activation, preAct []T) {
	if bias == nil && act == ActNone {
		return
	}
	rows := len(c) / max(n, 1)
	parallelFor(rows, max(1, parallelGrain/max(n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := c[r*n : (r+1)*n]
			if bias != nil {
				for j := range row {
					row[j] += bias[j]
				}
			}
			if preAct != nil {
				copy(preAct[r*n:(r+1)*n], row)
			}
			if act != ActNone {
				activate(row, act)
			}
		}
	})
}

// activate applies act to every element of row in place.
func activate[T number](row []T, act Activation) {
	if r32, ok := any(row).([]float32); ok {
		switch act {
		case ActSiLU:
			for j, v := range r32 {
				r32[j] = v * sigmoid32(v)
			}
			return
		case ActSigmoid:
			for j, v := range r32 {
				r32[j] = sigmoid32(v)
			}
			return
		}
	}
	switch act {
	case ActReLU:
		for j, v := range row {
			row[j] = max(v, 0)
		}
	default:
		f := unaryFunc(act.Unary(), 0)
		for j, v := range row {
			row[j] = T(f(float64(v)))
		}
	}
}

// Unary is the elementwise op that computes the activation.
func (a Activation) Unary() UnaryOp {
	switch a {
	case ActReLU:
		return OpReLU
	case ActSiLU:
		return OpSiLU
	case ActTanh:
		return OpTanh
	case ActSigmoid:
		return OpSigmoid
	}
	panic("tensor: no unary op for activation " + a.String())
}
