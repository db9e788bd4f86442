package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// readyLimit bounds the wait for a started server's /readyz, WAL recovery
// and migrations included.
const readyLimit = 30 * time.Second

// serverProcess is a switchboard the tool runs itself (startup and crash
// scenarios) on a data folder and a loopback address, which it may kill
// and start again on both.
type serverProcess struct {
	bin, dir, addr string
	args           []string // more serve flags (a cluster node's database, NATS and node id)

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has exited and been reaped
	killed  bool          // the tool killed cmd (or stopped it)
	out     *syncBuffer   // cmd's output
	outputs []*syncBuffer // every start's, in order
	deadCPU time.Duration // CPU time of the processes that have exited
}

// maxServerOutput bounds what the tool keeps of one start's output; the
// server logs little at its default level, so it is rarely reached.
const maxServerOutput = 1 << 20

func newServerProcess(bin, dir, addr string, args ...string) *serverProcess {
	return &serverProcess{bin: bin, dir: dir, addr: addr, args: args}
}

// url is the server's base URL.
func (p *serverProcess) url() string { return "http://" + p.addr }

// start starts the server and returns once /readyz answers 200. A start that
// finds the port still taken (a killed server's sockets, a client dialling
// in at the wrong moment) is tried again until the ready limit.
func (p *serverProcess) start(ctx context.Context) error {
	deadline := time.Now().Add(readyLimit)
	for {
		if err := p.spawn(); err != nil {
			return err
		}
		err := p.awaitReady(ctx, deadline)
		if err == nil {
			return nil
		}
		if p.hasExited() && portTaken(p.output()) && time.Now().Before(deadline) {
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		p.kill()
		return err
	}
}

// portTaken reports whether a server's output says its address was in use
// (as Linux and macOS word it, and as Windows does).
func portTaken(out []byte) bool {
	return bytes.Contains(out, []byte("address already in use")) || bytes.Contains(out, []byte("Only one usage of each socket address"))
}

// spawn starts one server process.
func (p *serverProcess) spawn() error {
	out := &syncBuffer{limit: maxServerOutput}
	cmd := exec.Command(p.bin, append([]string{"serve", "--addr", p.addr, "--data", p.dir}, p.args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		// The parent-death signal follows the thread that started the
		// child: keep it until the child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		p.mu.Lock()
		p.deadCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		p.mu.Unlock()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	p.mu.Lock()
	p.cmd, p.exited, p.killed, p.out = cmd, exited, false, out
	p.outputs = append(p.outputs, out)
	p.mu.Unlock()
	return nil
}

// awaitReady polls /readyz until it answers 200, the process exits, or
// the deadline passes.
func (p *serverProcess) awaitReady(ctx context.Context, deadline time.Time) error {
	// A fresh connection each time: a pooled one may lead to a killed process.
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer hc.CloseIdleConnections()
	exited := p.exitedChan()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-exited:
			return fmt.Errorf("the server exited before it was ready (%s); its output:\n%s", p.exitStatus(), tail(p.output(), 4096))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server was not ready after %s; its output:\n%s", readyLimit, tail(p.output(), 4096))
		}
		resp, err := hc.Get(p.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// kill ends the server at once with SIGKILL, as a crash would: no graceful
// shutdown, nothing flushed. It returns once the process is gone, reaped
// and its sockets closed.
func (p *serverProcess) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.killed = true
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill() // os.ErrProcessDone if it has exited already
	<-exited
}

// stop ends the server gracefully (SIGINT), killing it if it has not ended
// after the server's own shutdown grace and some.
func (p *serverProcess) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.killed = true
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// exitedChan is closed when the current process exits.
func (p *serverProcess) exitedChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

func (p *serverProcess) hasExited() bool {
	select {
	case <-p.exitedChan():
		return true
	default:
		return false
	}
}

// exitedByItself reports whether the current process ended without the
// tool killing it: the server crashed on its own.
func (p *serverProcess) exitedByItself() bool {
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	return !killed && p.hasExited()
}

// exitStatus says how the current process ended; call it once it has.
func (p *serverProcess) exitStatus() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.ProcessState == nil {
		return "running"
	}
	return p.cmd.ProcessState.String()
}

// pid is the current process's id (0 when there is none or it has exited).
func (p *serverProcess) pid() int {
	if p.hasExited() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// cpu is the CPU time all the processes used so far, the running one included.
func (p *serverProcess) cpu() time.Duration {
	p.mu.Lock()
	dead := p.deadCPU
	p.mu.Unlock()
	return dead + procCPU(p.pid())
}

// output is what the current process printed.
func (p *serverProcess) output() []byte {
	p.mu.Lock()
	out := p.out
	p.mu.Unlock()
	if out == nil {
		return nil
	}
	return out.Bytes()
}

var (
	ownerEmailLine    = regexp.MustCompile(`(?m)^\s+e-mail:\s+(\S+)`)
	ownerPasswordLine = regexp.MustCompile(`(?m)^\s+password:\s+(\S+)`)
)

// owner reads the owner's e-mail and one-time password from what the
// server printed when it first started on the data folder: on the first
// start, or on a later try of it (the server makes the owner before it
// listens, so a try that found the port taken has printed them already).
// ok is false when no start printed them: the folder had an owner before.
func (p *serverProcess) owner() (email, password string, ok bool) {
	p.mu.Lock()
	outputs := p.outputs
	p.mu.Unlock()
	for _, out := range outputs {
		b := out.Bytes()
		e, pw := ownerEmailLine.FindSubmatch(b), ownerPasswordLine.FindSubmatch(b)
		if e != nil && pw != nil {
			return string(e[1]), string(pw[1]), true
		}
	}
	return "", "", false
}

// errorLines returns the lines the servers logged at error level, and the
// race detector's reports of a server built with -race, each prefixed with
// the number of the start that printed it.
func (p *serverProcess) errorLines() []string {
	p.mu.Lock()
	outputs := p.outputs
	p.mu.Unlock()
	var lines []string
	for i, out := range outputs {
		sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var race []string // a race report, from its header to its closing rule
		for sc.Scan() {
			line := sc.Text()
			switch {
			case race != nil:
				if strings.HasPrefix(line, "==================") || len(race) == 60 {
					lines = append(lines, fmt.Sprintf("start %d: %s", i+1, strings.Join(race, "\n")))
					race = nil
				} else {
					race = append(race, line)
				}
			case strings.Contains(line, "WARNING: DATA RACE"):
				race = []string{line}
			case strings.Contains(line, `"level":"ERROR"`):
				lines = append(lines, fmt.Sprintf("start %d: %s", i+1, strings.TrimSpace(line)))
			}
		}
		if race != nil {
			lines = append(lines, fmt.Sprintf("start %d: %s", i+1, strings.Join(race, "\n")))
		}
	}
	return lines
}

// tail returns at most the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// procCPU reads the CPU time a local process has used (0 when unknown).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it don't.
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// startupTimes returns the start-up times the servers logged (their
// "switchboard ready" line's startup_ms), in the order they started.
func (p *serverProcess) startupTimes() []time.Duration {
	p.mu.Lock()
	outputs := p.outputs
	p.mu.Unlock()
	var ds []time.Duration
	for _, out := range outputs {
		if d := serverStartup(out.Bytes()); d >= 0 {
			ds = append(ds, d)
		}
	}
	return ds
}
