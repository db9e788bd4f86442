//go:build !unix

package loadgen

import "time"

// raiseFileLimit is a no-op where there is no RLIMIT_NOFILE; 0 means unknown.
func raiseFileLimit() (uint64, error) { return 0, nil }

// cpuTime is unknown here.
func cpuTime() time.Duration { return 0 }
