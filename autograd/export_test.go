package autograd

// OpenNoGradScopes is the number of NoGrad scopes open over all goroutines.
func OpenNoGradScopes() int64 { return noGradScopes.Load() }
