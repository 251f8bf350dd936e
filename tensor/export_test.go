package tensor

// SetPoisonAllocs makes the CPU backend fill new buffers with NaN (on) or
// hand them out as they come (off).
func SetPoisonAllocs(on bool) { poisonAllocs = on }
