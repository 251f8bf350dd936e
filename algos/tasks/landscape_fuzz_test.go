package tasks

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
)

// syntheticLandscape is a valid landscape file: every 8-mer with its
// reverse complement once, E-scores from the index.
func syntheticLandscape() []byte {
	var b bytes.Buffer
	b.WriteString("8-mer\t8-mer\tE-score\tMedian\tZ-score\n")
	for s := range NumSeqs {
		if rc := ReverseComplement(s); rc >= s {
			fmt.Fprintf(&b, "%s\t%s\t%g\t0\t0\n", SeqString(s), SeqString(rc), float64(s%97)/97-0.5)
		}
	}
	return b.Bytes()
}

// TestLandscapeOfHugeRange: E-scores whose range overflows a float64 gave a
// NaN reward (a case of FuzzParseLandscape's property, found by reading the
// code); they are refused.
func TestLandscapeOfHugeRange(t *testing.T) {
	lines := strings.Split(string(syntheticLandscape()), "\n")
	for i, e := range map[int]string{1: "-1e308", 2: "1e308"} {
		f := strings.Split(lines[i], "\t")
		f[2] = e
		lines[i] = strings.Join(f, "\t")
	}
	_, err := ParseLandscape(strings.NewReader(strings.Join(lines, "\n")))
	if err == nil || !strings.Contains(err.Error(), "nothing to normalize") {
		t.Errorf("a landscape spanning ±1e308: %v", err)
	}
}

// FuzzParseLandscape checks that the landscape parser never panics, that a
// rejected file's error names a line (or what the file lacks), and that an
// accepted one gives every 8-mer a finite reward in [0, 1], shared with its
// reverse complement.
func FuzzParseLandscape(f *testing.F) {
	valid := syntheticLandscape()
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte("8-mer\t8-mer\tE-score\tMedian\tZ-score\nAAAAAAAA\tTTTTTTTT\t0.1\t0\t0\n"))
	f.Add([]byte("8-mer\t8-mer\tE-score\tMedian\tZ-score\r\nAAAAAAAA\tTTTTTTTT\tNaN\t0\t0\r\n"))
	f.Add([]byte(""))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := ParseLandscape(bytes.NewReader(raw))
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "line ") && !strings.Contains(msg, "missing") && msg != "empty file" && !strings.Contains(msg, "nothing to normalize") {
				t.Fatalf("error %q names no line", msg)
			}
			return
		}
		if len(l.Y) != NumSeqs || len(l.E) != NumSeqs {
			t.Fatalf("%d rewards", len(l.Y))
		}
		for s, y := range l.Y {
			if math.IsNaN(y) || y < 0 || y > 1 {
				t.Fatalf("y(%s) = %v", SeqString(s), y)
			}
			if y != l.Y[ReverseComplement(s)] {
				t.Fatalf("%s and its reverse complement differ", SeqString(s))
			}
		}
		for _, r := range l.Rows {
			if r[1] != ReverseComplement(r[0]) {
				t.Fatalf("row %v", r)
			}
		}
	})
}
