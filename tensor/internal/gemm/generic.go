package gemm

import (
	"math"
	"unsafe"
)

// generic is the plain-Go implementation, used when no vector one applies.
var generic = &impl{
	name: "generic", kind: kindGeneric,
	mr: 3, nr: 3,
	kc: 256, mc: 120, nc: 510,
}

// kernelGeneric is the 3×3 plain-Go micro-kernel. Its size is what the 15
// registers of scalar code fit: nine accumulators, three B values, the A
// value and a product. As in the archsimd kernels, a branch that is never
// taken after each row keeps the compiler from loading everything first and
// spilling.
func kernelGeneric(kc int, a []float32, rsa, csa int, b []float32, sb int, o *tileOut) {
	var c00, c01, c02 float32
	var c10, c11, c12 float32
	var c20, c21, c22 float32
	if kc <= 0 {
		panic("gemm: bad micro-kernel arguments")
	}
	a = a[:2*rsa+(kc-1)*csa+1]
	b = b[:(kc-1)*sb+3]
	for qa, qb := 0, 0; qb < len(b); qa, qb = qa+csa, qb+sb {
		bp := (*[3]float32)(b[qb:])
		b0, b1, b2 := bp[0], bp[1], bp[2]
		a0 := a[qa]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		if uintptr(unsafe.Pointer(bp)) == ^uintptr(0) {
			break
		}
		a1 := a[qa+rsa]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		if uintptr(unsafe.Pointer(bp)) == ^uintptr(1) {
			break
		}
		a2 := a[qa+2*rsa]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
	}
	storeRowGeneric(o, 0, c00, c01, c02)
	storeRowGeneric(o, 1, c10, c11, c12)
	storeRowGeneric(o, 2, c20, c21, c22)
}

// storeRowGeneric writes row r of a 3-wide tile to o.
func storeRowGeneric(o *tileOut, r int, v0, v1, v2 float32) {
	if r >= o.rows {
		return
	}
	if o.cols < 3 {
		storeRowPart(o, r, []float32{v0, v1, v2})
		return
	}
	c := o.c[r*o.ldc : r*o.ldc+3]
	if o.add {
		v0, v1, v2 = v0+c[0], v1+c[1], v2+c[2]
	}
	if o.bias != nil {
		b := o.bias[:3]
		v0, v1, v2 = v0+b[0], v1+b[1], v2+b[2]
	}
	c[0], c[1], c[2] = v0, v1, v2
}

// storeRowPart writes the first o.cols values of row r of a tile, t, to o:
// the edge of a kernel that writes full rows with vectors.
func storeRowPart(o *tileOut, r int, t []float32) {
	c := o.c[r*o.ldc : r*o.ldc+o.cols]
	for j, v := range t[:len(c)] {
		if o.add {
			v += c[j]
		}
		if o.bias != nil {
			v += o.bias[j]
		}
		c[j] = v
	}
}

// finishGeneric is the plain-Go impl.finish.
func finishGeneric(u *update) {
	for i := range u.m {
		c := u.c[i*u.ldc : i*u.ldc+u.n]
		acc := u.acc[i*u.lda : i*u.lda+u.n]
		var d []float32
		if u.deriv != nil {
			d = u.deriv[i*u.ldd : i*u.ldd+u.n]
		}
		bias := u.bias
		if bias != nil {
			bias = bias[:u.n]
		}
		for j, x := range acc {
			v := u.alpha * x
			if u.beta != 0 {
				v += u.beta * c[j]
			}
			if bias != nil {
				v += bias[j]
			}
			c[j] = activate(u.act, v)
			if d != nil {
				d[j] = derivative(u.act, v, c[j])
			}
		}
	}
}

// activateGeneric applies act in place to the m×n block c with row stride
// ldc and, when d is not nil, writes act' at the original values to d (row
// stride ldd).
func activateGeneric(m, n int, c []float32, ldc int, act Activation, d []float32, ldd int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		for j, v := range row {
			row[j] = activate(act, v)
			if d != nil {
				d[i*ldd+j] = derivative(act, v, row[j])
			}
		}
	}
}

// derivative returns act'(z) from z and y = act(z): ReLU [z > 0], SiLU
// σ + y(1 − σ), tanh 1 − y², sigmoid y(1 − y), 1 for None.
func derivative(act Activation, z, y float32) float32 {
	switch act {
	case ReLU:
		if z > 0 {
			return 1
		}
		return 0
	case SiLU:
		s := float32(1 / (1 + math.Exp(-float64(z))))
		return s + y*(1-s)
	case Tanh:
		return 1 - y*y
	case Sigmoid:
		return y * (1 - y)
	}
	return 1
}

// activate applies act to one value.
func activate(act Activation, v float32) float32 {
	switch act {
	case ReLU:
		return max(v, 0)
	case SiLU:
		return float32(float64(v) / (1 + math.Exp(-float64(v))))
	case Tanh:
		return float32(math.Tanh(float64(v)))
	case Sigmoid:
		return float32(1 / (1 + math.Exp(-float64(v))))
	}
	return v
}

func gemvNGeneric(m, n, k int, x []float32, ldx int, b []float32, ldb int, y []float32, ldy int) {
	for i := range m {
		yi := y[i*ldy : i*ldy+n]
		clear(yi)
		for q, xv := range x[i*ldx : i*ldx+k] {
			for j, bv := range b[q*ldb : q*ldb+n] {
				yi[j] += xv * bv
			}
		}
	}
}

func gemvTGeneric(x, b []float32, ldb int, y []float32) {
	for j := range y {
		row := b[j*ldb : j*ldb+len(x)]
		var s0, s1, s2, s3 float32
		q := 0
		for ; q+4 <= len(x); q += 4 {
			s0 += x[q] * row[q]
			s1 += x[q+1] * row[q+1]
			s2 += x[q+2] * row[q+2]
			s3 += x[q+3] * row[q+3]
		}
		for ; q < len(x); q++ {
			s0 += x[q] * row[q]
		}
		y[j] = (s0 + s1) + (s2 + s3)
	}
}
