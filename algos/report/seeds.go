package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/difftune/difftune/algos"
)

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

// String writes mean ± sd ("n/f (k of n finite)" when a seed's value was
// not finite).
func (s Spread) String() string {
	if s.Finite < len(s.Values) {
		return fmt.Sprintf("not finite in %d of %d", len(s.Values)-s.Finite, len(s.Values))
	}
	return Num(s.Mean) + " ± " + Num(s.SD)
}

// SeedsSummary is summary.json of a run over several seeds.
type SeedsSummary struct {
	Task   string   `json:"task"`
	Seeds  []uint64 `json:"seeds"`
	Reward string   `json:"reward"`
	// Runs lists the runs in the order they are reported; Metrics holds
	// each run's numbers by key (reward_nominal, kl, …), absent where a run
	// has none.
	Runs    []algos.RunInfo              `json:"runs"`
	Metrics map[string]map[string]Spread `json:"metrics"`
	// Targets holds, per α, the tilted target of the pre-trained model:
	// E_α[r̂], E_α[r] and KL(p_α ‖ p_pre).
	Targets []SeedsTarget `json:"targets"`
}

// SeedsTarget is the target at one α over the seeds.
type SeedsTarget struct {
	Alpha   float64 `json:"alpha"`
	Reward  Spread  `json:"reward"`
	Genuine Spread  `json:"genuine"`
	KL      Spread  `json:"kl"`
}

// Aggregate gathers the summaries of one plan run once per seed: every
// metric of cols (and the seconds) as mean ± sd.
func Aggregate(seeds []uint64, sums []algos.Summary, cols []algos.Column) SeedsSummary {
	agg := SeedsSummary{Task: sums[0].Task, Seeds: seeds, Reward: sums[0].Reward, Runs: sums[0].Runs, Metrics: map[string]map[string]Spread{}}
	keys := []string{"seconds"}
	for _, c := range cols {
		keys = append(keys, c.Key)
	}
	for _, k := range []string{"reward_genuine", "reward_nominal", "kl", "diversity"} {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, run := range agg.Runs {
		agg.Metrics[run.Name] = map[string]Spread{}
		for _, key := range keys {
			values := make([]float64, len(sums))
			have := false
			for i, s := range sums {
				values[i] = math.NaN()
				if v, ok := s.Methods[run.Name].Metric(key); ok {
					values[i], have = float64(v), true
				}
			}
			if have {
				agg.Metrics[run.Name][key] = spreadOf(values)
			}
		}
	}
	for j, t := range sums[0].Targets {
		var r, g, kl []float64
		for _, s := range sums {
			x := s.Targets[j].Exact
			gv := math.NaN()
			if x.PretrainedTargetGenuine != nil {
				gv = float64(*x.PretrainedTargetGenuine)
			}
			r, g, kl = append(r, float64(x.PretrainedTarget)), append(g, gv), append(kl, float64(x.PretrainedTargetKL))
		}
		agg.Targets = append(agg.Targets, SeedsTarget{Alpha: t.Alpha, Reward: spreadOf(r), Genuine: spreadOf(g), KL: spreadOf(kl)})
	}
	return agg
}

// SeedsTable is the Markdown table of every run, mean ± sd over the seeds.
func SeedsTable(agg SeedsSummary, cols []algos.Column) string {
	var b strings.Builder
	b.WriteString(header(cols))
	for _, run := range agg.Runs {
		fmt.Fprintf(&b, "| %s | %s |", run.Name, alphaCell(run))
		for _, c := range cols {
			cell := ""
			if s, ok := agg.Metrics[run.Name][c.Key]; ok {
				cell = s.String()
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// SeedsMarkdown is results.md of a run over seeds: the setting, the targets,
// the table of runs and the findings computed from it.
func SeedsMarkdown(agg SeedsSummary, cols []algos.Column, setting string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s over seeds %v\n\n", agg.Task, agg.Seeds)
	fmt.Fprintf(&b, "%s r̂: %s. Each seed sets fine-tuning and evaluation (r̂ and the pre-trained model are shared); every number is the mean ± standard deviation over the seeds. "+
		"Each seed's own results.md, samples and plots are in seed<N>/.\n\n", setting, agg.Reward)
	b.WriteString("## Targets without training\n\n| α | E_α[r̂] | E_α[r] | KL(p_α ‖ p_pre) |\n|---|---|---|---|\n")
	for _, t := range agg.Targets {
		fmt.Fprintf(&b, "| %g | %s | %s | %s |\n", t.Alpha, t.Reward, t.Genuine, t.KL)
	}
	b.WriteString("\n## Runs\n\n")
	b.WriteString(SeedsTable(agg, cols))
	b.WriteString(Findings(agg))
	return b.String()
}

// Findings compares ELEGANT at the first α with every other run on the
// genuine reward, KL, diversity and uniqueness, and shows how far r̂ runs
// from the genuine reward, all from the numbers over seeds. A difference
// counts when it exceeds the sum of the two standard deviations.
func Findings(agg SeedsSummary) string {
	el, ok := agg.Metrics["elegant"]
	if !ok {
		return ""
	}
	compare := func(a, e Spread) string {
		switch {
		case a.Finite < len(a.Values):
			return fmt.Sprintf("not finite in %d of %d seeds", len(a.Values)-a.Finite, len(a.Values))
		case math.Abs(float64(a.Mean-e.Mean)) <= float64(a.SD+e.SD):
			return Num(a.Mean) + ", within the seeds' spread of ELEGANT's"
		case a.Mean > e.Mean:
			return Num(a.Mean) + ", above ELEGANT's"
		default:
			return Num(a.Mean) + ", below ELEGANT's"
		}
	}
	keys := []struct{ key, name string }{{"reward_genuine", "genuine reward"}, {"kl", "KL"}, {"diversity", "diversity"}, {"unique", "unique"}}
	var b strings.Builder
	var elAlpha string
	for _, r := range agg.Runs {
		if r.Name == "elegant" {
			elAlpha = alphaCell(r)
		}
	}
	fmt.Fprintf(&b, "\n## Findings (computed from the table)\n\nELEGANT at α = %s:", elAlpha)
	for _, k := range keys {
		if s, ok := el[k.key]; ok {
			fmt.Fprintf(&b, " %s %s;", k.name, s)
		}
	}
	b.WriteString(" each other run against it:\n\n")
	for _, run := range agg.Runs {
		if run.Name == "pretrained" || run.Method == "elegant" {
			continue
		}
		m := agg.Metrics[run.Name]
		var parts []string
		for _, k := range keys {
			if s, ok := m[k.key]; ok {
				parts = append(parts, k.name+" "+compare(s, el[k.key]))
			}
		}
		fmt.Fprintf(&b, "- %s: %s.\n", run.Name, strings.Join(parts, "; "))
	}
	b.WriteString("\nr̂ against the genuine reward r (mean over seeds of r̂ − r): on the samples, and on their decoded form where the task decodes.\n\n| run | r̂ − r | r̂(decoded) − r |\n|---|---|---|\n")
	for _, run := range agg.Runs {
		m := agg.Metrics[run.Name]
		gap := func(key string) string {
			r, okR := m[key]
			y := m["reward_genuine"]
			switch {
			case !okR:
				return ""
			case r.Finite < len(r.Values) || y.Finite < len(y.Values):
				return "not finite"
			}
			return fmt.Sprintf("%+.4f", float64(r.Mean-y.Mean))
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", run.Name, gap("reward_nominal"), gap("reward_nominal_decoded"))
	}
	return b.String()
}

// Finished returns the summary of a finished run of cfg on device in dir
// (nil if dir holds none): summary.json is written last, so its presence
// marks a complete run, and config.json must be this configuration's.
func Finished(dir string, cfg any, device string) (*algos.Summary, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	oldRaw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	var old map[string]any
	if err == nil {
		old, err = ParseConfig(oldRaw)
	}
	if err != nil {
		return nil, fmt.Errorf("%s has a summary.json but no readable config.json (%v): remove the directory to run it again", dir, err)
	}
	if differs, err := configDiff(old, cfg, device); err != nil {
		return nil, err
	} else if len(differs) > 0 {
		return nil, nil // another configuration: not this run
	}
	var sum algos.Summary
	if err := json.Unmarshal(raw, &sum); err != nil {
		return nil, fmt.Errorf("%s/summary.json: %v: remove the directory to run it again", dir, err)
	}
	return &sum, nil
}
