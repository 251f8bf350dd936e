//go:build goexperiment.simd && amd64

package tensor

import (
	"math"
	"simd/archsimd"
)

// The float32 attention of the CPU backend on 8 lanes (AVX2 and FMA, which
// AVX-512 CPUs have too): the scalar kernels of cpu_attention.go with the
// scores of a query row computed for 8 keys at a time against the keys
// transposed (kᵀ: d rows of the m keys, padded to whole vectors), their exp
// from expShifted8, and the sums over the width of a head 8 lanes at a time. The
// softmax statistics are float32 here (the scalar kernels keep them in
// float64); the backend suite holds both to the reference. Each vector
// helper ends with VZEROUPPER, as the gemm kernels do: the scalar code
// between them is legacy SSE, which pays a false dependency on dirty upper
// halves on Intel cores.

// attentionF32 is attentionKernel for float32 on 8 lanes; it reports false
// (doing nothing) without AVX2.
func attentionF32(out, lse, q, k, v []float32, batch, n, m, d int, scale float64) bool {
	if !hasAVX2 && !hasAVX512 {
		return false
	}
	mp := (m + 7) &^ 7
	parallelFor(batch, max(1, parallelGrain/(n*m*d)), func(lo, hi int) {
		kt, s := make([]float32, d*mp), make([]float32, mp)
		for z := lo; z < hi; z++ {
			kz, vz := k[z*m*d:(z+1)*m*d], v[z*m*d:(z+1)*m*d]
			clear(kt)
			transposeTo(kt, mp, kz, m, d)
			for row := z * n; row < (z+1)*n; row++ {
				qi, oi := q[row*d:(row+1)*d], out[row*d:(row+1)*d]
				scores8(s, qi, kt, mp, float32(scale))
				mx := float32(math.Inf(-1))
				for _, x := range s[:m] {
					mx = max(mx, x)
				}
				expShifted8(s, s, mx)
				var l float32
				for _, e := range s[:m] {
					l += e
				}
				lse[row] = float32(float64(mx) + math.Log(float64(l)))
				clear(oi)
				for j, e := range s[:m] {
					axpy8(oi, e/l, vz[j*d:(j+1)*d])
				}
			}
		}
	})
	return true
}

// attentionGradF32 is attentionGradKernel for float32 on 8 lanes; it
// reports false (doing nothing) without AVX2.
func attentionGradF32(dq, dk, dv, g, q, k, v, out, lse []float32, batch, n, m, d int, scale float64) bool {
	if !hasAVX2 && !hasAVX512 {
		return false
	}
	mp := (m + 7) &^ 7
	parallelFor(batch, max(1, parallelGrain/(n*m*d)), func(lo, hi int) {
		kt, vt := make([]float32, d*mp), make([]float32, d*mp)
		p, dp := make([]float32, mp), make([]float32, mp)
		for z := lo; z < hi; z++ {
			kz, vz := k[z*m*d:(z+1)*m*d], v[z*m*d:(z+1)*m*d]
			dkz, dvz := dk[z*m*d:(z+1)*m*d], dv[z*m*d:(z+1)*m*d]
			clear(kt)
			clear(vt)
			transposeTo(kt, mp, kz, m, d)
			transposeTo(vt, mp, vz, m, d)
			clear(dq[z*n*d : (z+1)*n*d])
			clear(dkz)
			clear(dvz)
			for row := z * n; row < (z+1)*n; row++ {
				qi, gi, dqi := q[row*d:(row+1)*d], g[row*d:(row+1)*d], dq[row*d:(row+1)*d]
				di := dot(gi, out[row*d:(row+1)*d])
				// P_ij = exp(scale·q_i·k_j − lse_i), g_i·v_j.
				scores8(p, qi, kt, mp, float32(scale))
				expShifted8(p, p, lse[row])
				scores8(dp, gi, vt, mp, 1)
				for j := range m {
					ds := float32(scale) * p[j] * (dp[j] - di)
					axpy8(dqi, ds, kz[j*d:(j+1)*d])
					axpy8(dkz[j*d:(j+1)*d], ds, qi)
					axpy8(dvz[j*d:(j+1)*d], p[j], gi)
				}
			}
		}
	})
	return true
}

// scores8 sets s[j] = scale·Σ_c x[c]·t[c·mp+j] for j < mp (a multiple of 8):
// x times the transposed keys t, 8 keys at a time.
func scores8(s, x, t []float32, mp int, scale float32) {
	sc := archsimd.BroadcastFloat32x8(scale)
	for j := 0; j < mp; j += 8 {
		var acc archsimd.Float32x8
		for c, xc := range x {
			acc = archsimd.BroadcastFloat32x8(xc).MulAdd(archsimd.LoadFloat32x8Slice(t[c*mp+j:]), acc)
		}
		acc.Mul(sc).StoreSlice(s[j:])
	}
	archsimd.ClearAVXUpperBits()
}

// axpy8 adds a·x to y (len(x) ≥ len(y)), 8 lanes at a time.
func axpy8(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	va := archsimd.BroadcastFloat32x8(a)
	c := 0
	for ; c+8 <= len(y); c += 8 {
		va.MulAdd(archsimd.LoadFloat32x8Slice(x[c:]), archsimd.LoadFloat32x8Slice(y[c:])).StoreSlice(y[c:])
	}
	archsimd.ClearAVXUpperBits()
	for ; c < len(y); c++ {
		y[c] += a * x[c]
	}
}
