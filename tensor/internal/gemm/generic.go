package gemm

import "math"

// generic is the plain-Go implementation, used when no vector one applies.
var generic = &impl{
	name: "generic", kind: kindGeneric,
	mr: 4, nr: 4,
	kc: 256, mc: 128, nc: 1024,
}

// kernelGeneric is the 4×4 plain-Go micro-kernel.
func kernelGeneric(kc int, a []float32, rsa, csa int, b, t []float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	b = b[:4*kc]
	for q := 0; len(b) >= 4; q += csa {
		a0, a1, a2, a3 := a[q], a[q+rsa], a[q+2*rsa], a[q+3*rsa]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		b = b[4:]
	}
	t = t[:16]
	t[0], t[1], t[2], t[3] = c00, c01, c02, c03
	t[4], t[5], t[6], t[7] = c10, c11, c12, c13
	t[8], t[9], t[10], t[11] = c20, c21, c22, c23
	t[12], t[13], t[14], t[15] = c30, c31, c32, c33
}

// finishGeneric is the plain-Go impl.finish.
func finishGeneric(u *update) {
	for i := range u.m {
		c := u.c[i*u.ldc : i*u.ldc+u.n]
		acc := u.acc[i*u.lda : i*u.lda+u.n]
		var pre []float32
		if u.pre != nil {
			pre = u.pre[i*u.ldp : i*u.ldp+u.n]
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
			if pre != nil {
				pre[j] = v
			}
			c[j] = activate(u.act, v)
		}
	}
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
