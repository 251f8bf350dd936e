package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// matrix is a rows×cols row-major matrix with row stride ld whose padding
// holds NaN, so that reading it poisons the result.
type matrix struct {
	rows, cols, ld int
	data           []float32
}

func newMatrix(rng *rand.Rand, rows, cols, extra int) matrix {
	ld := max(1, cols) + extra
	m := matrix{rows: rows, cols: cols, ld: ld, data: make([]float32, max(0, (rows-1)*ld+cols)+extra)}
	nan := float32(math.NaN())
	for i := range m.data {
		m.data[i] = nan
	}
	for i := range rows {
		for j := range cols {
			m.data[i*ld+j] = float32(rng.NormFloat64())
		}
	}
	return m
}

func (m matrix) at(i, j int) float64 { return float64(m.data[i*m.ld+j]) }

// op returns element (i, j) of the matrix or of its transpose.
func (m matrix) op(trans bool, i, j int) float64 {
	if trans {
		return m.at(j, i)
	}
	return m.at(i, j)
}

func activate64(act Activation, v float64) float64 {
	switch act {
	case ReLU:
		return math.Max(v, 0)
	case SiLU:
		return v / (1 + math.Exp(-v))
	case Tanh:
		return math.Tanh(v)
	case Sigmoid:
		return 1 / (1 + math.Exp(-v))
	}
	return v
}

// derivative64 is act' at v (1 for None; ReLU's is 0 at 0).
func derivative64(act Activation, v float64) float64 {
	switch act {
	case ReLU:
		if v > 0 {
			return 1
		}
		return 0
	case SiLU:
		s := 1 / (1 + math.Exp(-v))
		return s * (1 + v*(1-s))
	case Tanh:
		t := math.Tanh(v)
		return 1 - t*t
	case Sigmoid:
		s := 1 / (1 + math.Exp(-v))
		return s * (1 - s)
	}
	return 1
}

// testCase is one product to check.
type testCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	extra          int // added to the minimal strides
	ep             *Epilogue
	bias, deriv    bool
	act            Activation
	serial         bool // through SgemmSerial (no epilogue)
}

func (tc testCase) String() string {
	s := fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,alpha=%g,beta=%g,extra=%d", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.extra)
	if tc.ep != nil || tc.bias || tc.deriv || tc.act != None {
		s += fmt.Sprintf(",ep(bias=%v,deriv=%v,act=%v)", tc.bias, tc.deriv, tc.act)
	}
	return s
}

// check runs the product with im (nil: the public API) and compares it with
// a float64 reference.
func (tc testCase) check(t *testing.T, rng *rand.Rand, im *impl) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	a := newMatrix(rng, ar, ac, tc.extra)
	b := newMatrix(rng, br, bc, tc.extra)
	c := newMatrix(rng, tc.m, tc.n, tc.extra)
	epilogue := tc.ep != nil || tc.bias || tc.deriv || tc.act != None
	var ep Epilogue
	if epilogue {
		ep.Act = tc.act
		if tc.bias {
			ep.Bias = make([]float32, tc.n)
			for j := range ep.Bias {
				ep.Bias[j] = float32(rng.NormFloat64())
			}
		}
		if tc.deriv {
			ep.Deriv = make([]float32, tc.m*tc.n)
			for j := range ep.Deriv {
				ep.Deriv[j] = float32(math.NaN())
			}
		}
	}
	alpha, beta := tc.alpha, tc.beta
	if epilogue {
		alpha, beta = 1, 0
	}
	if beta == 0 {
		for i := range tc.m {
			for j := range tc.n {
				c.data[i*c.ld+j] = float32(math.NaN())
			}
		}
	}
	if alpha == 0 {
		// A and B must not be read.
		for i := range a.data {
			a.data[i] = float32(math.NaN())
		}
		for i := range b.data {
			b.data[i] = float32(math.NaN())
		}
	}
	orig := append([]float32(nil), c.data...)

	switch {
	case im != nil && epilogue:
		sgemm(im, tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, a.data, a.ld, b.data, b.ld, 0, c.data, c.ld, &ep)
	case im != nil:
		sgemm(im, tc.transA, tc.transB, tc.m, tc.n, tc.k, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld, nil)
	case tc.serial:
		SgemmSerial(tc.transA, tc.transB, tc.m, tc.n, tc.k, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld)
	case epilogue:
		SgemmEpilogue(tc.transA, tc.transB, tc.m, tc.n, tc.k, a.data, a.ld, b.data, b.ld, c.data, c.ld, ep)
	default:
		Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld)
	}

	// op(A) and op(B)ᵀ as dense float64 rows, for fast dot products.
	opA := make([]float64, tc.m*tc.k)
	opBT := make([]float64, tc.n*tc.k)
	for i := range tc.m {
		for p := range tc.k {
			opA[i*tc.k+p] = a.op(tc.transA, i, p)
		}
	}
	for j := range tc.n {
		for p := range tc.k {
			opBT[j*tc.k+p] = b.op(tc.transB, p, j)
		}
	}
	bad := 0
	for i := range tc.m {
		ai := opA[i*tc.k : (i+1)*tc.k]
		for j := range tc.n {
			var sum, abs float64
			if alpha != 0 {
				for p, bv := range opBT[j*tc.k : (j+1)*tc.k] {
					x := ai[p] * bv
					sum += x
					abs += math.Abs(x)
				}
			}
			v := float64(alpha) * sum
			tol := 1e-5*math.Abs(float64(alpha))*abs + 1e-6
			if beta != 0 {
				old := float64(orig[i*c.ld+j])
				v += float64(beta) * old
				tol += 1e-6 * math.Abs(float64(beta)*old)
			}
			if ep.Bias != nil {
				v += float64(ep.Bias[j])
				tol += 1e-6 * math.Abs(float64(ep.Bias[j]))
			}
			// The derivatives have slopes below 1, and ReLU's step is
			// only checked away from rounding's reach.
			if ep.Deriv != nil && (ep.Act != ReLU || math.Abs(v) > tol) {
				want := derivative64(ep.Act, v)
				tolD := tol + 2e-6*math.Abs(want) + 1e-6
				if got := float64(ep.Deriv[i*tc.n+j]); !(math.Abs(got-want) <= tolD) {
					if bad++; bad <= 5 {
						t.Errorf("%v: Deriv(%d,%d) = %g, want %g ± %g", tc, i, j, got, want, tolD)
					}
				}
			}
			want := activate64(ep.Act, v)
			tolOut := 1.2*tol + 2e-6*math.Abs(want) + 1e-6
			if got := float64(c.data[i*c.ld+j]); !(math.Abs(got-want) <= tolOut) {
				if bad++; bad <= 5 {
					t.Errorf("%v: C(%d,%d) = %g, want %g ± %g", tc, i, j, got, want, tolOut)
				}
			}
		}
	}
	// The padding of C must be untouched.
	for i, v := range c.data {
		if r, col := i/c.ld, i%c.ld; r < tc.m && col < tc.n {
			continue
		}
		if math.Float32bits(v) != math.Float32bits(orig[i]) {
			if bad++; bad <= 5 {
				t.Errorf("%v: padding of C at %d changed from %g to %g", tc, i, orig[i], v)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%v: %d bad values", tc, bad)
	}
}

var transposes = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

// shapes returns the m, n, k triples the tests cover.
func shapes(rng *rand.Rand) [][3]int {
	var s [][3]int
	random := 40
	if quick() {
		random = 10
	}
	for range random {
		s = append(s, [3]int{1 + rng.IntN(70), 1 + rng.IntN(70), 1 + rng.IntN(70)})
	}
	for _, m := range []int{1, 2, 4, 5, 6, 11, 12, 31, 33} {
		for _, n := range []int{1, 2, 15, 16, 17, 32, 33, 64, 65} {
			s = append(s, [3]int{m, n, 1 + rng.IntN(40)})
		}
	}
	for _, k := range []int{0, 1, 2, 3, 34} {
		s = append(s, [3]int{13, 37, k}, [3]int{1, 20, k}, [3]int{20, 1, k})
	}
	s = append(s,
		[3]int{130, 70, 1100}, // several k chunks
		[3]int{23, 520, 300},  // B too large to use in place
		[3]int{97, 2, 256},    // narrow: computed without packing
		[3]int{97, 9, 70},     // narrow: computed as Cᵀ
		[3]int{2, 97, 256},
	)
	if !quick() {
		s = append(s,
			[3]int{300, 257, 129},
			[3]int{250, 600, 20}, // several row and column blocks
		)
	}
	return s
}

// quick reports whether to run fewer cases: with -short, or under the race
// detector (which the parallel tests cover).
func quick() bool { return testing.Short() || raceEnabled }

func TestSgemm(t *testing.T) {
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for _, sh := range shapes(rng) {
				for _, tr := range transposes {
					tc := testCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: 1, extra: rng.IntN(3)}
					switch rng.IntN(4) {
					case 1:
						tc.beta = 1
					case 2:
						tc.alpha, tc.beta = -0.5, 0.25
					case 3:
						tc.alpha, tc.beta = 2, -1
					}
					tc.check(t, rng, im)
				}
			}
		})
	}
}

func TestSgemmAlphaBeta(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, im := range implementations() {
		for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0, 0}, {0, 1}, {0, 2}, {-1.5, 0}, {0.5, -2}, {3, 1}} {
			for _, sh := range [][3]int{{1, 40, 30}, {40, 1, 30}, {17, 45, 13}, {64, 64, 64}, {6, 6, 0}} {
				for _, tr := range transposes {
					tc := testCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: ab[0], beta: ab[1], extra: 1}
					tc.check(t, rng, im)
				}
			}
		}
	}
}

func TestSgemmEpilogue(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	biasDeriv := [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}}
	if quick() {
		biasDeriv = [][2]bool{biasDeriv[0], biasDeriv[3]}
	}
	for _, im := range append(implementations(), nil) {
		for _, act := range []Activation{None, ReLU, SiLU, Tanh, Sigmoid} {
			for _, sh := range [][3]int{{1, 37, 20}, {23, 1, 17}, {37, 2, 40}, {61, 7, 30}, {45, 51, 34}, {11, 70, 0}, {12, 37, 600}, {300, 40, 20}} {
				for _, tr := range transposes {
					for _, bp := range biasDeriv {
						tc := testCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: 1, extra: rng.IntN(3),
							ep: &Epilogue{}, bias: bp[0], deriv: bp[1], act: act}
						tc.check(t, rng, im)
					}
				}
			}
		}
	}
}

// TestActivationRange checks the vector activations against float64 on a
// range of inputs far wider than a network produces.
func TestActivationRange(t *testing.T) {
	var xs []float32
	for x := -120.0; x <= 120; x += 0.37 {
		xs = append(xs, float32(x))
	}
	for x := -2.0; x <= 2; x += 0.0013 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, 1e-30, -1e-30, 1e-5, -1e-5, 87, 89, -87, -89, 1e30, -1e30)
	for _, im := range implementations() {
		for _, act := range []Activation{ReLU, SiLU, Tanh, Sigmoid} {
			got := make([]float32, len(xs))
			im.finish(&update{m: 1, n: len(xs), c: got, acc: xs, alpha: 1, act: act})
			for i, x := range xs {
				want := activate64(act, float64(x))
				if d := math.Abs(float64(got[i]) - want); !(d <= 4e-7*math.Abs(want)+1e-7) {
					t.Errorf("%s %v(%g) = %g, want %g", im.name, act, x, got[i], want)
				}
			}
		}
	}
}

func TestThreads(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(7, 8))
	threads := []int{1, 2, 3, 5}
	if quick() {
		threads = threads[1:3]
	}
	for _, n := range threads {
		SetThreads(n)
		if got := Threads(); got != n {
			t.Fatalf("Threads() = %d after SetThreads(%d)", got, n)
		}
		shapes := [][3]int{{300, 257, 129}, {64, 700, 64}, {203, 256, 256}}
		if quick() {
			shapes = shapes[1:]
		}
		for _, sh := range shapes {
			for _, tr := range transposes[n%2*2 : n%2*2+2] {
				tc := testCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: 1, beta: 0.5}
				tc.check(t, rng, nil)
				tc = testCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: 1, extra: 1,
					ep: &Epilogue{}, bias: true, deriv: true, act: Activation(1 + n%4)}
				tc.check(t, rng, nil)
			}
		}
	}
}

// TestSgemmSerial checks the products SgemmSerial keeps on the calling
// goroutine: sizes that Sgemm would split, in every transpose combination.
func TestSgemmSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sh := range [][3]int{{300, 257, 129}, {64, 700, 600}, {7, 33, 5}} {
		for _, tr := range transposes {
			tc := testCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: 1, beta: 0.5, extra: 3, serial: true}
			tc.check(t, rng, nil)
		}
	}
}

func TestEmpty(t *testing.T) {
	c := []float32{1, 2, 3}
	Sgemm(false, false, 0, 3, 2, 1, nil, 2, make([]float32, 6), 3, 0, c, 3)
	Sgemm(false, false, 1, 0, 2, 1, make([]float32, 2), 2, nil, 1, 0, c, 1)
	SgemmEpilogue(true, true, 3, 0, 0, nil, 3, nil, 1, c, 1, Epilogue{Act: SiLU})
	if c[0] != 1 || c[1] != 2 || c[2] != 3 {
		t.Errorf("empty products wrote C: %v", c)
	}
}

func TestActivationString(t *testing.T) {
	for act, want := range map[Activation]string{None: "None", ReLU: "ReLU", SiLU: "SiLU", Tanh: "Tanh", Sigmoid: "Sigmoid", 7: "Activation(7)"} {
		if got := act.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", act, got, want)
		}
	}
}

func TestPath(t *testing.T) {
	switch p := Path(); p {
	case "avx512", "avx2", "generic":
		t.Logf("path %s", p)
	default:
		t.Errorf("Path() = %q", p)
	}
}

func TestPanics(t *testing.T) {
	x := make([]float32, 100)
	checkPanics(t, []panicCase{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, x, 2, x, 2, 0, x, 2) }},
		{"small lda", func() { Sgemm(false, false, 2, 2, 3, 1, x, 2, x, 2, 0, x, 2) }},
		{"small ldb", func() { Sgemm(false, true, 2, 2, 3, 1, x, 3, x, 2, 0, x, 2) }},
		{"small ldc", func() { Sgemm(false, false, 2, 3, 2, 1, x, 2, x, 3, 0, x, 2) }},
		{"short a", func() { Sgemm(false, false, 20, 2, 10, 1, x, 10, x, 2, 0, x, 2) }},
		{"short c", func() { Sgemm(false, false, 2, 60, 2, 1, x, 2, x[:40], 20, 0, x, 60) }},
		{"short bias", func() { SgemmEpilogue(false, false, 2, 3, 2, x, 2, x, 3, x, 3, Epilogue{Bias: x[:2]}) }},
		{"short deriv", func() { SgemmEpilogue(false, false, 2, 3, 2, x, 2, x, 3, x, 3, Epilogue{Deriv: x[:5]}) }},
		{"bad act", func() { SgemmEpilogue(false, false, 2, 3, 2, x, 2, x, 3, x, 3, Epilogue{Act: 9}) }},
	})
}

// panicCase is a call that must panic.
type panicCase struct {
	name string
	f    func()
}

// checkPanics reports each case whose call does not panic.
func checkPanics(t *testing.T, cases []panicCase) {
	t.Helper()
	for _, c := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.f()
		}()
	}
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sh := range [][3]int{{512, 256, 256}, {512, 2, 256}, {1, 256, 256}, {512, 256, 34}, {7, 9, 5}} {
		m, n, k := sh[0], sh[1], sh[2]
		a := newMatrix(rng, m, k, 0).data
		b := newMatrix(rng, k, n, 0).data
		c := make([]float32, m*n)
		deriv := make([]float32, m*n)
		bias := make([]float32, n)
		allocs := testing.AllocsPerRun(20, func() {
			Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			SgemmEpilogue(false, true, m, n, k, a, k, b, k, c, n, Epilogue{Bias: bias, Act: SiLU, Deriv: deriv})
		})
		if allocs > 0.5 {
			t.Errorf("%v: %g allocations per call", sh, allocs)
		}
	}
}

// TestSgemmEdgeInPlace checks products whose row-major A slice runs past
// its last row (NaN there), so that the kernels read the last, partial
// micro-panel in place: no NaN may reach C.
func TestSgemmEdgeInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, im := range implementations() {
		for _, sh := range [][3]int{{1, 16, 5}, {7, 33, 300}, {16, 16, 784}, {4, 5, 2}} {
			m, n, k := sh[0], sh[1], sh[2]
			lda := k + 1
			a := make([]float32, (m+8)*lda)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
				if i >= m*lda || i%lda == k {
					a[i] = float32(math.NaN())
				}
			}
			b := make([]float32, k*n)
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			c := make([]float32, m*n)
			sgemm(im, false, false, m, n, k, 1, a, lda, b, n, 0, c, n, nil)
			offs := []int{0}
			checkTaps(t, fmt.Sprintf("%s %v", im.name, sh), m, n, k, a, lda, b, n, offs, 0, nil, nil, c, n)
		}
	}
}
