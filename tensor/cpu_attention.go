package tensor

import "math"

// attentionCPUMax bounds m·d, the keys times the width of one head, that
// the fast CPU backend attends to in its own loops: about where the
// composed operation's batched products became as fast (measured, fwd+bwd
// on 2 cores: 8 tokens of 16, 3.5 against 7.2 ms for 1024 heads; 32 of 16,
// 12 against 15 ms; 32 of 32, 21 against 13 ms for 256 heads) and, past
// it, the packed GEMM kernels win.
const attentionCPUMax = 512

// Attention computes attention in one pass per query row (see
// FusedAttender): the row's scores, their max and log-sum-exp in float64,
// then out (float32 on 8 lanes where the build and the CPU have them:
// cpu_attention_simd.go). For short sequences (m·d ≤ attentionCPUMax) only: it declines
// the others, and the reference backend declines everything, so that
// tensor.Attention composes the operation there.
func (c *cpuBackend) Attention(out, lse, q, k, v *Tensor, scale float64) bool {
	batch, n, m, d := AttentionShape(q, k)
	if c.reference || m*d > attentionCPUMax {
		return false
	}
	switch q.DType() {
	case Float32:
		attentionKernel(hostFrom[float32](out), hostFrom[float32](lse), hostFrom[float32](q), hostFrom[float32](k), hostFrom[float32](v), batch, n, m, d, scale)
	case Float64:
		attentionKernel(hostFrom[float64](out), hostFrom[float64](lse), hostFrom[float64](q), hostFrom[float64](k), hostFrom[float64](v), batch, n, m, d, scale)
	}
	return true
}

// attentionKernel writes out and lse of every batch index of the contiguous
// q [batch, n, d], k and v [batch, m, d].
func attentionKernel[T number](out, lse, q, k, v []T, batch, n, m, d int, scale float64) {
	if o, ok := any(out).([]float32); ok &&
		attentionF32(o, any(lse).([]float32), any(q).([]float32), any(k).([]float32), any(v).([]float32), batch, n, m, d, scale) {
		return
	}
	parallelFor(batch, max(1, parallelGrain/(n*m*d)), func(lo, hi int) {
		p := make([]float64, m)
		for z := lo; z < hi; z++ {
			kz, vz := k[z*m*d:(z+1)*m*d], v[z*m*d:(z+1)*m*d]
			for row := z * n; row < (z+1)*n; row++ {
				qi, oi := q[row*d:(row+1)*d], out[row*d:(row+1)*d]
				mx := math.Inf(-1)
				for j := range p {
					p[j] = scale * float64(dot(qi, kz[j*d:(j+1)*d]))
					mx = max(mx, p[j])
				}
				var l float64
				for j, s := range p {
					p[j] = math.Exp(s - mx)
					l += p[j]
				}
				lse[row] = T(mx + math.Log(l))
				clear(oi)
				for j, e := range p {
					axpy(oi, T(e/l), vz[j*d:(j+1)*d])
				}
			}
		}
	})
}

// AttentionGrad computes the gradients of Attention in one pass over the
// (query, key) pairs of each batch index (see FusedAttenderGrad), under
// the limits of Attention.
func (c *cpuBackend) AttentionGrad(dq, dk, dv, g, q, k, v, out, lse *Tensor, scale float64) bool {
	batch, n, m, d := AttentionShape(q, k)
	if c.reference || m*d > attentionCPUMax {
		return false
	}
	switch q.DType() {
	case Float32:
		attentionGradKernel(hostFrom[float32](dq), hostFrom[float32](dk), hostFrom[float32](dv), hostFrom[float32](g),
			hostFrom[float32](q), hostFrom[float32](k), hostFrom[float32](v), hostFrom[float32](out), hostFrom[float32](lse), batch, n, m, d, scale)
	case Float64:
		attentionGradKernel(hostFrom[float64](dq), hostFrom[float64](dk), hostFrom[float64](dv), hostFrom[float64](g),
			hostFrom[float64](q), hostFrom[float64](k), hostFrom[float64](v), hostFrom[float64](out), hostFrom[float64](lse), batch, n, m, d, scale)
	}
	return true
}

// attentionGradKernel accumulates, for every pair (i, j) of a batch index,
// with P_ij = exp(s_ij − lse_i) and scale·dS_ij = scale·P_ij·(g_i·v_j −
// g_i·out_i): dq_i += scale·dS_ij·k_j, dk_j += scale·dS_ij·q_i and
// dv_j += P_ij·g_i.
func attentionGradKernel[T number](dq, dk, dv, g, q, k, v, out, lse []T, batch, n, m, d int, scale float64) {
	if dq32, ok := any(dq).([]float32); ok &&
		attentionGradF32(dq32, any(dk).([]float32), any(dv).([]float32), any(g).([]float32), any(q).([]float32),
			any(k).([]float32), any(v).([]float32), any(out).([]float32), any(lse).([]float32), batch, n, m, d, scale) {
		return
	}
	parallelFor(batch, max(1, parallelGrain/(n*m*d)), func(lo, hi int) {
		for z := lo; z < hi; z++ {
			kz, vz := k[z*m*d:(z+1)*m*d], v[z*m*d:(z+1)*m*d]
			dkz, dvz := dk[z*m*d:(z+1)*m*d], dv[z*m*d:(z+1)*m*d]
			clear(dq[z*n*d : (z+1)*n*d])
			clear(dkz)
			clear(dvz)
			for row := z * n; row < (z+1)*n; row++ {
				qi, gi, dqi := q[row*d:(row+1)*d], g[row*d:(row+1)*d], dq[row*d:(row+1)*d]
				di := float64(dot(gi, out[row*d:(row+1)*d]))
				for j := range m {
					kj, vj := kz[j*d:(j+1)*d], vz[j*d:(j+1)*d]
					p := math.Exp(scale*float64(dot(qi, kj)) - float64(lse[row]))
					ds := T(scale * p * (float64(dot(gi, vj)) - di))
					axpy(dqi, ds, kj)
					axpy(dkz[j*d:(j+1)*d], ds, qi)
					axpy(dvz[j*d:(j+1)*d], T(p), gi)
				}
			}
		}
	})
}

// dot is Σ_c x_c·y_c (len(y) ≥ len(x)).
func dot[T number](x, y []T) T {
	y = y[:len(x)]
	var s T
	for c, a := range x {
		s += a * y[c]
	}
	return s
}

// axpy adds a·x to y (len(x) ≥ len(y)).
func axpy[T number](y []T, a T, x []T) {
	x = x[:len(y)]
	for c, b := range x {
		y[c] += a * b
	}
}
