package tensor

import "math"

// hostAffine is an Affine's vectors on the host (gamma nil without one).
type hostAffine[T number] struct {
	gamma, beta []T
	inner, k    int
}

func hostAffineOf[T number](a *Affine) hostAffine[T] {
	if a == nil {
		return hostAffine[T]{}
	}
	return hostAffine[T]{gamma: hostFrom[T](a.Gamma), beta: hostFrom[T](a.Beta), inner: a.Inner, k: a.K()}
}

// segment returns the end (at most end) of the run of elements from
// row-major index i on that share one feature (see Affine), and γ and β of
// that feature: 1 and 0 without an affine. The kernels below walk their
// rows run by run, so that a GroupNorm row costs one division per channel,
// not per element.
func (a hostAffine[T]) segment(i, end int) (e int, gamma, beta float64) {
	if a.gamma == nil {
		return end, 1, 0
	}
	f := i / a.inner
	c := f % a.k
	return min((f+1)*a.inner, end), float64(a.gamma[c]), float64(a.beta[c])
}

// perElement reports whether the affine has one γ and β per element of a
// row of d values (a layer norm's), which the kernels below walk as whole
// rows instead of runs.
func (a hostAffine[T]) perElement(d int) bool {
	return a.gamma != nil && a.inner == 1 && a.k == d
}

// The sums below keep four partial sums in float64: the float32 inputs stay
// accurate over long rows, and the four chains of additions run in parallel
// instead of waiting on one another. For float32 the leading multiple of 8
// runs on vector lanes where the build has them (sumVec and the others in
// cpu_simd.go), the rest here.

// sum returns Σ x.
func sum[T number](x []T) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	if x32, ok := any(x).([]float32); ok {
		s0, i = sumVec(x32)
	}
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSquaredDev returns Σ (x − m)².
func sumSquaredDev[T number](x []T, m float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	if x32, ok := any(x).([]float32); ok {
		s0, i = sumSquaredDevVec(x32, m)
	}
	for ; i+4 <= len(x); i += 4 {
		c0, c1, c2, c3 := float64(x[i])-m, float64(x[i+1])-m, float64(x[i+2])-m, float64(x[i+3])-m
		s0 += c0 * c0
		s1 += c1 * c1
		s2 += c2 * c2
		s3 += c3 * c3
	}
	for ; i < len(x); i++ {
		c := float64(x[i]) - m
		s0 += c * c
	}
	return (s0 + s1) + (s2 + s3)
}

// sumDev returns Σ g and Σ g·(x − m) over len(g) elements.
func sumDev[T number](g, x []T, m float64) (sg, sgx float64) {
	x = x[:len(g)]
	var s0, s1, s2, s3, t0, t1, t2, t3 float64
	i := 0
	if g32, ok := any(g).([]float32); ok {
		s0, t0, i = sumDevVec(g32, any(x).([]float32), m)
	}
	for ; i+4 <= len(g); i += 4 {
		g0, g1, g2, g3 := float64(g[i]), float64(g[i+1]), float64(g[i+2]), float64(g[i+3])
		s0 += g0
		s1 += g1
		s2 += g2
		s3 += g3
		t0 += g0 * (float64(x[i]) - m)
		t1 += g1 * (float64(x[i+1]) - m)
		t2 += g2 * (float64(x[i+2]) - m)
		t3 += g3 * (float64(x[i+3]) - m)
	}
	for ; i < len(g); i++ {
		s0 += float64(g[i])
		t0 += float64(g[i]) * (float64(x[i]) - m)
	}
	return (s0 + s1) + (s2 + s3), (t0 + t1) + (t2 + t3)
}

// NormalizeRows normalizes rows in one float64 pass pair per row (see
// RowNormalizer): the mean, then the centred sum of squares, then the
// output with the affine applied. The reference backend composes the
// operation instead, so that the backend suite compares the two.
func (c *cpuBackend) NormalizeRows(y, mean, rstd, x *Tensor, eps float64, aff *Affine) {
	if c.reference {
		yy, m, r := normalizeRowsComposed(x, eps, aff)
		c.Copy(y, yy)
		c.Copy(mean, m)
		c.Copy(rstd, r)
		return
	}
	switch x.DType() {
	case Float32:
		normalizeKernel(hostFrom[float32](y), hostFrom[float32](mean), hostFrom[float32](rstd), hostFrom[float32](x)[:x.Len()], mean.Len(), eps, hostAffineOf[float32](aff))
	case Float64:
		normalizeKernel(hostFrom[float64](y), hostFrom[float64](mean), hostFrom[float64](rstd), hostFrom[float64](x)[:x.Len()], mean.Len(), eps, hostAffineOf[float64](aff))
	}
}

// normalizeKernel normalizes the rows of x (len(x)/rows each) into y.
func normalizeKernel[T number](y, mean, rstd, x []T, rows int, eps float64, a hostAffine[T]) {
	if rows == 0 {
		return
	}
	d := len(x) / rows
	parallelFor(rows, max(1, parallelGrain/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i0, i1 := r*d, (r+1)*d
			m := sum(x[i0:i1]) / float64(d)
			rs := 1 / math.Sqrt(sumSquaredDev(x[i0:i1], m)/float64(d)+eps)
			if a.perElement(d) {
				// A layer norm's γ and β, one per element of the row.
				yr, gamma, beta := y[i0:i1], a.gamma[:d], a.beta[:d]
				for j, v := range x[i0:i1] {
					yr[j] = T((float64(v)-m)*rs*float64(gamma[j]) + float64(beta[j]))
				}
				mean[r], rstd[r] = T(m), T(rs)
				continue
			}
			for i := i0; i < i1; {
				e, gamma, beta := a.segment(i, i1)
				yr, j0 := y[i:e], 0
				if y32, ok := any(yr).([]float32); ok {
					j0 = normalizeRunVec(y32, any(x[i:e]).([]float32), m, rs, gamma, beta)
				}
				for j, v := range x[i+j0 : e] {
					yr[j0+j] = T((float64(v)-m)*rs*gamma + beta)
				}
				i = e
			}
			mean[r] = T(m)
			rstd[r] = T(rs)
		}
	})
}

// NormalizeRowsGrad runs the backward pass of NormalizeRows in one float64
// pass per row for the two means and one for the output (see
// RowNormalizerGrad); the reference composes it.
func (c *cpuBackend) NormalizeRowsGrad(dx, g, x, mean, rstd *Tensor, aff *Affine) {
	if c.reference {
		c.Copy(dx, normalizeRowsGradComposed(g, x, mean, rstd, aff))
		return
	}
	switch g.DType() {
	case Float32:
		normalizeGradKernel(hostFrom[float32](dx), hostFrom[float32](g), hostFrom[float32](x)[:x.Len()], hostFrom[float32](mean), hostFrom[float32](rstd), rstd.Len(), hostAffineOf[float32](aff))
	case Float64:
		normalizeGradKernel(hostFrom[float64](dx), hostFrom[float64](g), hostFrom[float64](x)[:x.Len()], hostFrom[float64](mean), hostFrom[float64](rstd), rstd.Len(), hostAffineOf[float64](aff))
	}
}

// normalizeGradKernel writes dx = rstd·(g' − mean(g') − ŷ·mean(g'·ŷ)) per
// row of x (len(x)/rows each), with ŷ = (x − mean)·rstd and g' = g·γ (g
// without an affine).
func normalizeGradKernel[T number](dx, g, x, mean, rstd []T, rows int, a hostAffine[T]) {
	if rows == 0 {
		return
	}
	d := len(x) / rows
	parallelFor(rows, max(1, parallelGrain/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i0, i1 := r*d, (r+1)*d
			m, rs := float64(mean[r]), float64(rstd[r])
			// Σ g' = Σ_runs γ·Σ g and Σ g'·ŷ = Σ_runs γ·rstd·Σ g·(x − mean).
			var sg, sgy float64
			if a.perElement(d) {
				gr, xr, gamma := g[i0:i1], x[i0:i1], a.gamma[:d]
				for j, v := range gr {
					sg += float64(gamma[j]) * float64(v)
					sgy += float64(gamma[j]) * rs * (float64(v) * (float64(xr[j]) - m))
				}
				mg, mgy := sg/float64(d), sgy/float64(d)
				dr := dx[i0:i1]
				for j, v := range gr {
					dr[j] = T(rs * (float64(v)*float64(gamma[j]) - mg - (float64(xr[j])-m)*rs*mgy))
				}
				continue
			}
			for i := i0; i < i1; {
				e, gamma, _ := a.segment(i, i1)
				s, sx := sumDev(g[i:e], x[i:e], m)
				sg += gamma * s
				sgy += gamma * rs * sx
				i = e
			}
			mg, mgy := sg/float64(d), sgy/float64(d)
			for i := i0; i < i1; {
				e, gamma, _ := a.segment(i, i1)
				dr, xr, j0 := dx[i:e], x[i:e], 0
				if d32, ok := any(dr).([]float32); ok {
					j0 = normalizeGradRunVec(d32, any(g[i:e]).([]float32), any(xr).([]float32), m, rs, gamma, mg, mgy)
				}
				for j, v := range g[i+j0 : e] {
					dr[j0+j] = T(rs * (float64(v)*gamma - mg - (float64(xr[j0+j])-m)*rs*mgy))
				}
				i = e
			}
		}
	})
}

// NormalizeAffineGrad sums g·ŷ and g per feature in float64 (see
// RowNormalizerGrad); the reference composes it.
func (c *cpuBackend) NormalizeAffineGrad(dgamma, dbeta, g, x, mean, rstd *Tensor, aff *Affine) {
	if c.reference {
		dg, db := normalizeAffineGradComposed(g, x, mean, rstd, aff)
		c.Copy(dgamma, dg)
		c.Copy(dbeta, db)
		return
	}
	switch g.DType() {
	case Float32:
		affineGradKernel(hostFrom[float32](dgamma), hostFrom[float32](dbeta), hostFrom[float32](g), hostFrom[float32](x)[:x.Len()], hostFrom[float32](mean), hostFrom[float32](rstd), rstd.Len(), aff.Inner, aff.K())
	case Float64:
		affineGradKernel(hostFrom[float64](dgamma), hostFrom[float64](dbeta), hostFrom[float64](g), hostFrom[float64](x)[:x.Len()], hostFrom[float64](mean), hostFrom[float64](rstd), rstd.Len(), aff.Inner, aff.K())
	}
}

// affineGradKernel writes dγ[c] = Σ g·ŷ and dβ[c] = Σ g over the elements
// of feature c of x viewed as [outer, k, inner], ŷ = (x − mean)·rstd per
// row of len(x)/rows. Features are split among workers, each walking its
// block of features in memory order.
func affineGradKernel[T number](dgamma, dbeta, g, x, mean, rstd []T, rows, inner, k int) {
	if rows == 0 {
		return
	}
	d, outer := len(x)/rows, len(x)/(k*inner)
	parallelFor(k, max(1, parallelGrain/(outer*inner)), func(lo, hi int) {
		sgy, sg := make([]float64, hi-lo), make([]float64, hi-lo)
		if inner == 1 && d == k {
			// A layer norm's: feature c is column c of every row.
			for r := range rows {
				m, rs := float64(mean[r]), float64(rstd[r])
				gr, xr := g[r*d+lo:r*d+hi], x[r*d+lo:r*d+hi]
				for j, v := range gr {
					sg[j] += float64(v)
					sgy[j] += float64(v) * (float64(xr[j]) - m) * rs
				}
			}
		} else {
			for o := range outer {
				for c := lo; c < hi; c++ {
					// The run of feature c in block o, cut where rows end.
					for i, end := (o*k+c)*inner, (o*k+c+1)*inner; i < end; {
						r := i / d
						e := min(end, (r+1)*d)
						s, sx := sumDev(g[i:e], x[i:e], float64(mean[r]))
						sg[c-lo] += s
						sgy[c-lo] += sx * float64(rstd[r])
						i = e
					}
				}
			}
		}
		for c := lo; c < hi; c++ {
			dgamma[c], dbeta[c] = T(sgy[c-lo]), T(sg[c-lo])
		}
	})
}
