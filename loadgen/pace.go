package loadgen

import (
	"context"
	"time"
)

// waitUntil blocks until the run's clock reaches t and reports whether it
// did (false: ctx ended first). Call it from a goroutine that holds a pacer
// (lockPacer): Go's own timers wake up to a millisecond late on Linux,
// which would add that much to every latency measured from a scheduled
// time, so the pacer sleeps with nanosleep(2) on its own thread instead.
func (r *runner) waitUntil(ctx context.Context, t time.Duration) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		d := t - r.now()
		if d <= 0 {
			return true
		}
		preciseSleep(min(d, 20*time.Millisecond)) // short, so ctx is checked often
	}
}
