package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestActivationKernels checks the float32 SiLU and sigmoid kernels (SIMD in
// the simd build) and their derivatives against float64 over the whole range,
// saturating ends included.
func TestActivationKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := []float32{-200, -100, -88, -87, -20, -1e-3, 0, 1e-3, 20, 87, 88, 100, 200, float32(math.Inf(1)), float32(math.Inf(-1))}
	for range 1000 {
		x = append(x, float32(rng.NormFloat64()*8))
	}
	for _, tc := range []struct {
		name  string
		f     func(dst, src, d []float32)
		ref   func(z float64) (y, dy float64)
		check func(z float64) bool
	}{
		{"silu", siluF32, func(z float64) (float64, float64) {
			s := sigmoid(z)
			return z * s, s * (1 + z*(1-s))
		}, func(z float64) bool { return !math.IsInf(z, 0) }},
		{"sigmoid", sigmoidF32, func(z float64) (float64, float64) {
			s := sigmoid(z)
			return s, s * (1 - s)
		}, func(float64) bool { return true }},
	} {
		// In place, and into another slice (src unchanged).
		y := append([]float32(nil), x...)
		d := make([]float32, len(x))
		tc.f(y, y, d)
		src := append([]float32(nil), x...)
		out := make([]float32, len(x))
		tc.f(out, src, nil)
		for i := range x {
			if math.Float32bits(out[i]) != math.Float32bits(y[i]) || math.Float32bits(src[i]) != math.Float32bits(x[i]) {
				t.Fatalf("%s out of place: f(%v) = %v (in place %v), src became %v", tc.name, x[i], out[i], y[i], src[i])
			}
		}
		for i, z := range x {
			if !tc.check(float64(z)) {
				continue
			}
			wy, wd := tc.ref(float64(z))
			if math.Abs(float64(y[i])-wy) > 3e-6*(1+math.Abs(wy)) || math.Abs(float64(d[i])-wd) > 3e-6*(1+math.Abs(wd)) {
				t.Fatalf("%s(%v) = %v, %v; want %v, %v", tc.name, z, y[i], d[i], wy, wd)
			}
		}
	}
}
