package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/difftune/difftune/algos"
)

// Num formats a metric for a table: four decimals, three significant
// digits beyond 10⁵ (a diverged method), null when not finite.
func Num(n algos.Number) string {
	if !n.Finite() {
		return "null"
	}
	if v := math.Abs(float64(n)); v >= 1e5 {
		return fmt.Sprintf("%.3g", float64(n))
	}
	return fmt.Sprintf("%.4f", float64(n))
}

func optNum(n *algos.Number) string {
	if n == nil {
		return ""
	}
	return Num(*n)
}

// alphaCell is a run's α in a table ("" for runs without one).
func alphaCell(r algos.RunInfo) string {
	if r.Alpha == 0 {
		return ""
	}
	return fmt.Sprint(r.Alpha)
}

// header is the header of a Markdown table with the columns run, α, the
// task's and extra.
func header(cols []algos.Column, extra ...string) string {
	titles := []string{"run", "α"}
	for _, c := range cols {
		titles = append(titles, c.Title)
	}
	titles = append(titles, extra...)
	return "| " + strings.Join(titles, " | ") + " |\n|" + strings.Repeat("---|", len(titles)) + "\n"
}

// Table is the Markdown table of every run of a summary: the task's columns
// and the seconds each fit took.
func Table(s algos.Summary, cols []algos.Column) string {
	var b strings.Builder
	b.WriteString(header(cols, "seconds"))
	for _, run := range s.Runs {
		m, ok := s.Methods[run.Name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s |", run.Name, alphaCell(run))
		for _, c := range cols {
			cell := ""
			if v, ok := m.Metric(c.Key); ok {
				cell = Num(v)
			}
			b.WriteString(" " + cell + " |")
		}
		fmt.Fprintf(&b, " %.1f |\n", float64(m.Seconds))
	}
	return b.String()
}

// Events lists, for each run that passed its target, left the support or
// diverged in training, when it did.
func Events(s algos.Summary) string {
	var b strings.Builder
	for _, run := range s.Runs {
		m := s.Methods[run.Name]
		var parts []string
		if m.PassedTargetAt != nil {
			parts = append(parts, fmt.Sprintf("passed E*[r] at iteration %d", *m.PassedTargetAt))
		}
		if m.LeftSupportAt != nil {
			parts = append(parts, fmt.Sprintf("left the support at %d", *m.LeftSupportAt))
		}
		if m.DivergedAt != nil {
			parts = append(parts, fmt.Sprintf("diverged at %d", *m.DivergedAt))
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "- %s: %s.\n", run.Name, strings.Join(parts, ", "))
		}
	}
	return b.String()
}

// Markdown is results.md of one run: the setting, what the task says of
// itself, the targets and the table of runs.
func Markdown(res *algos.Result) string {
	s := res.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", s.Task)
	fmt.Fprintf(&b, "Nominal reward r̂: %s; genuine reward: %s. Seed %d; %d Euler–Maruyama steps, β_max = %g; every run evaluated on %d samples.\n\n",
		s.Reward, s.Genuine, s.Seed, res.Pre.Steps, s.BetaMax, len(res.Samples["pretrained"])/res.Pre.Dim)
	if d, ok := res.Task.(Describer); ok {
		b.WriteString(d.Markdown(s))
	}
	_, exact := res.Task.(algos.ExactTargeter)
	if exact {
		b.WriteString("## Targets without training\n\np_α ∝ exp(r̂/α)·p: by self-normalized weights on pre-trained samples, and exactly over the data.\n\n")
		b.WriteString("| α | E_α[r̂] | E_α[r] | KL(p_α ‖ p_pre) | ESS | data: E[r̂] | E[r] | KL |\n|---|---|---|---|---|---|---|---|\n")
	} else {
		b.WriteString("## Targets without training\n\np_α ∝ exp(r̂/α)·p: by self-normalized weights on pre-trained samples (the task knows no exact target).\n\n")
		b.WriteString("| α | E_α[r̂] | E_α[r] | KL(p_α ‖ p_pre) | ESS |\n|---|---|---|---|---|\n")
	}
	for _, t := range s.Targets {
		x := t.Exact
		fmt.Fprintf(&b, "| %g | %s | %s | %s | %.0f |", t.Alpha, Num(x.PretrainedTarget), optNum(x.PretrainedTargetGenuine),
			Num(x.PretrainedTargetKL), float64(x.ESS))
		if exact {
			fmt.Fprintf(&b, " %s | %s | %s |", Num(x.Reward), optNum(x.Genuine), Num(x.KL))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## Runs\n\nFor methods that aim at p_α: gain/target is the run's gain in r̂ over the pre-trained model as a fraction of the target's, KL/target its KL over the target's.\n\n")
	b.WriteString(Table(s, res.Task.Columns()))
	if ev := Events(s); ev != "" {
		b.WriteString("\n" + ev)
	}
	return b.String()
}
