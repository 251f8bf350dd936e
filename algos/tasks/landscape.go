package tasks

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// The TFBind8 sequence space (ALGORITHMS.md §5): 8-mers over A, C, G, T,
// one-hot encoded as 8 × 4 and relaxed to R³².
const (
	SeqLen    = 8
	Alphabet  = "ACGT"
	NumSeqs   = 1 << (2 * SeqLen) // 4⁸ = 65,536
	OneHotDim = SeqLen * len(Alphabet)
)

// Landscape is a TFBind8 landscape: the genuine reward y of every 8-mer,
// y = (E − Emin)/(Emax − Emin) with Emin and Emax the extreme E-scores of the
// file (data/tfbind8/README.md). Sequences are indexed in base 4 with the
// first position most significant (A = 0, C = 1, G = 2, T = 3).
type Landscape struct {
	Path       string
	Y          []float64 // [NumSeqs]
	E          []float64 // the E-score of every sequence
	EMin, EMax float64
	// Rows lists the file's rows: Rows[i] holds the index of the 8-mer of
	// row i and of its reverse complement (equal for a palindrome). Splits
	// are drawn over rows so that a sequence and its reverse complement,
	// which share one reward, fall in the same half.
	Rows [][2]int
}

// LoadLandscape reads a landscape file: a header line, then tab-separated rows
// `8-mer  reverse-complement  E-score  Median  Z-score` that together cover
// every 8-mer once. Errors name the file and the line.
func LoadLandscape(path string) (*Landscape, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tfbind8 landscape: %w", err)
	}
	defer f.Close()
	l, err := ParseLandscape(f)
	if err != nil {
		return nil, fmt.Errorf("tfbind8 landscape %s: %w", path, err)
	}
	l.Path = path
	return l, nil
}

// ParseLandscape reads a landscape in the format of LoadLandscape; errors name
// the line.
func ParseLandscape(r io.Reader) (*Landscape, error) {
	l := &Landscape{Y: make([]float64, NumSeqs), E: make([]float64, NumSeqs)}
	seen := make([]int, NumSeqs) // line that gave each sequence its score (0: none yet)
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			if f := strings.Split(text, "\t"); len(f) != 5 || !strings.EqualFold(f[2], "E-score") {
				return nil, fmt.Errorf("line 1: want the header `8-mer<TAB>8-mer<TAB>E-score<TAB>Median<TAB>Z-score`, got %q", text)
			}
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("line %d: %d tab-separated fields, want 5", line, len(f))
		}
		seq, ok := SeqIndex(f[0])
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not an 8-mer over ACGT", line, f[0])
		}
		rc, ok := SeqIndex(f[1])
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not an 8-mer over ACGT", line, f[1])
		}
		if rc != ReverseComplement(seq) {
			return nil, fmt.Errorf("line %d: %s is not the reverse complement of %s", line, f[1], f[0])
		}
		e, err := strconv.ParseFloat(f[2], 64)
		if err != nil || math.IsNaN(e) || math.IsInf(e, 0) {
			return nil, fmt.Errorf("line %d: E-score %q is not a finite number", line, f[2])
		}
		for _, s := range []int{seq, rc} {
			if prev := seen[s]; prev != 0 && prev != line {
				return nil, fmt.Errorf("line %d: %s already given on line %d", line, SeqString(s), prev)
			}
			seen[s] = line
			l.E[s] = e
		}
		l.Rows = append(l.Rows, [2]int{seq, rc})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if line == 0 {
		return nil, errors.New("empty file")
	}
	for s, at := range seen {
		if at == 0 {
			return nil, fmt.Errorf("%s (and its reverse complement) missing: the rows must cover all %d 8-mers", SeqString(s), NumSeqs)
		}
	}
	l.EMin, l.EMax = math.Inf(1), math.Inf(-1)
	for _, e := range l.E {
		l.EMin, l.EMax = math.Min(l.EMin, e), math.Max(l.EMax, e)
	}
	if !(l.EMax > l.EMin) {
		return nil, fmt.Errorf("every E-score is %v: nothing to normalize", l.EMin)
	}
	if math.IsInf(l.EMax-l.EMin, 0) {
		return nil, fmt.Errorf("the E-scores span %v to %v, beyond a float64: nothing to normalize", l.EMin, l.EMax)
	}
	for s, e := range l.E {
		l.Y[s] = (e - l.EMin) / (l.EMax - l.EMin)
	}
	return l, nil
}

// Digest is a hash of every sequence's E-score: two landscapes with the same
// digest give the same rewards.
func (l *Landscape) Digest() string {
	h := sha256.New()
	var buf [8]byte
	for _, e := range l.E {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(e))
		h.Write(buf[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Lookup returns the genuine reward of a sequence given as letters (upper or
// lower case).
func (l *Landscape) Lookup(seq string) (float64, error) {
	s, ok := SeqIndex(strings.ToUpper(seq))
	if !ok {
		return 0, fmt.Errorf("%q is not an 8-mer over ACGT", seq)
	}
	return l.Y[s], nil
}

// SeqIndex maps an 8-mer over ACGT to its index.
func SeqIndex(s string) (int, bool) {
	if len(s) != SeqLen {
		return 0, false
	}
	idx := 0
	for i := range SeqLen {
		d := strings.IndexByte(Alphabet, s[i])
		if d < 0 {
			return 0, false
		}
		idx = idx<<2 | d
	}
	return idx, true
}

// SeqString is the 8-mer of an index.
func SeqString(idx int) string {
	var b [SeqLen]byte
	for i := SeqLen - 1; i >= 0; i-- {
		b[i] = Alphabet[idx&3]
		idx >>= 2
	}
	return string(b[:])
}

// ReverseComplement is the index of the reverse complement (A↔T, C↔G, read
// backwards); with A, C, G, T = 0…3 the complement of d is 3 − d.
func ReverseComplement(idx int) int {
	rc := 0
	for range SeqLen {
		rc = rc<<2 | (3 - idx&3)
		idx >>= 2
	}
	return rc
}

// OneHot writes the one-hot encoding of sequence idx into x [OneHotDim]:
// x[4i + d] = 1 for the letter d at position i.
func OneHot(idx int, x []float64) {
	clear(x[:OneHotDim])
	for i := SeqLen - 1; i >= 0; i-- {
		x[i*4+idx&3] = 1
		idx >>= 2
	}
}

// OneHots encodes sequences as rows of a [len(idx), OneHotDim] matrix.
func OneHots(idx []int) []float64 {
	out := make([]float64, len(idx)*OneHotDim)
	for r, s := range idx {
		OneHot(s, out[r*OneHotDim:])
	}
	return out
}

// Decode maps a relaxed point x [OneHotDim] to the sequence of the argmax at
// each position (the first letter on ties) and returns its index and the
// Euclidean distance from x to that sequence's one-hot vertex.
func Decode(x []float64) (idx int, dist float64) {
	var sq float64
	for i := range SeqLen {
		blk := x[i*4 : i*4+4]
		d := 0
		for j := 1; j < 4; j++ {
			if blk[j] > blk[d] {
				d = j
			}
		}
		idx = idx<<2 | d
		for j, v := range blk {
			if j == d {
				v--
			}
			sq += v * v
		}
	}
	return idx, math.Sqrt(sq)
}

// DecodeAll decodes every row of x (rows of OneHotDim).
func DecodeAll(x []float64) (idx []int, dist []float64) {
	n := len(x) / OneHotDim
	idx, dist = make([]int, n), make([]float64, n)
	for r := range n {
		idx[r], dist[r] = Decode(x[r*OneHotDim : (r+1)*OneHotDim])
	}
	return idx, dist
}

// Hamming is the number of positions at which two sequences differ.
func Hamming(a, b int) int {
	d := 0
	for range SeqLen {
		if a&3 != b&3 {
			d++
		}
		a >>= 2
		b >>= 2
	}
	return d
}

// MLPReward is a nominal reward r̂: an MLP on the (relaxed) one-hot input with
// a sigmoid output, so that r̂ lies in (0, 1) like y (the oracle of the
// ELEGANT paper, Appendix F.1). It is differentiable in x for the pathwise
// gradient.
type MLPReward struct {
	Net  *nn.MLP
	Spec string
}

// NewMLPReward makes an untrained reward network dim → hidden… → 1.
func NewMLPReward(init *nn.Init, spec string, dim int, hidden ...int) *MLPReward {
	widths := append(append([]int{dim}, hidden...), 1)
	return &MLPReward{Net: nn.NewMLP(init, tensor.ActSiLU, widths...), Spec: spec}
}

// Params implements nn.Module.
func (r *MLPReward) Params() []nn.Param { return r.Net.Params() }

// Eval implements algos.Reward.
func (r *MLPReward) Eval(x *autograd.Var) *autograd.Var {
	return autograd.Reshape(autograd.Sigmoid(r.Net.Forward(x)), x.Value.Dim(0))
}

// Values implements algos.Reward.
func (r *MLPReward) Values(x []float64) []float64 { return r.Batch(x) }

// Batch evaluates r̂ on the rows of x (rows of the network's input width)
// without recording gradients.
func (r *MLPReward) Batch(x []float64) []float64 {
	p := r.Net.Layers[0].W.Value
	return algos.RewardValues(r, p.Backend(), p.DType(), x, r.Net.Layers[0].In())
}

func (r *MLPReward) String() string { return r.Spec }

// Split returns the half of the sequences that a nominal reward is fit on,
// as a mask over sequence indices: "random" takes a random half of the
// file's rows (seeded), "bottom" the rows of the lowest E-scores (the
// Design-Bench convention). A row's sequence and its reverse complement are
// always on the same side.
func (l *Landscape) Split(kind string, seed uint64) ([]bool, error) {
	order := make([]int, len(l.Rows))
	for i := range order {
		order[i] = i
	}
	switch kind {
	case "random":
		rng := rand.New(rand.NewPCG(seed, 0x5b11))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	case "bottom":
		sort.SliceStable(order, func(i, j int) bool { return l.E[l.Rows[order[i]][0]] < l.E[l.Rows[order[j]][0]] })
	default:
		return nil, fmt.Errorf("unknown reward split %q (want random or bottom)", kind)
	}
	in := make([]bool, NumSeqs)
	for _, r := range order[:len(order)/2] {
		in[l.Rows[r][0]], in[l.Rows[r][1]] = true, true
	}
	return in, nil
}

// InputGrad is ∇_x r̂(x) [n, d] for x [n, d], written out with the network's
// weights (one backward pass of the MLP in forward operations), so that it
// is itself differentiable in x and in nothing else that is trainable: the
// control RewardControl uses it inside the rollout that the pathwise
// gradient differentiates. autograd has no double backward; where the
// gradient need not be differentiated again (guidance), autograd.InputGrad
// gives it for any model. The tests check the two against each other.
func (r *MLPReward) InputGrad(x *autograd.Var) *autograd.Var {
	layers := r.Net.Layers
	pre := make([]*autograd.Var, len(layers))
	h := x
	for i, l := range layers {
		pre[i] = autograd.Linear(h, autograd.Const(l.W.Value), autograd.Const(l.B.Value), tensor.ActNone)
		if i < len(layers)-1 {
			h = autograd.Activate(pre[i], r.Net.Act)
		}
	}
	// d sigmoid(o)/do = s(1 − s); back through each layer: g ← (g·Wᵀ) ⊙ act'(z).
	s := autograd.Sigmoid(pre[len(pre)-1])
	g := autograd.Mul(s, autograd.Shift(autograd.Neg(s), 1))
	for i := len(layers) - 1; i >= 0; i-- {
		g = autograd.MatMulT(g, autograd.Const(layers[i].W.Value), false, true)
		if i > 0 {
			g = autograd.Mul(g, activationDeriv(pre[i-1], r.Net.Act))
		}
	}
	return g
}

// activationDeriv is act'(z) for the activations an MLPReward uses.
func activationDeriv(z *autograd.Var, act tensor.Activation) *autograd.Var {
	switch act {
	case tensor.ActSiLU: // σ(z)·(1 + z·(1 − σ(z)))
		s := autograd.Sigmoid(z)
		return autograd.Mul(s, autograd.Shift(autograd.Mul(z, autograd.Shift(autograd.Neg(s), 1)), 1))
	case tensor.ActTanh:
		t := autograd.Tanh(z)
		return autograd.Shift(autograd.Neg(autograd.Square(t)), 1)
	}
	panic(fmt.Sprintf("tasks: no derivative for activation %v", act))
}
