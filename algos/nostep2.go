package algos

func init() {
	RegisterMethod(MethodSpec{Name: "nostep2", Tilted: true,
		Doc: "ELEGANT without its learned initial law: x₀ ~ N(0, I) (ALGORITHMS.md §1)",
		New: func(r Recipe) Method { return &Elegant{Value: r.Value, Initial: r.Initial, Drift: r.Drift} }})
}
