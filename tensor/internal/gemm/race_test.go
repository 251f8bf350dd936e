//go:build race

package gemm

// raceEnabled reports whether the race detector is on (sync.Pool then drops
// items on purpose, so allocation counts mean nothing).
const raceEnabled = true
