package tensor

// Freer is implemented by backends that reuse the storage of tensors freed
// explicitly.
type Freer interface {
	Free(Buffer)
}

// Free gives t's storage back to its backend for reuse, where the backend
// recycles storage (Freer); elsewhere it does nothing and the garbage
// collector reclaims it. t and every view of its storage must not be used
// afterwards. Operations free the temporaries they alone hold, such as the
// saved activation derivative of a dense layer once its backward pass ran.
func Free(t *Tensor) {
	if f, ok := t.Backend().(Freer); ok {
		f.Free(t.buf)
	}
}
