package tensor

import (
	"fmt"
	"math"
)

func (c *cpuBackend) Copy(dst, src *Tensor) {
	switch dst.DType() {
	case Float32:
		copyKernel(host[float32](dst), host[float32](src), dst, src)
	case Float64:
		copyKernel(host[float64](dst), host[float64](src), dst, src)
	}
}

func copyKernel[T number](d, s []T, dst, src *Tensor) {
	p := planLoop(dst.shape, dst, src)
	p.run(func(o []int, n int, st []int) {
		if st[0] == 1 && st[1] == 1 {
			copy(d[o[0]:o[0]+n], s[o[1]:o[1]+n])
			return
		}
		for j := range n {
			d[o[0]+j*st[0]] = s[o[1]+j*st[1]]
		}
	})
}

func (c *cpuBackend) Fill(dst *Tensor, v float64) {
	switch dst.DType() {
	case Float32:
		fill(host[float32](dst)[dst.offset:dst.offset+dst.Len()], float32(v))
	case Float64:
		fill(host[float64](dst)[dst.offset:dst.offset+dst.Len()], v)
	}
}

func fill[T number](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}

func (c *cpuBackend) Unary(op UnaryOp, dst, src *Tensor, p float64) {
	switch dst.DType() {
	case Float32:
		unaryKernel(op, host[float32](dst), host[float32](src), dst, src, p)
	case Float64:
		unaryKernel(op, host[float64](dst), host[float64](src), dst, src, p)
	}
}

// unaryFunc returns the scalar function of op; the loop below inlines the
// common ones.
func unaryFunc(op UnaryOp, p float64) func(float64) float64 {
	switch op {
	case OpNeg:
		return func(x float64) float64 { return -x }
	case OpExp:
		return math.Exp
	case OpLog:
		return math.Log
	case OpSqrt:
		return math.Sqrt
	case OpRsqrt:
		return func(x float64) float64 { return 1 / math.Sqrt(x) }
	case OpTanh:
		return math.Tanh
	case OpSigmoid:
		return sigmoid
	case OpSiLU:
		return func(x float64) float64 { return x * sigmoid(x) }
	case OpReLU:
		return func(x float64) float64 { return max(x, 0) }
	case OpAbs:
		return math.Abs
	case OpSquare:
		return func(x float64) float64 { return x * x }
	case OpSin:
		return math.Sin
	case OpCos:
		return math.Cos
	case OpRecip:
		return func(x float64) float64 { return 1 / x }
	case OpPowScalar:
		return func(x float64) float64 { return math.Pow(x, p) }
	case OpAddScalar:
		return func(x float64) float64 { return x + p }
	case OpMulScalar:
		return func(x float64) float64 { return x * p }
	case OpMaxScalar:
		return func(x float64) float64 { return math.Max(x, p) }
	case OpMinScalar:
		return func(x float64) float64 { return math.Min(x, p) }
	case OpStep:
		return func(x float64) float64 {
			if x > 0 {
				return 1
			}
			return 0
		}
	case OpSoftplus:
		return softplus
	}
	panic(fmt.Sprintf("tensor: unknown unary op %d", op))
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	// log(1 + eˣ) = max(x, 0) + log1p(e^−|x|)
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

func unaryKernel[T number](op UnaryOp, d, s []T, dst, src *Tensor, p float64) {
	f := unaryFunc(op, p)
	pl := planLoop(dst.shape, dst, src)
	pl.run(func(o []int, n int, st []int) {
		od, os, sd, ss := o[0], o[1], st[0], st[1]
		switch op {
		case OpMulScalar:
			pp := T(p)
			for j := range n {
				d[od+j*sd] = s[os+j*ss] * pp
			}
		case OpAddScalar:
			pp := T(p)
			for j := range n {
				d[od+j*sd] = s[os+j*ss] + pp
			}
		case OpSquare:
			for j := range n {
				x := s[os+j*ss]
				d[od+j*sd] = x * x
			}
		case OpNeg:
			for j := range n {
				d[od+j*sd] = -s[os+j*ss]
			}
		case OpSiLU, OpSigmoid:
			if d32, ok := any(d).([]float32); ok {
				activate32(op, d32, any(s).([]float32), od, os, sd, ss, n)
				return
			}
			for j := range n {
				d[od+j*sd] = T(f(float64(s[os+j*ss])))
			}
		default:
			for j := range n {
				d[od+j*sd] = T(f(float64(s[os+j*ss])))
			}
		}
	})
}

// activate32 applies SiLU or the sigmoid to n float32 values of s into d
// (offsets o, strides st): on a contiguous run with the SIMD kernels of
// siluF32 and sigmoidF32, elsewhere with exp32 (the float64 math.Exp of
// the generic loop cost a tenth of a UNet training step).
func activate32(op UnaryOp, d, s []float32, od, os, sd, ss, n int) {
	if sd == 1 && ss == 1 {
		if op == OpSiLU {
			siluF32(d[od:od+n], s[os:os+n], nil)
		} else {
			sigmoidF32(d[od:od+n], s[os:os+n], nil)
		}
		return
	}
	for j := range n {
		x := s[os+j*ss]
		if op == OpSiLU {
			d[od+j*sd] = x * sigmoid32(x)
		} else {
			d[od+j*sd] = sigmoid32(x)
		}
	}
}

func (c *cpuBackend) Binary(op BinaryOp, dst, a, b *Tensor) {
	switch dst.DType() {
	case Float32:
		binaryKernel(op, host[float32](dst), host[float32](a), host[float32](b), dst, a, b)
	case Float64:
		binaryKernel(op, host[float64](dst), host[float64](a), host[float64](b), dst, a, b)
	}
}

func binaryFunc(op BinaryOp) func(a, b float64) float64 {
	switch op {
	case OpAdd:
		return func(a, b float64) float64 { return a + b }
	case OpSub:
		return func(a, b float64) float64 { return a - b }
	case OpMul:
		return func(a, b float64) float64 { return a * b }
	case OpDiv:
		return func(a, b float64) float64 { return a / b }
	case OpPow:
		return math.Pow
	case OpMaximum:
		return math.Max
	case OpMinimum:
		return math.Min
	case OpGreater:
		return func(a, b float64) float64 {
			if a > b {
				return 1
			}
			return 0
		}
	case OpSiLUGrad:
		return func(x, g float64) float64 {
			s := sigmoid(x)
			return g * s * (1 + x*(1-s))
		}
	case OpTanhGrad:
		return func(y, g float64) float64 { return g * (1 - y*y) }
	case OpSigmoidGrad:
		return func(y, g float64) float64 { return g * y * (1 - y) }
	case OpReLUGrad:
		return func(x, g float64) float64 {
			if x > 0 {
				return g
			}
			return 0
		}
	}
	panic(fmt.Sprintf("tensor: unknown binary op %d", op))
}

func binaryKernel[T number](op BinaryOp, d, x, y []T, dst, a, b *Tensor) {
	f := binaryFunc(op)
	pl := planLoop(dst.shape, dst, a, b)
	pl.run(func(o []int, n int, st []int) {
		od, oa, ob, sd, sa, sb := o[0], o[1], o[2], st[0], st[1], st[2]
		if sd == 1 && sa == 1 && sb == 1 && vectorBinary(op, d[od:od+n], x[oa:oa+n], y[ob:ob+n]) {
			return
		}
		// One operand broadcast along the run (a bias per channel over an
		// image's pixels): its leading vectors, then the loop below.
		if sd == 1 && sa == 1 && sb == 0 {
			i := vectorBinaryConst(op, d[od:od+n], x[oa:oa+n], y[ob], false)
			od, oa, n = od+i, oa+i, n-i
		} else if sd == 1 && sa == 0 && sb == 1 {
			i := vectorBinaryConst(op, d[od:od+n], y[ob:ob+n], x[oa], true)
			od, ob, n = od+i, ob+i, n-i
		}
		switch op {
		case OpAdd:
			for j := range n {
				d[od+j*sd] = x[oa+j*sa] + y[ob+j*sb]
			}
		case OpSub:
			for j := range n {
				d[od+j*sd] = x[oa+j*sa] - y[ob+j*sb]
			}
		case OpMul:
			for j := range n {
				d[od+j*sd] = x[oa+j*sa] * y[ob+j*sb]
			}
		case OpDiv:
			for j := range n {
				d[od+j*sd] = x[oa+j*sa] / y[ob+j*sb]
			}
		case OpSiLUGrad:
			siluGrad(d[od:], x[oa:], y[ob:], n, sd, sa, sb)
		default:
			for j := range n {
				d[od+j*sd] = T(f(float64(x[oa+j*sa]), float64(y[ob+j*sb])))
			}
		}
	})
}

func (c *cpuBackend) Where(dst, cond, a, b *Tensor) {
	switch dst.DType() {
	case Float32:
		whereKernel(host[float32](dst), host[float32](cond), host[float32](a), host[float32](b), dst, cond, a, b)
	case Float64:
		whereKernel(host[float64](dst), host[float64](cond), host[float64](a), host[float64](b), dst, cond, a, b)
	}
}

func whereKernel[T number](d, c, x, y []T, dst, cond, a, b *Tensor) {
	pl := planLoop(dst.shape, dst, cond, a, b)
	pl.run(func(o []int, n int, st []int) {
		for j := range n {
			if c[o[1]+j*st[1]] != 0 {
				d[o[0]+j*st[0]] = x[o[2]+j*st[2]]
			} else {
				d[o[0]+j*st[0]] = y[o[3]+j*st[3]]
			}
		}
	})
}
