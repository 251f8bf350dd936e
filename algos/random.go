package algos

func init() {
	RegisterMethod(MethodSpec{Name: "random", Unregularized: true,
		Doc: "Random (AlignProp): Truncation with K drawn uniformly from 1…steps per batch (ALGORITHMS.md §1)",
		New: func(r Recipe) Method {
			return &Unregularized{Drift: baselineDrift(r), InitSteps: r.Initial.Steps, RandomK: true}
		}})
}
