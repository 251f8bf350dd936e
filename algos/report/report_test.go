package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/difftune/difftune/algos"
)

// summaryOf is a summary of two runs whose numbers are given, one of them
// possibly not finite.
func summaryOf(seed uint64, rEl, rPre float64) algos.Summary {
	el := algos.MethodSummary{RewardNominal: algos.Number(rEl), RewardGenuine: algos.Number(rEl), KL: 1, Diversity: 2}
	el.SetExtra("energy_distance", rEl/10)
	pre := algos.MethodSummary{RewardNominal: algos.Number(rPre), RewardGenuine: algos.Number(rPre)}
	g := algos.Number(0.5)
	return algos.Summary{Task: "toy", Reward: "r", Seed: seed, Alpha: 1,
		Runs:    []algos.RunInfo{{Name: "pretrained", Method: "pretrained"}, {Name: "elegant", Method: "elegant", Alpha: 1}},
		Methods: map[string]algos.MethodSummary{"pretrained": pre, "elegant": el},
		Targets: []algos.Target{{Alpha: 1, Exact: algos.Exact{PretrainedTarget: 3, PretrainedTargetKL: 1, PretrainedTargetGenuine: &g}}}}
}

var cols = []algos.Column{{Key: "reward_nominal", Title: "r"}, {Key: "energy_distance", Title: "ed"}}

func TestSummaryJSONIsStrictAndRoundTrips(t *testing.T) {
	s := summaryOf(1, math.Inf(1), 0.5)
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	require.True(t, json.Valid(raw))
	for _, tok := range []string{"NaN", "Inf"} {
		assert.NotContains(t, string(raw), tok)
	}
	// The extras sit beside the core fields.
	assert.Contains(t, string(raw), `"energy_distance":null`)
	var back algos.Summary
	require.NoError(t, json.Unmarshal(raw, &back))
	v, ok := back.Methods["elegant"].Metric("energy_distance")
	require.True(t, ok)
	assert.False(t, v.Finite())
	assert.Equal(t, algos.Number(0.5), back.Methods["pretrained"].RewardNominal)
}

func TestTableAndAggregate(t *testing.T) {
	table := Table(summaryOf(1, 3, 0.5), cols)
	assert.Contains(t, table, "| elegant | 1 | 3.0000 | 0.3000 |")
	assert.Contains(t, table, "| pretrained |  | 0.5000 |  |")

	agg := Aggregate([]uint64{1, 2}, []algos.Summary{summaryOf(1, 3, 0.5), summaryOf(2, 5, 0.5)}, cols)
	m := agg.Metrics["elegant"]["reward_nominal"]
	assert.Equal(t, 2, m.Finite)
	assert.InDelta(t, 4, float64(m.Mean), 1e-12)
	assert.InDelta(t, math.Sqrt2, float64(m.SD), 1e-12) // sample sd of 3 and 5
	_, has := agg.Metrics["pretrained"]["energy_distance"]
	assert.False(t, has, "a metric a run lacks is absent, not zero")

	// A seed whose value was not finite makes the spread not finite.
	bad := Aggregate([]uint64{1, 2}, []algos.Summary{summaryOf(1, 3, 0.5), summaryOf(2, math.NaN(), 0.5)}, cols)
	s := bad.Metrics["elegant"]["reward_nominal"]
	assert.Equal(t, 1, s.Finite)
	assert.Equal(t, "not finite in 1 of 2", s.String())
	md := SeedsMarkdown(agg, cols, "Toy.")
	assert.Contains(t, md, "| elegant | 1 | 4.0000 ± 1.4142 |")
	assert.Contains(t, md, "## Findings")
}

func TestFinishedNeedsTheSameConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := map[string]any{"a": 1.0}
	d, err := OpenDir(dir, cfg, "cpu")
	require.NoError(t, err)
	require.NoError(t, d.Close())
	sum, err := Finished(dir, cfg, "cpu")
	require.NoError(t, err)
	assert.Nil(t, sum, "no summary.json: not finished")
	require.NoError(t, WriteJSON(filepath.Join(dir, "summary.json"), summaryOf(1, 3, 0.5)))
	sum, err = Finished(dir, cfg, "cpu")
	require.NoError(t, err)
	require.NotNil(t, sum)
	assert.Equal(t, "toy", sum.Task)
	for _, other := range []struct {
		cfg    any
		device string
	}{{map[string]any{"a": 2.0}, "cpu"}, {cfg, "vulkan"}} {
		sum, err = Finished(dir, other.cfg, other.device)
		require.NoError(t, err)
		assert.Nil(t, sum, "another configuration was taken as finished")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o644))
	_, err = Finished(dir, cfg, "cpu")
	assert.ErrorContains(t, err, "remove the directory")
}

func TestProgressWithoutTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	for i := 1; i <= 20; i++ {
		p.Update("elegant drift", i, 20)
	}
	p.Notice("done")
	p.Done()
	out := b.String()
	assert.Equal(t, 10, strings.Count(out, "elegant drift"), out)
	assert.Contains(t, out, "100% (20/20)")
}
