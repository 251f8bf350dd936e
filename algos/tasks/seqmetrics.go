package tasks

import (
	"cmp"
	"math"
	"slices"

	"github.com/difftune/difftune/algos"
)

// RMSE is the root-mean-square difference between two equally long slices.
func RMSE(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s / float64(len(a)))
}

// ranks returns the rank of every value (1 for the smallest), ties sharing
// the average of their ranks.
func ranks(v []float64) []float64 {
	order := make([]int, len(v))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return cmp.Compare(v[i], v[j]) })
	r := make([]float64, len(v))
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && v[order[hi]] == v[order[lo]] {
			hi++
		}
		avg := float64(lo+hi+1) / 2 // ranks lo+1 … hi
		for _, i := range order[lo:hi] {
			r[i] = avg
		}
		lo = hi
	}
	return r
}

// Pearson is the correlation coefficient of a and b (NaN if either is
// constant).
func Pearson(a, b []float64) float64 {
	ma, mb := algos.Mean(a), algos.Mean(b)
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	return sab / math.Sqrt(saa*sbb)
}

// Spearman is the rank correlation of a and b (average ranks for ties).
func Spearman(a, b []float64) float64 { return Pearson(ranks(a), ranks(b)) }

// HammingDiversity is the mean pairwise Hamming distance between sequences
// (indices), on at most 1000 of them.
func HammingDiversity(seqs []int) float64 {
	seqs = seqs[:min(len(seqs), 1000)]
	var s float64
	var count int
	for i := range seqs {
		for j := i + 1; j < len(seqs); j++ {
			s += float64(Hamming(seqs[i], seqs[j]))
			count++
		}
	}
	return s / float64(count)
}

// UniqueFraction is the number of distinct values over the number of values.
func UniqueFraction(seqs []int) float64 {
	seen := make(map[int]bool, len(seqs))
	for _, s := range seqs {
		seen[s] = true
	}
	return float64(len(seen)) / float64(len(seqs))
}

// SequenceStats compares the letter statistics of sampled sequences with
// those of a data set: per position (8 × 4 frequencies) and per pair of
// positions (28 × 16). Noise is the standard deviation of a frequency of 1/4
// (of 1/16 for pairs) estimated from as many samples, the scale that the
// differences are to be read against.
type SequenceStats struct {
	Samples            int          `json:"samples"`
	PositionMaxAbsDiff algos.Number `json:"position_max_abs_diff"`
	PositionNoise      algos.Number `json:"position_noise"`
	PairMaxAbsDiff     algos.Number `json:"pair_max_abs_diff"`
	PairNoise          algos.Number `json:"pair_noise"`
	// PairTV is the total-variation distance between the 16-letter-pair
	// tables, averaged over the 28 pairs of positions.
	PairTV algos.Number `json:"pair_tv"`
}

// letterTables counts the per-position and per-pair letter frequencies.
func letterTables(seqs []int) (pos [SeqLen][4]float64, pair [SeqLen][SeqLen][16]float64) {
	var digits [SeqLen]int
	w := 1 / float64(len(seqs))
	for _, s := range seqs {
		for i := SeqLen - 1; i >= 0; i-- {
			digits[i] = s & 3
			s >>= 2
		}
		for i, a := range digits {
			pos[i][a] += w
			for j := i + 1; j < SeqLen; j++ {
				pair[i][j][a*4+digits[j]] += w
			}
		}
	}
	return pos, pair
}

// CompareSequenceStats compares samples against data (both sequence indices).
func CompareSequenceStats(samples, data []int) SequenceStats {
	ps, qs := letterTables(samples)
	pd, qd := letterTables(data)
	n := float64(len(samples))
	st := SequenceStats{Samples: len(samples),
		PositionNoise: algos.Number(math.Sqrt(0.25 * 0.75 / n)), PairNoise: algos.Number(math.Sqrt(1.0 / 16 * 15 / 16 / n))}
	var pos, pair, tv float64
	for i := range SeqLen {
		for a := range 4 {
			pos = math.Max(pos, math.Abs(ps[i][a]-pd[i][a]))
		}
		for j := i + 1; j < SeqLen; j++ {
			var t float64
			for c := range 16 {
				d := math.Abs(qs[i][j][c] - qd[i][j][c])
				pair = math.Max(pair, d)
				t += d / 2
			}
			tv += t / (SeqLen * (SeqLen - 1) / 2)
		}
	}
	st.PositionMaxAbsDiff, st.PairMaxAbsDiff, st.PairTV = algos.Number(pos), algos.Number(pair), algos.Number(tv)
	return st
}
