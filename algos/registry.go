package algos

import (
	"fmt"
	"maps"
	"slices"
)

// registry holds the specs of one kind (tasks, methods) by name.
type registry[S any] struct {
	kind  string
	specs map[string]S
}

func newRegistry[S any](kind string) *registry[S] {
	return &registry[S]{kind: kind, specs: map[string]S{}}
}

// add registers s under name; it panics on a duplicate (two files claiming
// one name is a programmer error).
func (r *registry[S]) add(name string, s S) {
	if _, dup := r.specs[name]; dup {
		panic(fmt.Sprintf("algos: %s %q registered twice", r.kind, name))
	}
	r.specs[name] = s
}

// lookup returns the spec of name, or an error listing the names there are.
func (r *registry[S]) lookup(name string) (S, error) {
	s, ok := r.specs[name]
	if !ok {
		return s, fmt.Errorf("unknown %s %q (available: %v)", r.kind, name, r.names())
	}
	return s, nil
}

// names lists the registered names in alphabetical order.
func (r *registry[S]) names() []string { return slices.Sorted(maps.Keys(r.specs)) }
