package tensor

import "github.com/difftune/difftune/tensor/philox"

// EulerMaruyamaStep runs one fused Euler–Maruyama step (see
// EulerMaruyamaStepper): the normals are drawn straight into next, then one
// loop per row forms the update and the row's KL increment in float64. The
// reference backend composes the step from its elementwise operations
// instead, so that the backend suite compares the two.
func (c *cpuBackend) EulerMaruyamaStep(next, klNext, x, eps, u, kl *Tensor, co EMCoeffs, seed, draw uint64) {
	if c.reference {
		n, k := eulerMaruyamaComposed(x, eps, u, kl, co, seed, draw)
		c.Copy(next, n)
		if klNext != nil {
			c.Copy(klNext, k)
		}
		return
	}
	switch next.DType() {
	case Float32:
		d := host[float32](next)[next.offset : next.offset+next.Len()]
		philox.Normal32(seed, draw, d)
		emKernel(d, host[float32](x)[x.offset:], host[float32](eps)[eps.offset:], hostFrom[float32](u), hostFrom[float32](kl), hostFrom[float32](klNext), next.shape[0], co)
	case Float64:
		d := host[float64](next)[next.offset : next.offset+next.Len()]
		philox.Normal64(seed, draw, d)
		emKernel(d, host[float64](x)[x.offset:], host[float64](eps)[eps.offset:], hostFrom[float64](u), hostFrom[float64](kl), hostFrom[float64](klNext), next.shape[0], co)
	}
}

// hostFrom is the storage of t from its first element, or nil for nil.
func hostFrom[T number](t *Tensor) []T {
	if t == nil {
		return nil
	}
	return host[T](t)[t.offset:]
}

// emKernel overwrites next, which holds the normals ξ, with X·x + Eps·ε +
// U·u + Noise·ξ, and sets klNext[r] = kl[r] + KL·Σ_j u[r, j]² (without u,
// only the first part).
func emKernel[T number](next, x, eps, u, kl, klNext []T, rows int, c EMCoeffs) {
	if rows == 0 {
		return
	}
	d := len(next) / rows
	parallelFor(rows, max(1, parallelGrain/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i0, i1 := r*d, (r+1)*d
			if u == nil {
				for i := i0; i < i1; i++ {
					next[i] = T(c.X*float64(x[i]) + c.Eps*float64(eps[i]) + c.Noise*float64(next[i]))
				}
				continue
			}
			var s float64
			for i := i0; i < i1; i++ {
				ui := float64(u[i])
				next[i] = T(c.X*float64(x[i]) + c.Eps*float64(eps[i]) + c.U*ui + c.Noise*float64(next[i]))
				s += ui * ui
			}
			klNext[r] = T(float64(kl[r]) + c.KL*s)
		}
	})
}
