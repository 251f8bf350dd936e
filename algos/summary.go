package algos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// MethodSummary is the evaluation of one run (or of the pre-trained model):
// the core metrics every task reports, and the task's extras. Values that
// are not finite are written as null, with the reason in Notes. In JSON the
// extras sit beside the core fields (energy_distance, vertex_distance, …).
type MethodSummary struct {
	RewardNominal Number `json:"reward_nominal"`
	RewardGenuine Number `json:"reward_genuine"`
	KL            Number `json:"kl"`
	Diversity     Number `json:"diversity"`
	// Where a target is known: the run's gain in r̂ over the pre-trained
	// model as a fraction of the target's, and its KL over the target's.
	TargetGainRatio *Number `json:"target_gain_ratio,omitempty"`
	TargetKLRatio   *Number `json:"target_kl_ratio,omitempty"`
	Seconds         Number  `json:"seconds"`
	// Queries counts the genuine-reward queries the method spent.
	Queries    int  `json:"oracle_queries"`
	DivergedAt *int `json:"diverged_at,omitempty"`
	// PassedTargetAt is the first training iteration whose batch reward
	// exceeded the exact E*[r]; LeftSupportAt the first whose batch had more
	// than half of its samples off the data's support.
	PassedTargetAt *int              `json:"passed_target_at,omitempty"`
	LeftSupportAt  *int              `json:"left_support_at,omitempty"`
	Notes          map[string]string `json:"notes,omitempty"`
	// Curve is an online method's [queries spent, mean genuine reward] after
	// each round, from the pre-trained model at 0 queries.
	Curve [][2]Number `json:"curve,omitempty"`
	// Extras are the task's own metrics by key.
	Extras map[string]Number `json:"-"`
}

type methodSummaryFields MethodSummary

// MarshalJSON writes the core fields, then the extras in key order.
func (m MethodSummary) MarshalJSON() ([]byte, error) {
	core, err := json.Marshal(methodSummaryFields(m))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(core[:len(core)-1])
	for _, k := range slices.Sorted(maps.Keys(m.Extras)) {
		v, _ := m.Extras[k].MarshalJSON()
		key, _ := json.Marshal(k)
		fmt.Fprintf(&b, ",%s:%s", key, v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes: unknown numeric keys become
// extras.
func (m *MethodSummary) UnmarshalJSON(data []byte) error {
	var core methodSummaryFields
	if err := json.Unmarshal(data, &core); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, f := range coreKeys {
		known[f] = true
	}
	for k, raw := range all {
		if known[k] {
			continue
		}
		var n Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("metric %s: %w", k, err)
		}
		if core.Extras == nil {
			core.Extras = map[string]Number{}
		}
		core.Extras[k] = n
	}
	*m = MethodSummary(core)
	return nil
}

// coreKeys are the JSON keys of MethodSummary's own fields.
var coreKeys = []string{"reward_nominal", "reward_genuine", "kl", "diversity", "target_gain_ratio", "target_kl_ratio",
	"seconds", "oracle_queries", "diverged_at", "passed_target_at", "left_support_at", "notes", "curve"}

// Metric returns a numeric metric by its JSON key, core or extra; false when
// the run has none.
func (m MethodSummary) Metric(key string) (Number, bool) {
	opt := func(n *Number) (Number, bool) {
		if n == nil {
			return 0, false
		}
		return *n, true
	}
	switch key {
	case "reward_nominal":
		return m.RewardNominal, true
	case "reward_genuine":
		return m.RewardGenuine, true
	case "kl":
		return m.KL, true
	case "diversity":
		return m.Diversity, true
	case "seconds":
		return m.Seconds, true
	case "target_gain_ratio":
		return opt(m.TargetGainRatio)
	case "target_kl_ratio":
		return opt(m.TargetKLRatio)
	}
	v, ok := m.Extras[key]
	return v, ok
}

// SetExtra records a task-specific metric.
func (m *MethodSummary) SetExtra(key string, v float64) {
	if m.Extras == nil {
		m.Extras = map[string]Number{}
	}
	m.Extras[key] = Number(v)
}

// Note records why a value is what it is (not finite, a resolved setting).
func (m *MethodSummary) Note(key, msg string) {
	if m.Notes == nil {
		m.Notes = map[string]string{}
	}
	m.Notes[key] = msg
}

// Exact holds a tilted target p_α ∝ exp(r̂/α)·p at one α: in closed form or
// by enumeration over the data where the task knows it (Reward, KL,
// Genuine), and for the pre-trained model by self-normalized weights on its
// samples.
type Exact struct {
	Reward Number `json:"reward"`
	KL     Number `json:"kl"`
	// PretrainedTarget is E[r̂] under exp(r̂/α)·p_pre, PretrainedTargetKL its
	// KL to p_pre, ESS the effective sample size of the weights.
	PretrainedTarget   Number `json:"pretrained_target_reward"`
	PretrainedTargetKL Number `json:"pretrained_target_kl"`
	ESS                Number `json:"pretrained_target_ess"`
	// Where the nominal reward is not the genuine one: E[r] under the data's
	// target and under the pre-trained model's.
	Genuine                 *Number `json:"genuine,omitempty"`
	PretrainedTargetGenuine *Number `json:"pretrained_target_genuine,omitempty"`
}

// Target is the tilted target at one α of the run.
type Target struct {
	Alpha float64 `json:"alpha"`
	Exact Exact   `json:"exact"`
}

// RunInfo names one run: a method at an α (0 for the pre-trained model).
type RunInfo struct {
	Name   string  `json:"name"`
	Method string  `json:"method"`
	Alpha  float64 `json:"alpha,omitempty"`
}

// Summary is summary.json: every run's evaluation and the targets.
type Summary struct {
	Task    string  `json:"task"`
	Reward  string  `json:"reward"`
	Genuine string  `json:"genuine"`
	BetaMax float64 `json:"beta_max"`
	Seed    uint64  `json:"seed"`
	// Alpha is the first α, that of the baselines; Exact its target.
	Alpha float64 `json:"alpha"`
	Exact Exact   `json:"exact"`
	// Runs lists the runs in the order they are reported, the pre-trained
	// model first; Methods holds each run's evaluation by run name.
	Runs    []RunInfo                `json:"runs"`
	Methods map[string]MethodSummary `json:"methods"`
	Targets []Target                 `json:"targets"`
	// Details holds what the task reports beyond the runs (tfbind8: r̂'s
	// fit, the pre-trained model's letter statistics).
	Details map[string]any `json:"details,omitempty"`
	// Notes are warnings about the run as a whole (a target estimated from
	// too few effective samples).
	Notes map[string]string `json:"notes,omitempty"`
	// Budget, Variants and Pretrained restate the online runs (the SEIKO
	// variants, runs with a query curve) by variant: the budget of queries
	// of each, and the pre-trained model's genuine reward to start from.
	Budget     int                       `json:"budget,omitempty"`
	Variants   map[string]VariantSummary `json:"variants,omitempty"`
	Pretrained *PretrainedSummary        `json:"pretrained,omitempty"`
}

// VariantSummary is an online run's outcome: the queries it spent, the
// genuine reward of its final model's samples (mean and top 10 %), its KL
// and diversity, and its curve of [queries spent, mean genuine reward].
type VariantSummary struct {
	Queries            int         `json:"queries"`
	RewardGenuine      Number      `json:"reward_genuine"`
	RewardGenuineTop10 Number      `json:"reward_genuine_top10"`
	KL                 Number      `json:"kl"`
	Diversity          Number      `json:"diversity"`
	Curve              [][2]Number `json:"curve"`
}

// PretrainedSummary is the pre-trained model's genuine reward.
type PretrainedSummary struct {
	RewardGenuine      Number `json:"reward_genuine"`
	RewardGenuineTop10 Number `json:"reward_genuine_top10"`
}

// Run returns a run's entry by name.
func (s Summary) Run(name string) (RunInfo, bool) {
	for _, r := range s.Runs {
		if r.Name == name {
			return r, true
		}
	}
	return RunInfo{}, false
}

// TargetAt returns the target at α.
func (s Summary) TargetAt(alpha float64) (Exact, bool) {
	for _, t := range s.Targets {
		if t.Alpha == alpha {
			return t.Exact, true
		}
	}
	return Exact{}, false
}
