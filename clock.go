// Package switchboard is the domain of Switchboard: its types, their rules,
// the error codes and the small interfaces the adapters implement.
package switchboard

import "time"

// Clock tells the time. Everything that a test needs to steer takes one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time, truncated to microseconds so that it
// survives a round trip through either database unchanged.
func (SystemClock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
