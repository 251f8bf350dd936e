package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos/report"
)

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-variant", "ppo"}, {"-variant", "ucb,ucb"}, {"-rounds", "0"}, {"-budget", "1"}, {"-batch-schedule", "256,x"},
		{"-batch-schedule", "1"}, {"-alpha", "0"}, {"-alpha", "NaN"}, {"-beta", "-1"}, {"-noise", "Inf"}, {"-task", "mnist"},
		{"-seeds", "1,1"}, {"-seed", "2", "-seeds", "1,3"}, {"-nosuchflag"}, {"extra"}, {"-iters", "-1"}, {"-eval-samples", "1"},
		{"-k", "0"}, {"-mss-select", "first"}, {"-view-stop"}, {"-frames", "x", "-frames-every", "0"}, {"-oracle", "bump:5,0,0.3"}, {"-oracle", "bump:5,0,-1,5"}, {"-task", "tfbind8", "-pretrain-half", "top"},
	} {
		err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: error %v is not a usage error", args, err)
		}
	}
}

// TestQuick runs greedy and UCB on a small gmm2d preset whose genuine
// reward is the nominal one (-oracle "": a signal that a few hundred
// queries find) and checks the outputs, that no variant spent more than its
// budget (every query logged once) and that greedy raised the genuine
// reward over the pre-trained model's.
func TestQuick(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	const budget = 300
	args := []string{"-quick", "-oracle", "", "-variant", "greedy,ucb", "-pretrain-iters", "300", "-width", "64", "-steps", "15",
		"-batch-schedule", "64,128,256", "-budget", "300", "-iters", "12", "-eval-samples", "400", "-out", out, "-cache", cache}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{"config.json", "metrics.jsonl", "summary.json", "results.md", "samples_seiko-greedy.npy",
		"samples_pretrained.npy", "queries_seiko-greedy.jsonl", "queries_seiko-ucb.jsonl", "curves_genuine.png", "checkpoints/seiko-greedy_control.safetensors"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
		}
	}
	sum, err := report.ReadSummary(out)
	if err != nil {
		t.Fatal(err)
	}
	pre := float64(sum.Methods["pretrained"].RewardGenuine)
	for _, v := range []string{"seiko-greedy", "seiko-ucb"} {
		ms, ok := sum.Methods[v]
		if !ok {
			t.Fatalf("summary lacks %s", v)
		}
		// 64 + 128 + 256 = 448 asked, the budget cuts the last round to 108.
		if ms.Queries != budget {
			t.Errorf("%s spent %d queries, budget %d", v, ms.Queries, budget)
		}
		if len(ms.Curve) != 4 || ms.Curve[0][0] != 0 || ms.Curve[3][0] != budget {
			t.Errorf("%s: curve %v, want 4 points from 0 to %d queries", v, ms.Curve, budget)
		}
		for _, k := range []string{"reward_genuine", "kl", "diversity"} {
			if m, ok := ms.Metric(k); !ok || !m.Finite() {
				t.Errorf("%s: %s = %v", v, k, m)
			}
		}
		f, err := os.Open(filepath.Join(out, "queries_"+v+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		lines, rounds := 0, map[int]int{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var rec struct {
				I       int       `json:"i"`
				Round   int       `json:"round"`
				Variant string    `json:"variant"`
				X       []float64 `json:"x"`
				Y       *float64  `json:"y"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.Variant != v || len(rec.X) != 2 || rec.Y == nil {
				t.Fatalf("%s log line %d: %s (%v)", v, lines, sc.Text(), err)
			}
			rounds[rec.Round]++
			lines++
		}
		f.Close()
		if lines != budget || rounds[1] != 64 || rounds[2] != 128 || rounds[3] != 108 {
			t.Errorf("%s: %d queries logged by round %v", v, lines, rounds)
		}
	}
	if sum.Budget != budget || sum.Pretrained == nil || len(sum.Variants) != 2 {
		t.Errorf("summary: budget %d, pretrained %v, variants %v", sum.Budget, sum.Pretrained, sum.Variants)
	}
	for v, vs := range sum.Variants {
		if ms := sum.Methods["seiko-"+v]; vs.Queries != budget || vs.RewardGenuine != ms.RewardGenuine || len(vs.Curve) != 4 || !vs.RewardGenuineTop10.Finite() || vs.RewardGenuineTop10 < vs.RewardGenuine {
			t.Errorf("variant %s: %+v", v, vs)
		}
	}
	greedy := float64(sum.Methods["seiko-greedy"].RewardGenuine)
	if !(greedy > pre+0.5) {
		t.Errorf("greedy's genuine reward %v did not rise by 0.5 over the pre-trained %v", greedy, pre)
	}
	if md := string(mustRead(t, filepath.Join(out, "results.md"))); !strings.Contains(md, "| seiko-ucb | 300 |") {
		t.Errorf("results.md lacks the SEIKO table:\n%s", md)
	}
	if !strings.Contains(stdout.String(), "seiko-greedy") {
		t.Errorf("stdout lacks the curves:\n%s", stdout.String())
	}
	t.Logf("pre-trained %.3f, greedy %.3f, ucb %.3f", pre, greedy, float64(sum.Methods["seiko-ucb"].RewardGenuine))
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQuickTFBind8 runs greedy on tfbind8's quick preset, whose diffusion
// model and r̂ learned the bottom half of the sequences by y, and checks the
// online setting and that greedy's queries raised the genuine reward y.
func TestQuickTFBind8(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-task", "tfbind8", "-quick", "-variant", "greedy", "-out", out, "-cache", cache}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	sum, err := report.ReadSummary(out)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(mustRead(t, filepath.Join(out, "config.json")))
	if !strings.Contains(cfg, `"PretrainHalf": "bottom"`) || !strings.Contains(cfg, `"Split": "bottom"`) {
		t.Errorf("config.json does not record the bottom-half setting:\n%s", cfg)
	}
	g, ok := sum.Variants["greedy"]
	if !ok || sum.Pretrained == nil || sum.Budget != 192 || g.Queries != 192 {
		t.Fatalf("summary: budget %d, variants %v", sum.Budget, sum.Variants)
	}
	if pre := float64(sum.Pretrained.RewardGenuine); !(float64(g.RewardGenuine) > pre+0.02) {
		t.Errorf("greedy's genuine reward %v did not rise over the pre-trained %v", g.RewardGenuine, pre)
	}
	t.Logf("pre-trained y %.3f, greedy %.3f (top 10 %% %.3f)", float64(sum.Pretrained.RewardGenuine), float64(g.RewardGenuine), float64(g.RewardGenuineTop10))
}
