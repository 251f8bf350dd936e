package workers

import "syscall"

// osYield gives the worker's core to another thread that waits for it, if
// any (sched_yield).
func osYield() { syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
