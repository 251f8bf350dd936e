package algos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
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
	// noise is the standard deviation of the observation noise of counted
	// queries, drawn from a stream seeded by noiseSeed and the query's index.
	noise     float64
	noiseSeed uint64
	noiseBase int
	// log receives the counted queries from logBase on, indexed from 0.
	log     io.Writer
	logBase int
	tag     QueryTag
	// replay holds the answers of an earlier invocation, handed out in
	// order (replayed of them so far) instead of scoring.
	replay   []QueryRecord
	replayed int
}

// QueryTag labels the queries of the query log: the round and the variant
// (run) that asked.
type QueryTag struct {
	Round   int    `json:"round"`
	Variant string `json:"variant"`
}

// QueryRecord is one line of the query log (JSONL): the query's index in
// its log (from 0 at SetLog: a run's own count, whatever other runs of the
// process asked before), its tag, the sample and the answer y (noise
// included).
type QueryRecord struct {
	Index int `json:"i"`
	QueryTag
	X []float64 `json:"x"`
	Y float64   `json:"y"`
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

// Budget is the limit set by SetBudget (0: none).
func (o *Oracle) Budget() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.budget
}

// SetNoise makes counted queries answer y = r(x) + ε, ε ~ N(0, std²) (0:
// exact answers). The noise of the i-th counted query from now on is drawn
// from a stream of (seed, i): the same queries in the same order get the
// same answers, whatever was asked before.
func (o *Oracle) SetNoise(std float64, seed uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.noise, o.noiseSeed, o.noiseBase = std, seed, o.queries
}

// SetLog sends every counted query from now on and its answer to w, one
// QueryRecord in JSON per line, indexed from 0 (nil: no log).
func (o *Oracle) SetLog(w io.Writer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.log, o.logBase = w, o.queries
}

// SetTag labels the queries that follow in the log.
func (o *Oracle) SetTag(t QueryTag) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tag = t
}

// SetReplay makes the next counted queries take their answers from recs, in
// order, instead of asking the genuine reward again: the log of an earlier
// invocation that stopped (a resumed run spends no query twice). Each
// replayed query must ask for the same sample as its record; replayed
// queries are counted against the budget but not logged again.
func (o *Oracle) SetReplay(recs []QueryRecord) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.replay, o.replayed = recs, 0
}

// Replayed is the number of queries answered from the replay so far, and
// the number of records it holds.
func (o *Oracle) Replayed() (done, held int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.replayed, len(o.replay)
}

// Query returns the genuine reward of rows of x (dim values each), with the
// observation noise if set, and counts them. It fails without scoring
// anything when the rows would exceed the budget, when a row differs from
// the replayed record it should repeat, and when a reward is not finite; a
// failed write of the log is an error too.
func (o *Oracle) Query(x []float64, dim int) ([]float64, error) {
	n := len(x) / dim
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.budget > 0 && o.queries+n > o.budget {
		return nil, fmt.Errorf("%w: %d of %d used, %d more asked", ErrBudget, o.queries, o.budget, n)
	}
	// The first k rows repeat the replay's next records.
	k := min(n, len(o.replay)-o.replayed)
	for i := range k {
		rec := o.replay[o.replayed+i]
		if !slices.Equal(rec.X, x[i*dim:(i+1)*dim]) || rec.Round != o.tag.Round || rec.Variant != o.tag.Variant {
			return nil, fmt.Errorf("oracle %s: query %d (round %d) is not the one the log replayed holds (round %d): the log is of another run", o.name, o.replayed+i, o.tag.Round, rec.Round)
		}
	}
	first := o.queries
	y := make([]float64, n)
	for i := range k {
		y[i] = o.replay[o.replayed+i].Y
	}
	if k < n {
		fresh := o.score(x[k*dim:])
		for i, v := range fresh {
			if !Number(v).Finite() {
				return nil, fmt.Errorf("oracle %s: the reward of query %d is %v", o.name, k+i, v)
			}
		}
		copy(y[k:], fresh)
	}
	o.queries += n
	o.replayed += k
	if o.noise > 0 {
		for i := k; i < n; i++ {
			y[i] += o.noise * rand.New(rand.NewPCG(o.noiseSeed, uint64(first+i-o.noiseBase))).NormFloat64()
		}
	}
	if o.log != nil {
		enc := json.NewEncoder(o.log)
		for i := k; i < n; i++ {
			rec := QueryRecord{Index: first + i - o.logBase, QueryTag: o.tag, X: x[i*dim : (i+1)*dim], Y: y[i]}
			if err := enc.Encode(rec); err != nil {
				return nil, fmt.Errorf("oracle %s: query log: %w", o.name, err)
			}
		}
	}
	return y, nil
}

// ReadQueryLog reads a query log, and truncates a last line that was cut
// short (a stop while it was written) so that the log can be appended to.
func ReadQueryLog(path string) ([]QueryRecord, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []QueryRecord
	good := 0
	for good < len(raw) {
		end := bytes.IndexByte(raw[good:], '\n')
		if end < 0 {
			break // a last line without its newline: cut short
		}
		var rec QueryRecord
		if err := json.Unmarshal(raw[good:good+end], &rec); err != nil {
			return nil, fmt.Errorf("query log %s, record %d: %w", path, len(recs), err)
		}
		recs = append(recs, rec)
		good += end + 1
	}
	if good < len(raw) {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, err
		}
	}
	return recs, nil
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
