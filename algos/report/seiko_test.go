package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos"
)

// seikoSummary is a seed's summary with greedy and UCB runs whose final
// genuine rewards are g and u.
func seikoSummary(pre, g, u float64) algos.Summary {
	curve := func(end float64) [][2]algos.Number {
		return [][2]algos.Number{{0, algos.Number(pre)}, {64, algos.Number(end / 2)}, {192, algos.Number(end)}}
	}
	return algos.Summary{Task: "gmm2d", Budget: 192,
		Runs:       []algos.RunInfo{{Name: "pretrained"}, {Name: "seiko-greedy"}, {Name: "seiko-ucb"}},
		Pretrained: &algos.PretrainedSummary{RewardGenuine: algos.Number(pre)},
		Variants: map[string]algos.VariantSummary{
			"greedy": {Queries: 192, RewardGenuine: algos.Number(g), Curve: curve(g)},
			"ucb":    {Queries: 192, RewardGenuine: algos.Number(u), Curve: curve(u)},
		}}
}

// TestAggregateQueries checks the SEIKO comparison over seeds: means and
// standard deviations of the final rewards and of each curve point, the
// paired comparison's difference and wins, the findings and the files.
func TestAggregateQueries(t *testing.T) {
	sums := []algos.Summary{seikoSummary(0.1, 1, 2), seikoSummary(0.2, 2, 3), seikoSummary(0.3, 3, 3.5)}
	q := AggregateQueries([]uint64{1, 2, 3}, sums)
	if len(q.Order) != 2 || q.Order[0] != "greedy" || q.Budget != 192 {
		t.Fatalf("order %v, budget %d", q.Order, q.Budget)
	}
	g := q.Variants["greedy"]
	if g.RewardGenuine.Mean != 2 || math.Abs(float64(g.RewardGenuine.SD)-1) > 1e-12 || g.AbovePretrained != 3 {
		t.Errorf("greedy: %+v", g.RewardGenuine)
	}
	if len(g.Curve) != 3 || g.CurveQueries[1] != 64 || g.Curve[1].Mean != 1 || math.Abs(float64(g.Curve[0].Mean)-0.2) > 1e-12 {
		t.Errorf("greedy curve %v at %v", g.Curve, g.CurveQueries)
	}
	if math.Abs(float64(g.Gain)-1.8) > 1e-12 {
		t.Errorf("gain %v, want 1.8", g.Gain)
	}
	if len(q.Pairs) != 1 || q.Pairs[0].A != "ucb" || q.Pairs[0].B != "greedy" || q.Pairs[0].AWins != 3 ||
		math.Abs(float64(q.Pairs[0].Difference.Mean)-2.5/3) > 1e-12 {
		t.Errorf("pairs %+v", q.Pairs)
	}
	md := q.Markdown()
	for _, want := range []string{"| greedy | 192 | 2.0000 ± 1.0000 |", "ucb beats greedy at equal queries", "higher in 3 of 3 seeds", "greedy ends above the pre-trained model's genuine reward in every seed"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// A seed where UCB lost: no longer "beats".
	sums[2] = seikoSummary(0.3, 3, 2.5)
	if md := AggregateQueries([]uint64{1, 2, 3}, sums).Markdown(); !strings.Contains(md, "ucb does not clearly beat greedy") {
		t.Errorf("a split comparison reads:\n%s", md)
	}
}

// TestWriteQuerySeedsReport writes the seeds report twice into a run
// directory: the files exist and results.md holds the section once.
func TestWriteQuerySeedsReport(t *testing.T) {
	dir := t.TempDir()
	var seedDirs []string
	for i, s := range []algos.Summary{seikoSummary(0.1, 1, 2), seikoSummary(0.2, 2, 3)} {
		d := filepath.Join(dir, []string{"seed1", "seed2"}[i])
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(filepath.Join(d, "summary.json"), s); err != nil {
			t.Fatal(err)
		}
		seedDirs = append(seedDirs, d)
	}
	if err := WriteText(filepath.Join(dir, "results.md"), "# results\n"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := WriteQuerySeedsReport(&bytes.Buffer{}, dir, []uint64{1, 2}, seedDirs); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"seiko_seeds.json", "curves_genuine.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(md), "## SEIKO over seeds"); n != 1 || !strings.HasPrefix(string(md), "# results\n") {
		t.Errorf("results.md holds the section %d times:\n%s", n, md)
	}
}
