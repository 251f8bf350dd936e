package tensor

import (
	"math"

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

func (c *cpuBackend) MatMul(dst, a, b *Tensor, transA, transB bool, bias *Tensor, act Activation, deriv *Tensor) {
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
			ci := d[dst.offset+i*m*n : dst.offset+(i+1)*m*n]
			ai, bi := x[a.offset+i*a.strides[0]:], y[b.offset+i*b.strides[0]:]
			if !c.reference && sgemmFast != nil {
				sgemmFast(transA, transB, m, n, k, ai, lda, bi, ldb, ci, n, host[float32](bias), act, derivRows[float32](deriv, i, m*n))
				continue
			}
			if m*n > 0 && k > 0 {
				blas32.Implementation().Sgemm(transFlag(transA), transFlag(transB), m, n, k, 1, ai, max(lda, 1), bi, max(ldb, 1), 0, ci, max(n, 1))
				addBias(ci, n, host[float32](bias))
			} else {
				fill(ci, 0)
				addBias(ci, n, host[float32](bias))
			}
			activateRows(ci, n, act, derivRows[float32](deriv, i, m*n))
		}
	case Float64:
		d, x, y := host[float64](dst), host[float64](a), host[float64](b)
		for i := range batch {
			ci := d[dst.offset+i*m*n : dst.offset+(i+1)*m*n]
			ai, bi := x[a.offset+i*a.strides[0]:], y[b.offset+i*b.strides[0]:]
			if m*n > 0 && k > 0 {
				blas64.Implementation().Dgemm(transFlag(transA), transFlag(transB), m, n, k, 1, ai, max(lda, 1), bi, max(ldb, 1), 0, ci, max(n, 1))
			} else {
				fill(ci, 0)
			}
			addBias(ci, n, host[float64](bias))
			activateRows(ci, n, act, derivRows[float64](deriv, i, m*n))
		}
	}
}

func derivRows[T number](deriv *Tensor, i, size int) []T {
	if deriv == nil {
		return nil
	}
	return host[T](deriv)[deriv.offset+i*size : deriv.offset+(i+1)*size]
}

// sgemmFast is the packed SIMD float32 kernel with the bias, the activation
// and its derivative (into deriv when not nil) fused, set by cpu_gemm.go; nil
// leaves every product to gonum.
var sgemmFast func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, act Activation, deriv []float32)

// addBias adds bias to every row of c (row length n); nil adds nothing.
func addBias[T number](c []T, n int, bias []T) {
	if bias == nil {
		return
	}
	for r := 0; r+n <= len(c); r += n {
		row := c[r : r+n]
		for j := range row {
			row[j] += bias[j]
		}
	}
}

// activateRows applies act in place to c (rows of n) and writes act' at the
// pre-activation values into deriv when it is not nil, in parallel.
func activateRows[T number](c []T, n int, act Activation, deriv []T) {
	if act == ActNone {
		return
	}
	rows := len(c) / max(n, 1)
	parallelFor(rows, max(1, parallelGrain/max(n, 1)), func(lo, hi int) {
		var d []T
		if deriv != nil {
			d = deriv[lo*n : hi*n]
		}
		activate(c[lo*n:hi*n], act, d)
	})
}

// activate applies act to x in place and, if d is not nil, stores act'(z) at
// the original values z: ReLU [z > 0], SiLU σ(1 + z(1 − σ)), tanh 1 − y²,
// sigmoid y(1 − y).
func activate[T number](x []T, act Activation, d []T) {
	if x32, ok := any(x).([]float32); ok && (act == ActSiLU || act == ActSigmoid) {
		d32, _ := any(d).([]float32)
		if act == ActSiLU {
			siluF32(x32, x32, d32)
		} else {
			sigmoidF32(x32, x32, d32)
		}
		return
	}
	for i, z := range x {
		var y, dy float64
		zf := float64(z)
		switch act {
		case ActReLU:
			if zf > 0 {
				y, dy = zf, 1
			}
		case ActSiLU:
			s := sigmoid(zf)
			y, dy = zf*s, s*(1+zf*(1-s))
		case ActTanh:
			y = math.Tanh(zf)
			dy = 1 - y*y
		case ActSigmoid:
			y = sigmoid(zf)
			dy = y * (1 - y)
		}
		x[i] = T(y)
		if d != nil {
			d[i] = T(dy)
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
