//go:build unix

package verifier_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuMetric starts measuring the CPU time of the process (user and
// kernel, all threads, the garbage collector's too) and returns the
// function that reports it per operation as "cpu-ns/op". On the shared
// 2-core machine wall time per operation swings with the other builds;
// CPU time is what the operation costs.
func cpuMetric(b *testing.B) func() {
	start, ok := cpuTime()
	return func() {
		if end, ok2 := cpuTime(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
