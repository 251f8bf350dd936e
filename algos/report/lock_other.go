//go:build !unix

package report

// alive cannot tell here: every lock counts as held.
func alive(int) bool { return true }
