package algos

func init() {
	RegisterMethod(MethodSpec{Name: "truncation", Unregularized: true,
		Doc: "Truncation (DRaFT-K): NO KL with gradients through the last K steps only (ALGORITHMS.md §1)",
		New: func(r Recipe) Method {
			return &Unregularized{Drift: baselineDrift(r), InitSteps: r.Initial.Steps, Truncated: true, LastK: r.TruncK}
		}})
}
