//go:build unix

package report

import (
	"errors"
	"syscall"
)

// alive reports whether a process of that pid exists (one of another user
// counts).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
