package tensor

// SetConvScratch sets the number of float32 values of a worker's patch block
// in the CPU convolutions (n < 1: the smallest block) and returns a function
// that restores the previous value.
func SetConvScratch(n int) (restore func()) {
	old := convScratchValues
	convScratchValues = max(n, 1)
	return func() { convScratchValues = old }
}
