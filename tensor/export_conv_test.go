package tensor

// SetConvScratch sets the number of float32 values of a worker's patch block
// in the CPU convolutions (n < 1: the smallest block) and returns a function
// that restores the previous value.
func SetConvScratch(n int) (restore func()) {
	old := convScratchValues
	convScratchValues = max(n, 1)
	return func() { convScratchValues = old }
}

// SetConvTapsMinImages sets the fewest images for which the CPU runs
// stride-1 "same" convolutions as shifted taps (n < 1: GOMAXPROCS) and
// returns a function that restores the previous value.
func SetConvTapsMinImages(n int) (restore func()) {
	old := convTapsMinImages
	convTapsMinImages = n
	return func() { convTapsMinImages = old }
}

// Transpose is the CPU backend's float32 matrix transpose.
var Transpose = transpose

// SetConvTapBand sets the bytes of the shifted copies of a band of rows in
// the CPU's tap convolutions and returns a function that restores the
// previous value.
func SetConvTapBand(bytes int) (restore func()) {
	old := tapBandBytes
	tapBandBytes = bytes
	return func() { tapBandBytes = old }
}

// Deinterleave and Interleave are the CPU backend's split of a row into its
// even and odd values and its inverse.
var Deinterleave, Interleave = deinterleave, interleave
