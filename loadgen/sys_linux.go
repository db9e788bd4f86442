package loadgen

import (
	"runtime"
	"syscall"
	"time"
)

const prSetTimerSlack = 29 // PR_SET_TIMERSLACK, prctl(2)

// lockPacer pins the calling goroutine to its OS thread and makes that
// thread's sleeps precise to about 10 µs (a timer slack of 1 ns instead of
// 50 µs). The returned function undoes both.
func lockPacer() (unlock func()) {
	runtime.LockOSThread()
	_, _, _ = syscall.Syscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	return func() {
		_, _, _ = syscall.Syscall(syscall.SYS_PRCTL, prSetTimerSlack, 0, 0) // 0: back to the default
		runtime.UnlockOSThread()
	}
}

// preciseSleep sleeps for d in the kernel, not on Go's timer heap, whose
// wake-ups on Linux come in whole milliseconds.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil) // an early wake-up (EINTR) is caught by the caller's loop
}

// childAttr makes a server the tool starts die with it (Linux's parent-death
// signal), so that a tool that is itself killed leaves no server behind.
// The signal follows the OS thread that started the child: the caller keeps
// that thread (runtime.LockOSThread) until the child has exited.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
