package algos

import (
	"errors"
	"fmt"
	"sync"
)

// ErrBudget is returned by Oracle.Query once the query budget is spent.
var ErrBudget = errors.New("oracle: query budget spent")

// Oracle is a task's genuine reward r: the quantity a researcher measures
// (the binding of a sequence, a strong classifier's score), as opposed to the
// nominal reward r̂ that methods differentiate. Every counted query is
// recorded: an online method (SEIKO) spends a budget of them; evaluation
// scores samples without counting. It is safe for concurrent use.
type Oracle struct {
	name  string
	score func(x []float64) []float64

	mu      sync.Mutex
	queries int
	budget  int
}

// NewOracle wraps score, which returns the genuine reward of every row of x.
func NewOracle(name string, score func(x []float64) []float64) *Oracle {
	return &Oracle{name: name, score: score}
}

// String names the genuine reward.
func (o *Oracle) String() string { return o.name }

// SetBudget limits the counted queries to n from now on (0: no limit).
func (o *Oracle) SetBudget(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.budget = n
}

// Query returns the genuine reward of rows of x (dim values each) and counts
// them. It fails without scoring anything when the rows would exceed the
// budget, and when a reward is not finite.
func (o *Oracle) Query(x []float64, dim int) ([]float64, error) {
	n := len(x) / dim
	o.mu.Lock()
	if o.budget > 0 && o.queries+n > o.budget {
		o.mu.Unlock()
		return nil, fmt.Errorf("%w: %d of %d used, %d more asked", ErrBudget, o.queries, o.budget, n)
	}
	o.queries += n
	o.mu.Unlock()
	y := o.score(x)
	for i, v := range y {
		if !Number(v).Finite() {
			return nil, fmt.Errorf("oracle %s: the reward of query %d is %v", o.name, i, v)
		}
	}
	return y, nil
}

// Score returns the genuine reward of rows of x without counting them: for
// evaluation, never for a method's own use.
func (o *Oracle) Score(x []float64) []float64 { return o.score(x) }

// Queries is the number of counted queries so far.
func (o *Oracle) Queries() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queries
}
