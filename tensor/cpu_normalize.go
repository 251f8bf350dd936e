package tensor

import "math"

// NormalizeRows normalizes rows in one float64 pass pair per row (see
// RowNormalizer): the mean, then the centred sum of squares, then the
// output. The reference backend composes the operation instead, so that the
// backend suite compares the two.
func (c *cpuBackend) NormalizeRows(y, mean, rstd, x *Tensor, eps float64) {
	if c.reference {
		yy, m, r := normalizeRowsComposed(x, eps)
		c.Copy(y, yy)
		c.Copy(mean, m)
		c.Copy(rstd, r)
		return
	}
	switch x.DType() {
	case Float32:
		normalizeKernel(hostFrom[float32](y), hostFrom[float32](mean), hostFrom[float32](rstd), hostFrom[float32](x)[:x.Len()], mean.Len(), eps)
	case Float64:
		normalizeKernel(hostFrom[float64](y), hostFrom[float64](mean), hostFrom[float64](rstd), hostFrom[float64](x)[:x.Len()], mean.Len(), eps)
	}
}

// normalizeKernel normalizes the rows of x (len(x)/rows each) into y.
func normalizeKernel[T number](y, mean, rstd, x []T, rows int, eps float64) {
	if rows == 0 {
		return
	}
	d := len(x) / rows
	parallelFor(rows, max(1, parallelGrain/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*d : (r+1)*d]
			yr := y[r*d : (r+1)*d]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			m := s / float64(d)
			var q float64
			for _, v := range xr {
				c := float64(v) - m
				q += c * c
			}
			rs := 1 / math.Sqrt(q/float64(d)+eps)
			for j, v := range xr {
				yr[j] = T((float64(v) - m) * rs)
			}
			mean[r] = T(m)
			rstd[r] = T(rs)
		}
	})
}
