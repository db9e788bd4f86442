//go:build !linux

package loadgen

import (
	"syscall"
	"time"
)

// lockPacer does nothing where sleeps cannot be made more precise.
func lockPacer() (unlock func()) { return func() {} }

// preciseSleep is time.Sleep here.
func preciseSleep(d time.Duration) { time.Sleep(d) }

// childAttr sets nothing where there is no parent-death signal.
func childAttr() *syscall.SysProcAttr { return nil }
