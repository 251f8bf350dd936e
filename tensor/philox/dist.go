package philox

import (
	"math"
	"runtime"

	"github.com/difftune/difftune/tensor/internal/workers"
)

// parallelThreshold is the output length from which the fill functions
// split their work between goroutines.
const parallelThreshold = 1 << 16

// Uniform32 sets out[i] to element i of draw of seed as a float32 uniform
// in (0, 1): U(w[i%4]) of block i/4 (see the package documentation).
//
// Like the other fill functions, Uniform32 splits outputs of 64Ki elements
// or more between up to GOMAXPROCS goroutines; since each element depends
// only on (seed, draw, i), the result is the same bit for bit.
func Uniform32(seed, draw uint64, out []float32) {
	fill(seed, draw, out, 4, uniform32)
}

// Uniform64 sets out[i] to element i of draw of seed as a float64 uniform
// in (0, 1): U64(w[2k], w[2k+1]) of block i/2, with k = i%2 (see the
// package documentation).
func Uniform64(seed, draw uint64, out []float64) {
	fill(seed, draw, out, 2, uniform64)
}

// Normal32 sets out[i] to element i of draw of seed as a standard normal
// float32 variate; block j yields elements 4j to 4j+3 by the Box–Muller
// transform (see the package documentation).
func Normal32(seed, draw uint64, out []float32) {
	fill(seed, draw, out, 4, normal32)
}

// Normal64 sets out[i] to element i of draw of seed as a standard normal
// float64 variate; block j yields elements 2j and 2j+1 by the Box–Muller
// transform (see the package documentation).
func Normal64(seed, draw uint64, out []float64) {
	fill(seed, draw, out, 2, normal64)
}

// u01f32 maps a word to a float32 uniform in (0, 1) using its top 23 bits:
// (2m+1) * 2^-24 with m = x>>9, which float32 represents exactly.
func u01f32(x uint32) float32 {
	return float32(x>>9<<1|1) * 0x1p-24
}

// u01f64 maps two words to a float64 uniform in (0, 1) using the top 52
// bits of hi<<32 | lo: (2m+1) * 2^-53, which float64 represents exactly.
func u01f64(lo, hi uint32) float64 {
	m := (uint64(hi)<<32 | uint64(lo)) >> 12
	return float64(m<<1|1) * 0x1p-53
}

// boxMuller maps two uniforms in (0, 1) to two independent standard normal
// variates.
func boxMuller(u1, u2 float64) (z0, z1 float64) {
	r := math.Sqrt(-2 * math.Log(u1))
	s, c := math.Sincos(2 * math.Pi * u2)
	return r * c, r * s
}

// A filler sets out to consecutive elements of draw starting with those of
// block j; out starts at the first element of block j.
type filler[T float32 | float64] func(key [2]uint32, draw, j uint64, out []T)

func uniform32(key [2]uint32, draw, j uint64, out []float32) {
	for i := 0; i < len(out); i, j = i+4, j+1 {
		w := Block(Counter(draw, j), key)
		v := [4]float32{u01f32(w[0]), u01f32(w[1]), u01f32(w[2]), u01f32(w[3])}
		copy(out[i:], v[:])
	}
}

func uniform64(key [2]uint32, draw, j uint64, out []float64) {
	for i := 0; i < len(out); i, j = i+2, j+1 {
		w := Block(Counter(draw, j), key)
		v := [2]float64{u01f64(w[0], w[1]), u01f64(w[2], w[3])}
		copy(out[i:], v[:])
	}
}

func normal32(key [2]uint32, draw, j uint64, out []float32) {
	for i := 0; i < len(out); i, j = i+4, j+1 {
		w := Block(Counter(draw, j), key)
		a0, a1 := boxMuller(float64(u01f32(w[0])), float64(u01f32(w[1])))
		b0, b1 := boxMuller(float64(u01f32(w[2])), float64(u01f32(w[3])))
		v := [4]float32{float32(a0), float32(a1), float32(b0), float32(b1)}
		copy(out[i:], v[:])
	}
}

func normal64(key [2]uint32, draw, j uint64, out []float64) {
	for i := 0; i < len(out); i, j = i+2, j+1 {
		w := Block(Counter(draw, j), key)
		z0, z1 := boxMuller(u01f64(w[0], w[1]), u01f64(w[2], w[3]))
		v := [2]float64{z0, z1}
		copy(out[i:], v[:])
	}
}

// minChunk is the fewest elements a goroutine is given.
const minChunk = parallelThreshold / 4

// fill sets out to the elements of draw of seed, perBlock per block, in
// parallel when out is long.
func fill[T float32 | float64](seed, draw uint64, out []T, perBlock int, f filler[T]) {
	parts := min(runtime.GOMAXPROCS(0), len(out)/minChunk)
	if len(out) < parallelThreshold || parts < 2 {
		f(Key(seed), draw, 0, out)
		return
	}
	fillParallel(Key(seed), draw, out, perBlock, parts, f)
}

// fillParallel splits out into at most parts runs of whole blocks and
// fills them concurrently, on the caller and the CPU backend's workers
// (package workers). Since every element depends only on its index, the
// result is that of f(key, draw, 0, out).
func fillParallel[T float32 | float64](key [2]uint32, draw uint64, out []T, perBlock, parts int, f filler[T]) {
	blocks := (len(out) + perBlock - 1) / perBlock
	per := (blocks + parts - 1) / parts
	workers.For(blocks, per, parts-1, func(lo, hi int) {
		f(key, draw, uint64(lo), out[lo*perBlock:min(hi*perBlock, len(out))])
	})
}
