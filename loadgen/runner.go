package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
)

// Run runs one scenario and returns its result. It returns an error when
// the run could not be carried out (set-up failed, the server is
// unreachable); a run that completed with lost, doubled or reordered
// messages returns a Result whose OK is false.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// However the server behaves, the run ends: set-up, traffic and drain
	// each have their bound, and so does the whole.
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+cfg.Drain+cfg.Hold+setupLimit)
	defer cancel()
	var own *ownServer
	var nats *ownNATS
	if cfg.Scenario == ScenarioCrash {
		var err error
		if cfg.Nodes > 1 && cfg.NATSURL == "" {
			if nats, err = startOwnNATS(); err != nil {
				return nil, err
			}
			defer nats.close() // after the servers: deferred before their close
			cfg.NATSURL = nats.url()
			fmt.Fprintf(cfg.Log, "running NATS for the cluster on %s\n", cfg.NATSURL)
		}
		if own, err = startOwnServer(ctx, &cfg); err != nil {
			return nil, err
		}
	}
	r := newRunner(cfg)
	defer r.src.close()
	r.nats = nats
	if own != nil {
		r.procs = own.procs
		r.wsURLs = nil
		for _, p := range own.procs {
			r.wsURLs = append(r.wsURLs, wsURL(p.url()))
		}
	}
	if limit, err := raiseFileLimit(); err != nil {
		r.logf("could not raise the open-file limit: %v", err)
	} else if need := uint64(r.socketsNeeded() + 64); limit > 0 && limit < need {
		own.close(r, nil)
		return nil, fmt.Errorf("the open-file limit is %d but the run needs about %d descriptors: raise the hard limit (ulimit -Hn)", limit, need)
	}
	cpu0, load0 := cpuTime(), loadAverage()
	var res *Result
	var err error
	switch cfg.Scenario {
	case ScenarioSteady, ScenarioReconnect, ScenarioCrash:
		res, err = r.runChats(ctx)
	case ScenarioBurst:
		res, err = r.runBurst(ctx)
	case ScenarioIdle:
		res, err = r.runIdle(ctx)
	case ScenarioStartup:
		res, err = r.runStartup(ctx)
	}
	if err != nil {
		own.close(r, nil)
		return nil, err
	}
	res.LoadgenCPUSeconds = (cpuTime() - cpu0).Seconds()
	r.finish(res)
	own.close(r, res)
	res.Machine.LoadAvg = [2]float64{load0, loadAverage()}
	switch {
	case res.OtherCPUCores > 0.25:
		res.Problems = append(res.Problems, fmt.Sprintf("other processes used %.2f cores during the traffic: the figures are skewed", res.OtherCPUCores))
	case res.ServerCPUSeconds == 0 && load0 > float64(runtime.NumCPU())/2:
		res.Problems = append(res.Problems, fmt.Sprintf("the machine was busy at the start (load average %.1f on %d CPUs): the figures may be skewed", load0, runtime.NumCPU()))
	}
	return res, nil
}

// setupLimit bounds a run's set-up and clean-up (thousands of visitors,
// a hundred agents' password hashes).
const setupLimit = 10 * time.Minute

// runner is the state one run shares between its sockets and phases.
type runner struct {
	cfg    Config
	api    *api
	src    *sources
	wsURLs []string // the WebSocket endpoint of each node; one but in a cluster
	start  time.Time
	runID  string

	admin      *client.Client
	adminToken int64 // the API token the run made for itself, deleted at the end

	nextClient atomic.Int64 // numbers clients for their source addresses

	connect   *latency // dial to ready, first connection
	reconnect *latency // drop to ready
	resume    *latency // the server killed to ready again (crash)

	procs []*serverProcess // the servers (cluster nodes) the tool runs itself (crash); nil otherwise
	nats  *ownNATS         // the NATS server the tool runs for them, if any

	reconnects, resyncs, posErrors, strayAcks, sendErrors, slowDrops, restartDrops, lostConns, misdelivered, acksIgnored atomic.Int64

	mu        sync.Mutex
	problems  []string
	nproblems int
}

func newRunner(cfg Config) *runner {
	src := newSources(cfg.Target, cfg.SpreadSources, cfg.ClientsPerSource)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	r := &runner{
		cfg:       cfg,
		api:       &api{base: cfg.Target, src: src},
		src:       src,
		wsURLs:    []string{wsURL(cfg.Target)},
		start:     time.Now(),
		runID:     hex.EncodeToString(b),
		connect:   newLatency(),
		reconnect: newLatency(),
		resume:    newLatency(),
	}
	// Each run starts at a random source address, so that runs in a row
	// do not meet the per-address limits their predecessors used up.
	r.nextClient.Store(int64(mrand.IntN(50_000) * cfg.ClientsPerSource))
	return r
}

// wsURL is the WebSocket endpoint of the server at base.
func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws" }

// now is the time since the run started; all schedule and receive times use it.
func (r *runner) now() time.Duration { return time.Since(r.start) }

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "[%6.2fs] %s\n", r.now().Seconds(), fmt.Sprintf(format, args...))
}

func (r *runner) count(c *atomic.Int64) { c.Add(1) }

// maxProblems is how many problem descriptions a result keeps; the rest are counted.
const maxProblems = 20

// problem notes something that went wrong; the result lists the first few.
func (r *runner) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nproblems++
	if len(r.problems) < maxProblems {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

func (r *runner) socketsNeeded() int {
	switch r.cfg.Scenario {
	case ScenarioSteady, ScenarioReconnect, ScenarioCrash:
		return r.cfg.Idle + r.cfg.Chats + (r.cfg.Chats+r.cfg.ChatsPerAgent-1)/r.cfg.ChatsPerAgent
	case ScenarioBurst:
		return r.cfg.Agents + r.cfg.DialConcurrency
	case ScenarioIdle:
		return r.cfg.Idle
	}
	return 0
}

// signIn gets the owner or admin credentials the set-up uses: the given API
// token, or a token made after logging in (deleted by cleanUp).
func (r *runner) signIn(ctx context.Context) error {
	addr := r.clientAddrs(1)(0)
	if r.cfg.Token != "" {
		r.admin = r.api.as(addr, r.cfg.Token)
	} else {
		c, _, id, err := r.api.login(ctx, addr, r.cfg.AdminEmail, r.cfg.AdminPassword, "loadgen "+r.runID)
		if err != nil {
			return err
		}
		r.admin, r.adminToken = c, id
	}
	u, err := r.admin.Me(ctx)
	if err != nil {
		return fmt.Errorf("check the admin credentials: %w", err)
	}
	if !u.Role.AtLeast(sb.RoleAdmin) {
		return fmt.Errorf("the credentials are a %s's; the set-up needs an owner or admin", u.Role)
	}
	return nil
}

// clientAddrs reserves source addresses for n clients and returns the
// address of the i-th of them.
func (r *runner) clientAddrs(n int) func(i int) netip.Addr {
	base := int(r.nextClient.Add(int64(n))) - n
	return func(i int) netip.Addr { return r.src.addr(base + i) }
}

// agent is a user the run made, signed in with an API token of its own.
type agent struct {
	id    int64
	c     *client.Client
	token string
	addr  netip.Addr
}

// makeAgents creates n operators, each a member of inboxOf(i) with the given
// chat limit, signs each in from addrOf(i) and gives each an API token.
func (r *runner) makeAgents(ctx context.Context, n, chatLimit int, inboxOf func(i int) int64, addrOf func(i int) netip.Addr) ([]agent, error) {
	agents := make([]agent, n)
	err := r.parallel(ctx, n, 4, func(ctx context.Context, i int) error {
		password := "lg-" + r.runID + "-" + strconv.Itoa(i) + "-password"
		email := fmt.Sprintf("lg-%s-agent-%d@loadgen.invalid", r.runID, i)
		u, err := r.admin.CreateUser(ctx, client.NewUser{
			Email: email, Name: fmt.Sprintf("Loadgen agent %d", i), Role: sb.RoleAgent, Operator: true,
			ChatLimit: &chatLimit, Password: password, InboxIDs: []int64{inboxOf(i)},
		})
		if err != nil {
			return fmt.Errorf("create agent %d: %w", i, err)
		}
		agents[i].id = u.ID
		c, _, _, err := r.api.login(ctx, addrOf(i), email, password, "loadgen")
		if err != nil {
			return err
		}
		agents[i] = agent{id: u.ID, c: c, token: c.Token(), addr: addrOf(i)}
		return nil
	})
	return agents, err
}

// disableAgents switches the run's agents off at the end, so they stop
// counting as staff of the organisation.
func (r *runner) disableAgents(ctx context.Context, agents []agent) {
	for _, a := range agents {
		if a.id == 0 {
			continue
		}
		if _, err := r.admin.UpdateUser(ctx, a.id, map[string]any{"disabled": true}); err != nil {
			r.logf("clean-up: disable agent %d: %v", a.id, err)
			return
		}
	}
}

// parallel runs f(0..n-1) with at most width at once and returns the first error.
func (r *runner) parallel(ctx context.Context, n, width int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for w := 0; w < min(width, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					errOnce.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// connectAll opens the sockets, at most DialConcurrency handshakes at a
// time, and starts each one's reading goroutine under runCtx (wg tracks them).
func (r *runner) connectAll(ctx, runCtx context.Context, socks []*socket, wg *sync.WaitGroup) error {
	return r.parallel(ctx, len(socks), r.cfg.DialConcurrency, func(ctx context.Context, i int) error {
		s := socks[i]
		began := r.now()
		c, err := s.open(ctx)
		if err != nil {
			return fmt.Errorf("connect %s: %w", s.name, err)
		}
		r.connect.record(r.now() - began)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(runCtx, c)
		}()
		return nil
	})
}

// memory is what the tool can see of the server's memory.
type memory struct {
	RSS        int64 // resident set size, bytes
	HeapInuse  int64 // Go heap spans in use
	StackInuse int64 // goroutine stacks
	Goroutines int64
}

// serverMemory reads the server's memory: RSS from /proc/<pid> when the
// pid is known (the server may be another program), otherwise from
// /metrics; the Go runtime's figures from /metrics when it has them.
func (r *runner) serverMemory(ctx context.Context) (memory, error) {
	var m memory
	vals, merr := r.api.metrics(ctx, "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines")
	m.RSS = int64(vals["process_resident_memory_bytes"])
	m.HeapInuse = int64(vals["go_memstats_heap_inuse_bytes"])
	m.StackInuse = int64(vals["go_memstats_stack_inuse_bytes"])
	m.Goroutines = int64(vals["go_goroutines"])
	if len(r.procs) > 0 {
		// The tool's own servers: every node's RSS together.
		m.RSS = 0
		for _, p := range r.procs {
			rss, err := procRSS(p.pid())
			if err != nil {
				return m, err
			}
			m.RSS += rss
		}
		return m, nil
	}
	if pid := r.cfg.ServerPID; pid > 0 {
		rss, err := procRSS(pid)
		if err != nil {
			return m, err
		}
		m.RSS = rss
		return m, nil
	}
	if merr != nil {
		return m, merr
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("/metrics has no process_resident_memory_bytes; pass --server-pid")
	}
	return m, nil
}

// procRSS reads VmRSS of a local process.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// memSampler reads the server's memory every interval, keeping the last
// sample and the largest RSS seen.
type memSampler struct {
	mu     sync.Mutex
	latest memory
	peak   int64
}

// serverCPU reads the CPU time the server has used, when its pid is known
// or the tool runs it (0 otherwise).
func (r *runner) serverCPU() time.Duration {
	if len(r.procs) > 0 {
		var cpu time.Duration
		for _, p := range r.procs {
			cpu += p.cpu()
		}
		return cpu
	}
	return procCPU(r.cfg.ServerPID)
}

// cpuShares records who used the CPUs during a phase of length d: the
// server (when its pid is known), the tool, and everything else on the
// machine, which skews the figures when it is not near zero.
func (r *runner) cpuShares(res *Result, d, server, tool, all time.Duration) {
	if d <= 0 {
		return
	}
	cores := func(t time.Duration) float64 { return t.Seconds() / d.Seconds() }
	res.ToolCPUCores = cores(tool)
	if server > 0 {
		res.ServerCPUSeconds, res.ServerCPUCores = server.Seconds(), cores(server)
		if all > 0 {
			res.OtherCPUCores = max(0, cores(all-server-tool))
		}
	}
}

// sampleMemory starts a memSampler that stops when ctx ends.
func (r *runner) sampleMemory(ctx context.Context, interval time.Duration) *memSampler {
	ms := &memSampler{}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			m, err := r.serverMemory(qctx)
			cancel()
			if err == nil {
				ms.mu.Lock()
				ms.latest, ms.peak = m, max(ms.peak, m.RSS)
				ms.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ms
}

func (ms *memSampler) peakRSS() int64 {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.peak
}

// cleanUp deletes the API token the run made for itself.
func (r *runner) cleanUp() {
	if r.adminToken == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.admin.DeleteToken(ctx, r.adminToken); err != nil {
		r.logf("clean-up: delete the run's API token: %v", err)
	}
}

// finish fills in what every result reports.
func (r *runner) finish(res *Result) {
	res.Scenario = r.cfg.Scenario
	res.Target = r.cfg.Target
	switch r.cfg.Scenario {
	case ScenarioStartup:
		res.Target = r.cfg.ServerBin
	case ScenarioCrash:
		res.Target = r.cfg.ServerBin + " at " + r.cfg.Target
		for _, p := range r.procs[min(1, len(r.procs)):] {
			res.Target += ", " + p.url()
		}
	}
	res.Reconnects = r.reconnects.Load()
	res.Resyncs = r.resyncs.Load()
	res.PositionErrors = r.posErrors.Load()
	res.SendErrors = r.sendErrors.Load()
	res.StrayAcks = r.strayAcks.Load()
	res.SlowConsumerDrops = r.slowDrops.Load()
	res.ServerRestartDrops = r.restartDrops.Load()
	res.ConnectionsLost = r.lostConns.Load()
	res.Misdelivered = r.misdelivered.Load()
	res.AcksIgnored = r.acksIgnored.Load()
	if p := r.connect.percentiles(); p.Count > 0 {
		res.Connect = &p
	}
	if p := r.reconnect.percentiles(); p.Count > 0 {
		res.Reconnect = &p
	}
	if p := r.resume.percentiles(); p.Count > 0 {
		res.KillToResume = &p
	}
	res.Machine = Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, MemoryBytes: totalMemory()}
	r.mu.Lock()
	res.Problems = append(res.Problems, r.problems...)
	if r.nproblems > len(r.problems) {
		res.Problems = append(res.Problems, fmt.Sprintf("… and %d more", r.nproblems-len(r.problems)))
	}
	r.mu.Unlock()
	res.OK = res.Lost == 0 && res.Duplicated == 0 && res.Reordered == 0 && res.PositionErrors == 0 &&
		res.Resyncs == 0 && res.SendErrors == 0 && res.Misdelivered == 0 && res.AckMismatches == 0 &&
		res.HistoryLost == 0 && res.HistoryDuplicated == 0 && res.HistoryWrong == 0 && res.Failure == ""
}

// loadAverage reads the one-minute load average (0 where there is none).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

// machineBusy reads the CPU time all processes of the machine have used
// (0 where /proc/stat is missing).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// totalMemory reads MemTotal from /proc/meminfo (0 where there is none).
func totalMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
