package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/nn/atomicfile"
	"github.com/difftune/difftune/tensor"
)

// parseSeeds reads -seeds: distinct non-negative integers separated by commas.
func parseSeeds(arg string) ([]uint64, error) {
	var seeds []uint64
	for f := range strings.SplitSeq(arg, ",") {
		s, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil || slices.Contains(seeds, s) {
			return nil, fmt.Errorf("-seeds must be distinct non-negative integers separated by commas, got %q", arg)
		}
		seeds = append(seeds, s)
	}
	return seeds, nil
}

// runTFBind8Seeds runs the whole comparison once per seed of -seeds, each
// into DIR/seed<N>/ with its own outputs, then writes DIR/summary.json and
// DIR/results.md: every number as mean ± standard deviation over the seeds.
// The seed sets fine-tuning and evaluation; r̂ and the pre-trained model keep
// their own seeds, so the spread is that of the methods, not of the models.
func runTFBind8Seeds(o options, b tensor.Backend, stdout, stderr io.Writer) error {
	var sums []algos.TFBind8Summary
	var runs []string
	for _, seed := range o.tf.seeds {
		one := o
		one.seed, one.out = seed, filepath.Join(o.out, fmt.Sprintf("seed%d", seed))
		sum, seedRuns, err := finishedSeed(one.out, one.tfbind8Config(), b.Name())
		switch {
		case err != nil:
			return fmt.Errorf("seed %d: %w", seed, err)
		case sum != nil:
			fmt.Fprintf(stdout, "== seed %d: reusing the finished run in %s\n", seed, one.out)
		default:
			fmt.Fprintf(stdout, "== seed %d → %s\n", seed, one.out)
			res, err := runTFBind8Once(one, b, stdout, stderr)
			if err != nil {
				return fmt.Errorf("seed %d: %w", seed, err)
			}
			sum, seedRuns = &res.Summary, res.Runs
		}
		sums, runs = append(sums, *sum), seedRuns
		if o.tf.alphas == nil {
			// The grid comes from r̂'s spread on the first seed's samples:
			// every seed then runs the same α.
			for _, e := range sum.Sweep {
				o.tf.alphas = append(o.tf.alphas, e.Alpha)
			}
		}
	}
	agg := aggregateSeeds(o.tf.seeds, runs, sums)
	table := seedsTable(agg)
	if err := writeJSON(filepath.Join(o.out, "summary.json"), agg); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(o.out, "results.md"), func(out io.Writer) error {
		_, err := io.WriteString(out, seedsMarkdown(agg, o.tfbind8Config(), table))
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nover seeds %v (mean ± sd):\n%s", o.tf.seeds, table)
	fmt.Fprintf(stdout, "wrote %s/{summary.json,results.md} and one directory per seed\n", strings.TrimRight(o.out, "/"))
	return nil
}

// finishedSeed returns the summary and run names of a finished run of cfg
// on device in dir (nil if dir holds none): a multi-seed run that stopped
// resumes at its first unfinished seed. A run counts as finished when its
// summary.json (written last, atomically) exists and its config.json is
// this configuration's.
func finishedSeed(dir string, cfg algos.TFBind8Config, device string) (*algos.TFBind8Summary, []string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var old, want map[string]any
	oldRaw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(oldRaw, &old)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s has a summary.json but no readable config.json (%v): remove the directory to run it again", dir, err)
	}
	cur, _ := json.Marshal(cfg)
	if err := json.Unmarshal(cur, &want); err != nil {
		return nil, nil, err
	}
	want["device"] = device
	delete(old, "started")
	if !reflect.DeepEqual(old, want) {
		return nil, nil, nil // another configuration: run again
	}
	var sum algos.TFBind8Summary
	if err := json.Unmarshal(raw, &sum); err != nil {
		return nil, nil, fmt.Errorf("%s/summary.json: %v: remove the directory to run it again", dir, err)
	}
	runs := []string{"pretrained"}
	for _, e := range sum.Sweep {
		if _, ok := e.Methods[string(algos.Elegant)]; ok {
			name := string(algos.Elegant)
			if e.Alpha != sum.Alpha {
				name = fmt.Sprintf("%s_a%g", algos.Elegant, e.Alpha)
			}
			runs = append(runs, name)
		}
	}
	for _, m := range algos.TFBind8Methods {
		if _, ok := sum.Methods[string(m)]; ok && m != algos.Elegant {
			runs = append(runs, string(m))
		}
	}
	return &sum, runs, nil
}

// Spread is a number over seeds: its mean and sample standard deviation
// (null when some seed's value was not finite, Finite counting the others).
type Spread struct {
	Mean   algos.Number   `json:"mean"`
	SD     algos.Number   `json:"sd"`
	Finite int            `json:"finite"`
	Values []algos.Number `json:"values"`
}

func spreadOf(values []float64) Spread {
	s := Spread{Values: make([]algos.Number, len(values))}
	var finite []float64
	for i, v := range values {
		s.Values[i] = algos.Number(v)
		if s.Values[i].Finite() {
			finite = append(finite, v)
		}
	}
	s.Finite = len(finite)
	s.Mean, s.SD = algos.Number(math.NaN()), algos.Number(math.NaN())
	if s.Finite == len(values) && s.Finite > 0 {
		s.Mean = algos.Number(stat.Mean(finite, nil))
		s.SD = 0
		if s.Finite > 1 {
			s.SD = algos.Number(stat.StdDev(finite, nil))
		}
	}
	return s
}

// runColumns are the metric columns of the tfbind8 tables, of one run
// (resultsTable) and over seeds (seedsTable), each read from a run's
// evaluation (nil where the run has no such number).
var runColumns = []struct {
	key, title string
	get        func(algos.MethodSummary) *algos.Number
}{
	{"reward_nominal", "r̂(x_T)", func(m algos.MethodSummary) *algos.Number { return &m.RewardNominal }},
	{"reward_nominal_decoded", "r̂(decoded)", func(m algos.MethodSummary) *algos.Number { return m.RewardNominalDecoded }},
	{"reward_genuine", "y mean", func(m algos.MethodSummary) *algos.Number { return &m.RewardGenuine }},
	{"reward_genuine_top10", "y top-10%", func(m algos.MethodSummary) *algos.Number { return m.RewardGenuineTop10 }},
	{"reward_genuine_max", "y max", func(m algos.MethodSummary) *algos.Number { return m.RewardGenuineMax }},
	{"kl", "KL", func(m algos.MethodSummary) *algos.Number { return &m.KL }},
	{"target_gain_ratio", "gain/target", func(m algos.MethodSummary) *algos.Number { return m.TargetGainRatio }},
	{"target_kl_ratio", "KL/target", func(m algos.MethodSummary) *algos.Number { return m.TargetKLRatio }},
	{"vertex_distance", "vertex dist", func(m algos.MethodSummary) *algos.Number { return m.VertexDistance }},
	{"diversity", "diversity", func(m algos.MethodSummary) *algos.Number { return &m.Diversity }},
	{"in_train_half", "in r̂'s half", func(m algos.MethodSummary) *algos.Number { return m.InTrainHalf }},
	{"unique", "unique", func(m algos.MethodSummary) *algos.Number { return m.Unique }},
}

// tableHeader is the header of a table with the columns run, α, those of
// runColumns and extra.
func tableHeader(extra ...string) string {
	titles := []string{"run", "α"}
	for _, c := range runColumns {
		titles = append(titles, c.title)
	}
	titles = append(titles, extra...)
	return "| " + strings.Join(titles, " | ") + " |\n|" + strings.Repeat("---|", len(titles)) + "\n"
}

// SeedsSummary is summary.json of a run over several seeds.
type SeedsSummary struct {
	Task   string   `json:"task"`
	Seeds  []uint64 `json:"seeds"`
	Reward string   `json:"reward"`
	// Runs lists the run names in the order they are reported; Metrics holds
	// each run's numbers by key (reward_nominal, kl, …), absent where a run
	// has none.
	Runs    []string                     `json:"runs"`
	Metrics map[string]map[string]Spread `json:"metrics"`
	// Targets holds, per α of the sweep, the tilted target of the
	// pre-trained model: E_α[r̂], E_α[y] and KL(p_α ‖ p_pre).
	Targets []SeedsTarget `json:"targets"`
	// Alphas holds each run's α ("" for runs without one).
	Alphas map[string]string `json:"alphas"`
}

// SeedsTarget is the target at one α over the seeds.
type SeedsTarget struct {
	Alpha   float64 `json:"alpha"`
	Reward  Spread  `json:"reward"`
	Genuine Spread  `json:"genuine"`
	KL      Spread  `json:"kl"`
}

// aggregateSeeds gathers the summaries of one comparison run once per seed.
func aggregateSeeds(seeds []uint64, runs []string, sums []algos.TFBind8Summary) SeedsSummary {
	agg := SeedsSummary{Task: "tfbind8", Seeds: seeds, Reward: sums[0].Reward, Runs: runs,
		Metrics: map[string]map[string]Spread{}, Alphas: map[string]string{}}
	for _, run := range runs {
		agg.Alphas[run] = runAlpha(sums[0], run)
		agg.Metrics[run] = map[string]Spread{}
		for _, m := range runColumns {
			values := make([]float64, len(sums))
			have := false
			for i, s := range sums {
				values[i] = math.NaN()
				if ms, ok := runSummary(s, run); ok {
					if v := m.get(ms); v != nil {
						values[i], have = float64(*v), true
					}
				}
			}
			if have {
				agg.Metrics[run][m.key] = spreadOf(values)
			}
		}
	}
	for j, e := range sums[0].Sweep {
		var r, g, kl []float64
		for _, s := range sums {
			x := s.Sweep[j].Exact
			r, g, kl = append(r, float64(x.PretrainedTarget)), append(g, optValue(x.PretrainedTargetGenuine)), append(kl, float64(x.PretrainedTargetKL))
		}
		agg.Targets = append(agg.Targets, SeedsTarget{Alpha: e.Alpha, Reward: spreadOf(r), Genuine: spreadOf(g), KL: spreadOf(kl)})
	}
	return agg
}

// String writes mean ± sd ("n/f (k of n finite)" when a seed's value was
// not finite).
func (s Spread) String() string {
	if s.Finite < len(s.Values) {
		return fmt.Sprintf("not finite in %d of %d", len(s.Values)-s.Finite, len(s.Values))
	}
	return num(s.Mean) + " ± " + num(s.SD)
}

// seedsTable is the Markdown table of every run, mean ± sd over the seeds.
func seedsTable(agg SeedsSummary) string {
	var b strings.Builder
	b.WriteString(tableHeader())
	for _, run := range agg.Runs {
		fmt.Fprintf(&b, "| %s | %s |", run, agg.Alphas[run])
		for _, m := range runColumns {
			s, ok := agg.Metrics[run][m.key]
			cell := ""
			if ok {
				cell = s.String()
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// seedsMarkdown is results.md of a run over seeds: the setting, the targets
// and the table of runs.
func seedsMarkdown(agg SeedsSummary, cfg algos.TFBind8Config, table string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# tfbind8 over seeds %v: ELEGANT against its baselines\n\n", agg.Seeds)
	fmt.Fprintf(&b, "Landscape %s; r̂: %s; %d Euler–Maruyama steps, β_max = %g; every run evaluated on %d samples. "+
		"Each seed sets fine-tuning and evaluation (r̂ and the pre-trained model are shared); every number is the mean ± standard deviation over the seeds. "+
		"Each seed's own results.md, samples and plots are in seed<N>/.\n\n",
		cfg.Landscape, agg.Reward, cfg.Steps, cfg.VP.BetaMax, cfg.EvalSamples)
	b.WriteString("## Targets without training\n\n| α | E_α[r̂] | E_α[y] | KL(p_α ‖ p_pre) |\n|---|---|---|---|\n")
	for _, t := range agg.Targets {
		fmt.Fprintf(&b, "| %g | %s | %s | %s |\n", t.Alpha, t.Reward, t.Genuine, t.KL)
	}
	b.WriteString("\n## Runs\n\n")
	b.WriteString(table)
	b.WriteString(seedsFindings(agg))
	return b.String()
}

// seedsFindings compares ELEGANT at the first α with every baseline on y,
// KL and diversity, and shows how far r̂ runs from y on x_T and on the
// decoded sequence, all from the numbers over seeds. A difference counts
// when it exceeds the sum of the two standard deviations.
func seedsFindings(agg SeedsSummary) string {
	el, ok := agg.Metrics[string(algos.Elegant)]
	if !ok {
		return ""
	}
	compare := func(a, e Spread) string {
		switch {
		case a.Finite < len(a.Values):
			return fmt.Sprintf("not finite in %d of %d seeds", len(a.Values)-a.Finite, len(a.Values))
		case math.Abs(float64(a.Mean-e.Mean)) <= float64(a.SD+e.SD):
			return num(a.Mean) + ", within the seeds' spread of ELEGANT's"
		case a.Mean > e.Mean:
			return num(a.Mean) + ", above ELEGANT's"
		default:
			return num(a.Mean) + ", below ELEGANT's"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Findings (computed from the table)\n\nELEGANT at α = %s: y %s, KL %s, diversity %s, unique %s. Each baseline against it:\n\n",
		agg.Alphas[string(algos.Elegant)], el["reward_genuine"], el["kl"], el["diversity"], el["unique"])
	for _, run := range agg.Runs {
		if run == "pretrained" || strings.HasPrefix(run, string(algos.Elegant)) {
			continue
		}
		m := agg.Metrics[run]
		fmt.Fprintf(&b, "- %s: y %s; KL %s; diversity %s; unique %s.\n", run,
			compare(m["reward_genuine"], el["reward_genuine"]), compare(m["kl"], el["kl"]),
			compare(m["diversity"], el["diversity"]), compare(m["unique"], el["unique"]))
	}
	b.WriteString("\nr̂ against y (mean over seeds of r̂ − y): on x_T, and on the decoded one-hot sequence.\n\n| run | r̂(x_T) − y | r̂(decoded) − y |\n|---|---|---|\n")
	for _, run := range agg.Runs {
		m := agg.Metrics[run]
		gap := func(key string) string {
			r, y := m[key], m["reward_genuine"]
			if r.Finite < len(r.Values) || y.Finite < len(y.Values) {
				return "not finite"
			}
			return fmt.Sprintf("%+.4f", float64(r.Mean-y.Mean))
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", run, gap("reward_nominal"), gap("reward_nominal_decoded"))
	}
	return b.String()
}

// optValue is an optional number's value (NaN when absent).
func optValue(n *algos.Number) float64 {
	if n == nil {
		return math.NaN()
	}
	return float64(*n)
}
