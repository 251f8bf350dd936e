package tasks

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difftune/difftune/autograd"
	tfdata "github.com/difftune/difftune/data/tfbind8"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// landscape is the embedded SIX6 landscape (package data/tfbind8).
func landscape(t *testing.T) *Landscape {
	t.Helper()
	l, err := EmbeddedLandscape()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// landscapeText is the decompressed text of the embedded landscape file.
func landscapeText(t *testing.T) []byte {
	t.Helper()
	r, err := tfdata.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestOpenLandscape checks that the embedded landscape and the same text read
// from a file through LoadLandscape are one landscape.
func TestOpenLandscape(t *testing.T) {
	emb, err := OpenLandscape("")
	if err != nil {
		t.Fatal(err)
	}
	if emb.Path != tfdata.Name {
		t.Errorf("embedded landscape has Path %q, want %q", emb.Path, tfdata.Name)
	}
	path := filepath.Join(t.TempDir(), "SIX6_REF_R1_8mers.txt")
	if err := os.WriteFile(path, landscapeText(t), 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := LoadLandscape(path)
	if err != nil {
		t.Fatal(err)
	}
	if file.Path != path {
		t.Errorf("loaded landscape has Path %q, want %q", file.Path, path)
	}
	if viaOpen, err := OpenLandscape(path); err != nil || viaOpen.Digest() != file.Digest() || viaOpen.Path != path {
		t.Errorf("OpenLandscape(%q) differs from LoadLandscape: %v", path, err)
	}
	if len(emb.Y) != len(file.Y) {
		t.Fatalf("%d and %d rewards", len(emb.Y), len(file.Y))
	}
	for s := range emb.Y {
		if emb.Y[s] != file.Y[s] {
			t.Fatalf("y(%s) = %v embedded, %v from the file", SeqString(s), emb.Y[s], file.Y[s])
		}
	}
	if emb.Digest() != file.Digest() {
		t.Errorf("digests differ: %s embedded, %s from the file", emb.Digest(), file.Digest())
	}
}

func TestLoadSIX6(t *testing.T) {
	l := landscape(t)
	if len(l.Rows) != 32896 {
		t.Errorf("%d rows, want 32,896", len(l.Rows))
	}
	if l.EMin != -0.47907 || l.EMax != 0.49105 {
		t.Errorf("E range [%v, %v], want [−0.47907, 0.49105] (data/tfbind8/README.md)", l.EMin, l.EMax)
	}
	// The top 8-mer has y = 1, and so has its reverse complement.
	for _, s := range []string{"AGGTATCA", "TGATACCT", "aggtatca"} {
		if y, err := l.Lookup(s); err != nil || y != 1 {
			t.Errorf("y(%s) = %v, %v; want 1", s, y, err)
		}
	}
	// Row 2 of the file: AAAAAAAC / GTTTTTTT, E = −0.12351.
	want := (-0.12351 + 0.47907) / (0.49105 + 0.47907)
	for _, s := range []string{"AAAAAAAC", "GTTTTTTT"} {
		if y, _ := l.Lookup(s); math.Abs(y-want) > 1e-12 {
			t.Errorf("y(%s) = %v, want %v", s, y, want)
		}
	}
	min, max := 1.0, 0.0
	for s, y := range l.Y {
		min, max = math.Min(min, y), math.Max(max, y)
		if l.Y[ReverseComplement(s)] != y {
			t.Fatalf("%s and its reverse complement differ", SeqString(s))
		}
	}
	if min != 0 || max != 1 {
		t.Errorf("y spans [%v, %v], want [0, 1]", min, max)
	}
	if _, err := l.Lookup("AGGTATC"); err == nil {
		t.Error("a 7-mer was looked up")
	}
}

// TestMalformedLandscapes breaks the real file one way at a time: every error
// names the line (or the missing sequence).
func TestMalformedLandscapes(t *testing.T) {
	raw := landscapeText(t)
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	edit := func(line int, text string) string { // line counts from 1
		out := append([]string(nil), lines...)
		out[line-1] = text
		return strings.Join(out, "\n") + "\n"
	}
	cases := []struct {
		name, file, want string
	}{
		{"header", edit(1, "seq\trc\tscore"), "line 1"},
		{"fields", edit(5, "AAAAAAAT\tATTTTTTT\t-0.03747"), "line 5: 3 tab-separated fields"},
		{"letter", edit(7, "AAAAAACB\tGTTTTTTT\t0.1\t1\t1"), `line 7: "AAAAAACB" is not an 8-mer`},
		{"length", edit(7, "AAAAAAC\tGTTTTTT\t0.1\t1\t1"), "line 7"},
		{"complement", edit(3, "AAAAAAAC\tGTTTTTTA\t0.1\t1\t1"), "line 3: GTTTTTTA is not the reverse complement of AAAAAAAC"},
		{"score", edit(4, "AAAAAAAG\tCTTTTTTT\tabc\t1\t1"), `line 4: E-score "abc"`},
		{"nan", edit(4, "AAAAAAAG\tCTTTTTTT\tNaN\t1\t1"), "line 4"},
		{"duplicate", edit(4, strings.Replace(lines[1], "\t", "\t", 1)), "line 4: AAAAAAAA already given on line 2"},
		{"missing", strings.Join(lines[:len(lines)-1], "\n"), "missing"},
		{"empty", "", "empty"},
	}
	for _, c := range cases {
		_, err := ParseLandscape(strings.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// Through LoadLandscape the error also names the file.
	path := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(path, []byte(edit(9, "x")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLandscape(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 9") {
		t.Errorf("error %v does not name %s and line 9", err, path)
	}
	if _, err := LoadLandscape(filepath.Join(t.TempDir(), "none.txt")); err == nil || !strings.Contains(err.Error(), "none.txt") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSequenceCoding(t *testing.T) {
	for _, s := range []string{"AAAAAAAA", "AGGTATCA", "TTTTTTTT", "ACGTACGT"} {
		i, ok := SeqIndex(s)
		if !ok || SeqString(i) != s {
			t.Errorf("%s → %d → %s", s, i, SeqString(i))
		}
	}
	if i, _ := SeqIndex("AAAAAAAC"); i != 1 {
		t.Errorf("AAAAAAAC has index %d, want 1 (last position least significant)", i)
	}
	for s, want := range map[string]string{"AAAAAAAC": "GTTTTTTT", "AGGTATCA": "TGATACCT", "ACGTACGT": "ACGTACGT"} {
		i, _ := SeqIndex(s)
		if got := SeqString(ReverseComplement(i)); got != want {
			t.Errorf("reverse complement of %s = %s, want %s", s, got, want)
		}
	}
	for i := 0; i < NumSeqs; i += 97 {
		if ReverseComplement(ReverseComplement(i)) != i {
			t.Fatalf("reverse complement is not an involution at %s", SeqString(i))
		}
	}
	// One-hot: position i, letter d at 4i + d; decoding returns the sequence
	// at distance 0, and argmax decoding of a perturbed point.
	idx, _ := SeqIndex("AGGTATCA")
	x := make([]float64, OneHotDim)
	OneHot(idx, x)
	want := []int{0, 2, 2, 3, 0, 3, 1, 0}
	for p, d := range want {
		for j := range 4 {
			if v := x[p*4+j]; v != map[bool]float64{true: 1, false: 0}[j == d] {
				t.Fatalf("one-hot of AGGTATCA at position %d, letter %d = %v", p, j, v)
			}
		}
	}
	if got, dist := Decode(x); got != idx || dist != 0 {
		t.Errorf("decode of a vertex: %s at %v", SeqString(got), dist)
	}
	x[1*4+2], x[1*4+3] = 0.4, 0.6 // position 2: T beats G
	x[0] = -0.5                   // position 1: all of C, G, T (0) beat A: the first wins
	got, dist := Decode(x)
	if SeqString(got) != "CTGTATCA" {
		t.Errorf("decoded %s, want CTGTATCA", SeqString(got))
	}
	// Distance to the vertex of CTGTATCA: position 1 (−0.5, 0, 0, 0) vs C,
	// position 2 (0, 0, 0.4, 0.6) vs T.
	if wantD := math.Sqrt(0.25 + 1 + 0.16 + 0.16); math.Abs(dist-wantD) > 1e-12 {
		t.Errorf("distance %v, want %v", dist, wantD)
	}
	seqs, _ := DecodeAll(append(OneHots([]int{5, 77}), x...))
	if len(seqs) != 3 || seqs[0] != 5 || seqs[1] != 77 || seqs[2] != got {
		t.Errorf("DecodeAll: %v", seqs)
	}
	a, _ := SeqIndex("AGGTATCA")
	b, _ := SeqIndex("AGCTATGA")
	if d := Hamming(a, b); d != 2 {
		t.Errorf("Hamming(AGGTATCA, AGCTATGA) = %d", d)
	}
	if d := Hamming(0, NumSeqs-1); d != 8 {
		t.Errorf("Hamming(AAAAAAAA, TTTTTTTT) = %d", d)
	}
}

func TestSplits(t *testing.T) {
	l := landscape(t)
	for _, kind := range []string{"random", "bottom"} {
		in, err := l.Split(kind, 1)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var yin, yout float64
		for s, ok := range in {
			if ok != in[ReverseComplement(s)] {
				t.Fatalf("%s: %s and its reverse complement are split", kind, SeqString(s))
			}
			if ok {
				n++
				yin += l.Y[s]
			} else {
				yout += l.Y[s]
			}
		}
		if n < NumSeqs*49/100 || n > NumSeqs*51/100 {
			t.Errorf("%s: %d sequences in the half", kind, n)
		}
		yin, yout = yin/float64(n), yout/float64(NumSeqs-n)
		switch {
		case kind == "bottom" && !(yin < yout-0.2):
			t.Errorf("bottom half has mean y %v, the other %v", yin, yout)
		case kind == "random" && math.Abs(yin-yout) > 0.01:
			t.Errorf("random halves have mean y %v and %v", yin, yout)
		}
	}
	if _, err := l.Split("top", 1); err == nil {
		t.Error("unknown split accepted")
	}
}

// TestMLPRewardInputGrad checks the written-out gradient of r̂ against
// backpropagation, and that it is itself differentiable (finite
// differences of a function of it).
func TestMLPRewardInputGrad(t *testing.T) {
	b := tensor.CPUReference()
	r := NewMLPReward(&nn.Init{Backend: b, DType: tensor.Float64, Seed: 4}, "test", 6, 5, 4)
	x := autograd.Param(tensor.RandNormal(b, tensor.Float64, 1, 1, 3, 6))
	autograd.SumAll(r.Eval(x)).Backward()
	got := r.InputGrad(x).Value.Float64s()
	for i, want := range x.Grad.Float64s() {
		if math.Abs(got[i]-want) > 1e-12 {
			t.Fatalf("∇r̂ element %d = %v, backpropagation gives %v", i, got[i], want)
		}
	}
	w := autograd.Const(tensor.RandNormal(b, tensor.Float64, 2, 1, 3, 6))
	loss := func(in []*autograd.Var) *autograd.Var { return autograd.SumAll(autograd.Mul(r.InputGrad(in[0]), w)) }
	if err := autograd.CheckGradients(loss, []*autograd.Var{autograd.Param(x.Value)}, 1e-6, 1e-6); err != nil {
		t.Fatal(err)
	}
	byAutograd := autograd.InputGrad(func(in *autograd.Var) *autograd.Var { return r.Eval(in) }, x.Value).Float64s()
	for i, v := range r.InputGrad(autograd.Const(x.Value)).Value.Float64s() {
		if math.Abs(v-byAutograd[i]) > 1e-12 {
			t.Fatalf("∇r̂ element %d = %v, autograd.InputGrad gives %v", i, v, byAutograd[i])
		}
	}
	if v := r.Values(x.Value.Float64s()[:6])[0]; math.Abs(v-r.Eval(x).Value.Float64s()[0]) > 1e-12 || !(v > 0 && v < 1) {
		t.Errorf("Values = %v", v)
	}
}
