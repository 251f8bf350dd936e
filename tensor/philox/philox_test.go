package philox

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
)

// TestBlockKnownAnswers checks Block against the Philox4x32-10 known-answer
// vectors published with Random123 (tests/kat_vectors).
func TestBlockKnownAnswers(t *testing.T) {
	tests := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{
			[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0},
			[4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
		},
		{
			[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff},
			[4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
		},
		{
			[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
		},
	}
	for _, tt := range tests {
		if got := Block(tt.ctr, tt.key); got != tt.want {
			t.Errorf("Block(%08x, %08x) = %08x, want %08x", tt.ctr, tt.key, got, tt.want)
		}
	}
}

func TestKeyCounter(t *testing.T) {
	if got, want := Key(0x0123456789abcdef), [2]uint32{0x89abcdef, 0x01234567}; got != want {
		t.Errorf("Key = %08x, want %08x", got, want)
	}
	got := Counter(0x0123456789abcdef, 0xfedcba9876543210)
	if want := [4]uint32{0x76543210, 0xfedcba98, 0x89abcdef, 0x01234567}; got != want {
		t.Errorf("Counter = %08x, want %08x", got, want)
	}
}

// refUniform32 computes element i of Uniform32 from the package
// documentation, in float64: (m + 1/2) * 2^-23 with m the top 23 bits.
func refUniform32(seed, draw uint64, i int) float32 {
	w := Block(Counter(draw, uint64(i/4)), Key(seed))
	return float32((float64(w[i%4]>>9) + 0.5) / (1 << 23))
}

// refUniform64 computes element i of Uniform64 from the package
// documentation.
func refUniform64(seed, draw uint64, i int) float64 {
	w := Block(Counter(draw, uint64(i/2)), Key(seed))
	k := 2 * (i % 2)
	m := (uint64(w[k+1])<<32 | uint64(w[k])) >> 12
	return (float64(m) + 0.5) / (1 << 52)
}

func TestUniformMapping(t *testing.T) {
	for _, seed := range []uint64{0, 1, 0xdeadbeefcafef00d} {
		for _, draw := range []uint64{0, 7, 1 << 40} {
			for _, n := range []int{0, 1, 3, 4, 5, 37} {
				u32 := make([]float32, n)
				Uniform32(seed, draw, u32)
				for i, u := range u32 {
					if want := refUniform32(seed, draw, i); math.Float32bits(u) != math.Float32bits(want) {
						t.Fatalf("Uniform32(%d, %d)[%d] = %v, want %v", seed, draw, i, u, want)
					}
				}
				u64 := make([]float64, n)
				Uniform64(seed, draw, u64)
				for i, u := range u64 {
					if want := refUniform64(seed, draw, i); u != want {
						t.Fatalf("Uniform64(%d, %d)[%d] = %v, want %v", seed, draw, i, u, want)
					}
				}
			}
		}
	}
}

// TestNormalMapping checks that the normals are the Box–Muller transforms
// of the uniforms of the same draw, paired as documented.
func TestNormalMapping(t *testing.T) {
	const seed, draw, n = 99, 3, 43
	u32 := make([]float32, n+1)
	z32 := make([]float32, n)
	Uniform32(seed, draw, u32)
	Normal32(seed, draw, z32)
	for i, z := range z32 {
		// Pairs (u[4j], u[4j+1]) and (u[4j+2], u[4j+3]).
		p := i &^ 1
		r := math.Sqrt(-2 * math.Log(float64(u32[p])))
		want := r * math.Cos(2*math.Pi*float64(u32[p+1]))
		if i%2 == 1 {
			want = r * math.Sin(2*math.Pi*float64(u32[p+1]))
		}
		if z != float32(want) {
			t.Errorf("Normal32(%d, %d)[%d] = %v, want %v", seed, draw, i, z, float32(want))
		}
	}

	u64 := make([]float64, n+1)
	z64 := make([]float64, n)
	Uniform64(seed, draw, u64)
	Normal64(seed, draw, z64)
	for i, z := range z64 {
		p := i &^ 1
		r := math.Sqrt(-2 * math.Log(u64[p]))
		want := r * math.Cos(2*math.Pi*u64[p+1])
		if i%2 == 1 {
			want = r * math.Sin(2*math.Pi*u64[p+1])
		}
		if math.Abs(z-want) > 1e-15*math.Max(1, math.Abs(want)) {
			t.Errorf("Normal64(%d, %d)[%d] = %v, want %v", seed, draw, i, z, want)
		}
	}
}

// TestGolden pins the first outputs for one (seed, draw), as reference
// values for other implementations of the mapping (the GLSL shader).
func TestGolden(t *testing.T) {
	const seed, draw = 0x0123456789abcdef, 42
	// Blocks 0 and 1 of the draw: bbb8d34b 3d0d511d 3998a0ef 268e0d84,
	// 6949a91b fd665716 9889fa3d 05e7cce2.
	wantU32 := []uint32{0x3f3bb8d3, 0x3e743544, 0x3e666284, 0x3e1a3834, 0x3ed29352, 0x3f7d6657, 0x3f1889fb, 0x3cbcf9a0}
	wantN32 := []float32{0.05694198, 0.7856135, 1.009941, 1.4012355, 1.3303133, -0.08501521, 1.006932, 0.14697751}
	wantU64 := []float64{0.23848444915686018, 0.15060505369328558, 0.9898428373065032, 0.023068242379430504}
	wantN64 := []float64{0.9900190595406817, 1.373595504032555, 0.14139392928975997, 0.02063865456370214}
	if got := Block(Counter(draw, 1), Key(seed)); got != [4]uint32{0x6949a91b, 0xfd665716, 0x9889fa3d, 0x05e7cce2} {
		t.Errorf("block 1 = %08x", got)
	}

	u32 := make([]float32, len(wantU32))
	Uniform32(seed, draw, u32)
	for i := range u32 {
		if got := math.Float32bits(u32[i]); got != wantU32[i] {
			t.Errorf("Uniform32[%d] bits = %#08x, want %#08x", i, got, wantU32[i])
		}
	}
	n32 := make([]float32, len(wantN32))
	Normal32(seed, draw, n32)
	for i := range n32 {
		if math.Abs(float64(n32[i]-wantN32[i])) > 1e-6 {
			t.Errorf("Normal32[%d] = %v, want %v", i, n32[i], wantN32[i])
		}
	}
	u64 := make([]float64, len(wantU64))
	Uniform64(seed, draw, u64)
	if !slices.Equal(u64, wantU64) {
		t.Errorf("Uniform64 = %v, want %v", u64, wantU64)
	}
	n64 := make([]float64, len(wantN64))
	Normal64(seed, draw, n64)
	for i := range n64 {
		if math.Abs(n64[i]-wantN64[i]) > 1e-14 {
			t.Errorf("Normal64[%d] = %v, want %v", i, n64[i], wantN64[i])
		}
	}
}

func TestUniformExtremes(t *testing.T) {
	tests := []struct {
		x    uint32
		want float32
	}{
		{0, 0x1p-24},
		{0x1ff, 0x1p-24},
		{0x200, 3 * 0x1p-24},
		{0x80000000, 0.5 + 0x1p-24},
		{0xffffffff, 1 - 0x1p-24},
	}
	for _, tt := range tests {
		if got := u01f32(tt.x); got != tt.want {
			t.Errorf("u01f32(%#x) = %v, want %v", tt.x, got, tt.want)
		}
	}
	// Symmetry about 1/2: U(x) + U(^x) == 1.
	for _, x := range []uint32{0, 1, 12345, 0x7fffffff, 0xdeadbeef} {
		if s := u01f32(x) + u01f32(^x); s != 1 {
			t.Errorf("u01f32(%#x) + u01f32(^%#x) = %v, want 1", x, x, s)
		}
	}
	if got := u01f64(0, 0); got != 0x1p-53 {
		t.Errorf("u01f64(0, 0) = %v, want 2^-53", got)
	}
	if got := u01f64(math.MaxUint32, math.MaxUint32); got != 1-0x1p-53 {
		t.Errorf("u01f64(max, max) = %v, want 1-2^-53", got)
	}
	if got := u01f64(0, 0x80000000); got != 0.5+0x1p-53 {
		t.Errorf("u01f64(0, 1<<31) = %v, want 1/2+2^-53", got)
	}
	if got := u01f64(0xfff, 0); got != 0x1p-53 {
		t.Errorf("u01f64 uses the low 12 bits: %v", got)
	}
	if got := u01f64(0x1000, 0); got != 3*0x1p-53 {
		t.Errorf("u01f64(0x1000, 0) = %v, want 3*2^-53", got)
	}
	// The largest normals are finite.
	z0, z1 := boxMuller(float64(u01f32(0)), float64(u01f32(0)))
	if r := math.Hypot(z0, z1); math.Abs(r-math.Sqrt(48*math.Ln2)) > 1e-12 {
		t.Errorf("largest float32 normal radius = %v, want sqrt(48 ln 2)", r)
	}
}

func TestUniformOpenInterval(t *testing.T) {
	const n = 1 << 20
	u32 := make([]float32, n)
	u64 := make([]float64, n)
	Uniform32(5, 0, u32)
	Uniform64(5, 0, u64)
	for i := range n {
		if !(u32[i] > 0 && u32[i] < 1) {
			t.Fatalf("Uniform32[%d] = %v, not in (0, 1)", i, u32[i])
		}
		if !(u64[i] > 0 && u64[i] < 1) {
			t.Fatalf("Uniform64[%d] = %v, not in (0, 1)", i, u64[i])
		}
	}
}

// fillers lists the four fill functions as functions to float64 outputs,
// with their serial implementation, for generic tests.
type fillCase struct {
	name     string
	fill     func(seed, draw uint64, n int) []float64
	serial   func(seed, draw uint64, n int) []float64
	parallel func(seed, draw uint64, n, workers int) []float64
}

func fillCases() []fillCase {
	return []fillCase{
		makeCase("Uniform32", Uniform32, 4, uniform32),
		makeCase("Uniform64", Uniform64, 2, uniform64),
		makeCase("Normal32", Normal32, 4, normal32),
		makeCase("Normal64", Normal64, 2, normal64),
	}
}

func makeCase[T float32 | float64](name string, pub func(seed, draw uint64, out []T), perBlock int, f filler[T]) fillCase {
	widen := func(v []T) []float64 {
		w := make([]float64, len(v))
		for i, x := range v {
			w[i] = float64(x)
		}
		return w
	}
	return fillCase{
		name: name,
		fill: func(seed, draw uint64, n int) []float64 {
			out := make([]T, n)
			pub(seed, draw, out)
			return widen(out)
		},
		serial: func(seed, draw uint64, n int) []float64 {
			out := make([]T, n)
			f(Key(seed), draw, 0, out)
			return widen(out)
		},
		parallel: func(seed, draw uint64, n, workers int) []float64 {
			out := make([]T, n)
			fillParallel(Key(seed), draw, out, perBlock, workers, f)
			return widen(out)
		},
	}
}

// identical reports whether a and b hold the same bits.
func identical(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// TestGoroutineInvariance checks that results do not depend on how the
// work is split between goroutines.
func TestGoroutineInvariance(t *testing.T) {
	for _, c := range fillCases() {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range []int{parallelThreshold, parallelThreshold*2 + 3} {
				want := c.serial(11, 5, n)
				if got := c.fill(11, 5, n); !identical(got, want) {
					t.Errorf("n=%d: parallel fill differs from serial fill", n)
				}
				for _, workers := range []int{2, 3, 7, 64} {
					if got := c.parallel(11, 5, n, workers); !identical(got, want) {
						t.Errorf("n=%d: fill with %d goroutines differs from serial fill", n, workers)
					}
				}
			}
			for _, n := range []int{1, 2, 5, 9, 31} {
				if got, want := c.parallel(11, 5, n, 4), c.serial(11, 5, n); !identical(got, want) {
					t.Errorf("n=%d: small split fill differs from serial fill", n)
				}
			}
		})
	}
}

func TestGOMAXPROCSInvariance(t *testing.T) {
	n := 3*parallelThreshold + 1
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range fillCases() {
		runtime.GOMAXPROCS(1)
		want := c.fill(3, 4, n)
		for _, procs := range []int{2, 5, 16} {
			runtime.GOMAXPROCS(procs)
			if got := c.fill(3, 4, n); !identical(got, want) {
				t.Errorf("%s: GOMAXPROCS=%d changes the result", c.name, procs)
			}
		}
	}
}

// TestPrefix checks that element i does not depend on the output length.
func TestPrefix(t *testing.T) {
	for _, c := range fillCases() {
		long := c.fill(8, 1, parallelThreshold+100)
		for _, n := range []int{0, 1, 2, 3, 4, 5, 1000} {
			if got := c.fill(8, 1, n); !identical(got, long[:n]) {
				t.Errorf("%s: first %d elements differ from a longer fill", c.name, n)
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	for _, c := range fillCases() {
		if a, b := c.fill(1, 2, 1000), c.fill(1, 2, 1000); !identical(a, b) {
			t.Errorf("%s is not deterministic", c.name)
		}
	}
}

// TestStreamsDiffer checks that changing any 32-bit half of the seed or
// draw changes the numbers.
func TestStreamsDiffer(t *testing.T) {
	pairs := [][2]uint64{
		{0, 0}, {1, 0}, {0, 1}, {1 << 32, 0}, {0, 1 << 32}, {1, 1}, {math.MaxUint64, math.MaxUint64},
	}
	for _, c := range fillCases() {
		const n = 256
		var outs [][]float64
		for _, p := range pairs {
			outs = append(outs, c.fill(p[0], p[1], n))
		}
		for a := range outs {
			for b := a + 1; b < len(outs); b++ {
				same := 0
				for i := range n {
					if outs[a][i] == outs[b][i] {
						same++
					}
				}
				if same > 2 {
					t.Errorf("%s: (seed, draw) %v and %v share %d of %d values", c.name, pairs[a], pairs[b], same, n)
				}
			}
		}
	}
}

// moments returns the sample mean and the sample central moments 2 to 4,
// and the lag-1 autocorrelation.
func moments(v []float64) (mean, m2, m3, m4, lag1 float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for i, x := range v {
		d := x - mean
		m2 += d * d
		m3 += d * d * d
		m4 += d * d * d * d
		if i > 0 {
			lag1 += d * (v[i-1] - mean)
		}
	}
	n := float64(len(v))
	return mean, m2 / n, m3 / n, m4 / n, lag1 / (n - 1) / (m2 / n)
}

// chiSquare returns the chi-square statistic of the counts of v in bins
// equiprobable under the distribution function cdf.
func chiSquare(v []float64, bins int, cdf func(float64) float64) float64 {
	counts := make([]float64, bins)
	for _, x := range v {
		b := int(cdf(x) * float64(bins))
		counts[min(max(b, 0), bins-1)]++
	}
	exp := float64(len(v)) / float64(bins)
	var chi2 float64
	for _, c := range counts {
		chi2 += (c - exp) * (c - exp) / exp
	}
	return chi2
}

// within fails t unless got is within 5 standard errors se of want.
func within(t *testing.T, what string, got, want, se float64) {
	t.Helper()
	if math.Abs(got-want) > 5*se {
		t.Errorf("%s = %.6g, want %.6g ± %.3g (5 standard errors)", what, got, want, 5*se)
	}
}

func TestNormalStatistics(t *testing.T) {
	const n = 1_000_000
	phi := func(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
	for _, c := range fillCases()[2:] {
		t.Run(c.name, func(t *testing.T) {
			v := c.fill(2024, 0, n)
			mean, m2, m3, m4, lag1 := moments(v)
			// Standard errors of the sample moments of a standard normal:
			// sqrt(Var(X^k)/n) with Var(X)=1, Var(X^2)=2, Var(X^3)=15, Var(X^4)=96.
			within(t, "mean", mean, 0, math.Sqrt(1.0/n))
			within(t, "variance", m2, 1, math.Sqrt(2.0/n))
			within(t, "third moment", m3, 0, math.Sqrt(15.0/n))
			within(t, "fourth moment", m4, 3, math.Sqrt(96.0/n))
			within(t, "lag-1 autocorrelation", lag1, 0, math.Sqrt(1.0/n))
			// Chi-square with 99 degrees of freedom: mean 99, variance 198.
			within(t, "chi-square over 100 bins", chiSquare(v, 100, phi), 99, math.Sqrt(198))
			// The pairs sharing a radius, (z[2k], z[2k+1]), are uncorrelated
			// and their squared radius is exponential with mean 2.
			var cross, r2 float64
			for i := 0; i < n; i += 2 {
				cross += v[i] * v[i+1]
				r2 += v[i]*v[i] + v[i+1]*v[i+1]
			}
			within(t, "pair correlation", cross/(n/2), 0, math.Sqrt(1.0/(n/2)))
			within(t, "mean squared radius", r2/(n/2), 2, math.Sqrt(4.0/(n/2)))
		})
	}
}

func TestUniformStatistics(t *testing.T) {
	const n = 1_000_000
	for _, c := range fillCases()[:2] {
		t.Run(c.name, func(t *testing.T) {
			v := c.fill(77, 1, n)
			mean, m2, _, _, lag1 := moments(v)
			// Var(U) = 1/12, Var((U-1/2)^2) = 1/80 - 1/144 = 1/180.
			within(t, "mean", mean, 0.5, math.Sqrt(1.0/12/n))
			within(t, "variance", m2, 1.0/12, math.Sqrt(1.0/180/n))
			within(t, "lag-1 autocorrelation", lag1, 0, math.Sqrt(1.0/n))
			within(t, "chi-square over 1000 bins", chiSquare(v, 1000, func(u float64) float64 { return u }), 999, math.Sqrt(2*999))
		})
	}
}

func TestSource(t *testing.T) {
	const seed, n = 123, 10
	s := NewSource(seed)
	a := make([]float32, n)
	s.NextNormal32(a)
	b := make([]float64, n)
	s.NextNormal64(b)
	c := make([]float32, n)
	s.NextUniform32(c)
	d := make([]float64, n)
	s.NextUniform64(d)
	if next := s.Next(); next != 4 {
		t.Errorf("Next after four draws = %d, want 4", next)
	}
	if *s != (Source{Seed: seed, Draw: 5}) {
		t.Errorf("Source = %+v, want {Seed:123 Draw:5}", *s)
	}
	cases := fillCases()
	for draw, tt := range []struct {
		got []float64
		c   fillCase
	}{{widen32(a), cases[2]}, {b, cases[3]}, {widen32(c), cases[0]}, {d, cases[1]}} {
		if want := tt.c.fill(seed, uint64(draw), n); !identical(tt.got, want) {
			t.Errorf("draw %d of the Source differs from %s(%d, %d)", draw, tt.c.name, seed, draw)
		}
	}

	// Resuming from a saved state continues the sequence.
	saved := *s
	x := make([]float32, n)
	s.NextNormal32(x)
	y := make([]float32, n)
	saved.NextNormal32(y)
	if !slices.Equal(x, y) {
		t.Errorf("resumed Source differs")
	}

	var zero Source
	z := make([]float32, n)
	zero.NextUniform32(z)
	want := make([]float32, n)
	Uniform32(0, 0, want)
	if !slices.Equal(z, want) {
		t.Errorf("zero Source differs from seed 0, draw 0")
	}
}

func widen32(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

func BenchmarkBlock(b *testing.B) {
	var ctr [4]uint32
	key := Key(1)
	for b.Loop() {
		ctr[0]++
		ctr = Block(ctr, key)
	}
}

func BenchmarkFill(b *testing.B) {
	for _, n := range []int{4096, 1 << 20} {
		for _, bc := range []struct {
			name string
			run  func(draw uint64)
		}{
			{"Normal32", func(d uint64) { Normal32(1, d, make32(n)) }},
			{"Normal64", func(d uint64) { Normal64(1, d, make64(n)) }},
			{"Uniform32", func(d uint64) { Uniform32(1, d, make32(n)) }},
			{"Uniform64", func(d uint64) { Uniform64(1, d, make64(n)) }},
		} {
			b.Run(fmt.Sprintf("%s/n=%d", bc.name, n), func(b *testing.B) {
				var d uint64
				for b.Loop() {
					bc.run(d)
					d++
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
			})
		}
	}
}

// Output buffers reused by the benchmarks, so that they time the generator
// rather than the allocator.
var (
	buf32 []float32
	buf64 []float64
)

func make32(n int) []float32 {
	if len(buf32) != n {
		buf32 = make([]float32, n)
	}
	return buf32
}

func make64(n int) []float64 {
	if len(buf64) != n {
		buf64 = make([]float64, n)
	}
	return buf64
}
