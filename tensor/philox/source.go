package philox

// Source hands out the draws of one seed in sequence, so that a program
// taking its randomness from a Source gets the same numbers on every run
// and on every device that implements the mapping of this package.
//
// Each Next method consumes one draw: the first call uses draw Draw, the
// next Draw+1, and so on. Saving Seed and Draw in a checkpoint and restoring
// them resumes the sequence exactly. The zero value is a Source with seed 0.
// A Source must not be used by several goroutines at once.
type Source struct {
	// Seed is the seed of every draw.
	Seed uint64
	// Draw is the index of the next draw.
	Draw uint64
}

// NewSource returns a Source for seed, starting at draw 0.
func NewSource(seed uint64) *Source {
	return &Source{Seed: seed}
}

// Next reserves the next draw and returns its index, for a consumer that
// generates the draw itself, such as a GPU kernel.
func (s *Source) Next() uint64 {
	d := s.Draw
	s.Draw++
	return d
}

// NextUniform32 fills out with the next draw as by [Uniform32].
func (s *Source) NextUniform32(out []float32) {
	Uniform32(s.Seed, s.Next(), out)
}

// NextUniform64 fills out with the next draw as by [Uniform64].
func (s *Source) NextUniform64(out []float64) {
	Uniform64(s.Seed, s.Next(), out)
}

// NextNormal32 fills out with the next draw as by [Normal32].
func (s *Source) NextNormal32(out []float32) {
	Normal32(s.Seed, s.Next(), out)
}

// NextNormal64 fills out with the next draw as by [Normal64].
func (s *Source) NextNormal64(out []float64) {
	Normal64(s.Seed, s.Next(), out)
}
