package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Result is what one run measured. Its JSON form (WriteJSON) is one object;
// latency figures are null when the scenario does not measure them.
type Result struct {
	Scenario  string  `json:"scenario"`
	Target    string  `json:"target"`
	DurationS float64 `json:"duration_s"` // the traffic (or hold) phase

	// Messages (steady, reconnect).
	Chats             int     `json:"chats,omitempty"`
	RateMsgsPerS      float64 `json:"rate_msgs_per_s,omitempty"` // offered: the schedule
	MessagesSent      int64   `json:"messages_sent"`
	MessagesAcked     int64   `json:"messages_acked"`     // committed, as the server's acks say
	MessagesDelivered int64   `json:"messages_delivered"` // reached the other side of the chat (once each)
	// Lost counts (message, intended receiver) pairs that never arrived:
	// each message is meant for the other side and echoed to its sender.
	Lost int64 `json:"lost"`
	// Duplicated counts messages a receiver got more than once.
	Duplicated int64 `json:"duplicated"`
	// Reordered counts messages a receiver got after a later one of the same
	// sender, or with a sequence number not above the previous one.
	Reordered          int64    `json:"reordered"`
	ThroughputMsgsPerS float64  `json:"throughput_msgs_per_s"`
	DeliveryP50Ms      *float64 `json:"delivery_p50_ms"`
	DeliveryP99Ms      *float64 `json:"delivery_p99_ms"`
	DeliveryP999Ms     *float64 `json:"delivery_p999_ms"`
	// Delivery is from the scheduled send time to receipt at the other side;
	// Ack from the scheduled send time to the sender's ack (committed);
	// SendLag is how late the tool itself sent, so its own stalls show.
	Delivery           *Percentiles `json:"delivery,omitempty"`
	DeliveryToAgent    *Percentiles `json:"delivery_customer_to_agent,omitempty"`
	DeliveryToCustomer *Percentiles `json:"delivery_agent_to_customer,omitempty"`
	Ack                *Percentiles `json:"ack,omitempty"`
	SendLag            *Percentiles `json:"send_lag,omitempty"`
	Storms             int          `json:"storms,omitempty"`
	StormDrops         int64        `json:"storm_drops,omitempty"`
	// Resent counts unacknowledged sends that went out again after a
	// resume; ResentCommitted those of them that had been committed before
	// the connection was lost (their ack was lost, and the server had to
	// answer the re-send with the original message).
	Resent          int64 `json:"resent,omitempty"`
	ResentCommitted int64 `json:"resent_committed,omitempty"`
	// AcksIgnored counts acks the crash scenario threw away in the moments
	// before each kill, as if lost with the server (their messages were
	// committed; the re-sends must be answered with the originals).
	AcksIgnored int64 `json:"acks_ignored,omitempty"`
	// AckMismatches counts acks naming another stored message than the one
	// a receiver got under the same client id: a re-send stored twice.
	AckMismatches int64 `json:"ack_mismatches"`
	// A crash run's cluster: its nodes, and the chats whose customer and
	// agent were connected to different nodes.
	Nodes          int `json:"nodes,omitempty"`
	CrossNodeChats int `json:"cross_node_chats,omitempty"`
	// NATSRestarts counts the restarts of the tool's own NATS server (--restart-nats).
	NATSRestarts int `json:"nats_restarts,omitempty"`
	// The crash scenario: kills, the connections they cut, the time from
	// each kill to the restarted server's first 200 from /readyz, and to
	// each cut client's ready after its resume (back-off included); the
	// restarted servers' own start-up times; the server's data folder.
	Crashes         int          `json:"crashes,omitempty"`
	CrashDrops      int64        `json:"crash_drops,omitempty"`
	KillToReady     *Percentiles `json:"kill_to_ready,omitempty"`
	KillToResume    *Percentiles `json:"kill_to_resume,omitempty"`
	RestartServerMs *Percentiles `json:"restart_server,omitempty"`
	DataDir         string       `json:"data_dir,omitempty"`
	// The stored history, read back after the crashes (crash): committed
	// messages missing from it, stored twice, or stored out of their
	// sender's order or under another id than their ack and receivers had.
	HistoryChecked    bool  `json:"history_checked,omitempty"`
	HistoryLost       int64 `json:"history_lost"`
	HistoryDuplicated int64 `json:"history_duplicated"`
	HistoryWrong      int64 `json:"history_wrong"`
	UnackedAtEnd      int64 `json:"unacked_at_end,omitempty"`
	// Unanswered counts sends that were neither acked nor received by
	// anyone by the end of the drain: the server fell behind.
	Unanswered int64 `json:"unanswered,omitempty"`
	// Drained says everything sent had arrived before the drain time was
	// up; when false the server fell behind, and Lost may include messages
	// that were still on their way.
	Drained               bool         `json:"drained,omitempty"`
	ArrivalsScheduled     int          `json:"arrivals,omitempty"`
	ArrivalsStarted       int64        `json:"arrivals_started,omitempty"`
	Offers                int64        `json:"offers,omitempty"`
	Unoffered             int64        `json:"unoffered,omitempty"`
	RepeatedOffers        int64        `json:"repeated_offers,omitempty"`
	OfferP50Ms            *float64     `json:"offer_p50_ms"`
	OfferP99Ms            *float64     `json:"offer_p99_ms"`
	Offer                 *Percentiles `json:"offer,omitempty"`
	ArrivalHTTP           *Percentiles `json:"arrival_http,omitempty"`
	Visible               *Percentiles `json:"visible,omitempty"` // arrival to the conversation event on an agent socket
	Connections           int          `json:"connections"`
	IdleConnections       int          `json:"idle_connections,omitempty"`
	Connect               *Percentiles `json:"connect,omitempty"`
	Reconnect             *Percentiles `json:"reconnect,omitempty"`
	ServerRSSBytes        int64        `json:"server_rss_bytes"`
	ServerRSSPeakBytes    int64        `json:"server_rss_peak_bytes,omitempty"`
	ServerRSSBaseline     int64        `json:"server_rss_baseline_bytes,omitempty"`
	ServerGoroutines      int64        `json:"server_goroutines,omitempty"`
	ServerCPUSeconds      float64      `json:"server_cpu_s,omitempty"`     // during the traffic, with --server-pid
	ServerCPUCores        float64      `json:"server_cpu_cores,omitempty"` // the same per second of traffic
	ToolCPUCores          float64      `json:"tool_cpu_cores,omitempty"`   // the load generator, during the traffic
	OtherCPUCores         float64      `json:"other_cpu_cores,omitempty"`  // everything else on the machine, during the traffic (with --server-pid)
	BytesPerIdleConn      *float64     `json:"bytes_per_idle_connection"`
	GoBytesPerIdleConn    *float64     `json:"go_bytes_per_idle_connection,omitempty"` // heap + stacks in use, per connection
	GoroutinesPerIdleConn *float64     `json:"goroutines_per_idle_connection,omitempty"`
	StartupMs             *Percentiles `json:"startup,omitempty"`        // process start to the first 200 from /readyz
	StartupServerMs       *Percentiles `json:"startup_server,omitempty"` // as the server logs it (startup_ms)
	StartupP50Ms          *float64     `json:"startup_p50_ms,omitempty"`

	Reconnects         int64 `json:"reconnects"`
	Resyncs            int64 `json:"resyncs"`
	PositionErrors     int64 `json:"position_errors"`
	SendErrors         int64 `json:"send_errors"`
	StrayAcks          int64 `json:"stray_acks"`
	SlowConsumerDrops  int64 `json:"slow_consumer_drops"`
	ServerRestartDrops int64 `json:"server_restart_drops"`
	ConnectionsLost    int64 `json:"connections_lost"`
	// Misdelivered counts messages that reached a client not meant to see them.
	Misdelivered int64 `json:"misdelivered"`

	LoadgenCPUSeconds float64  `json:"loadgen_cpu_s"`
	Machine           Machine  `json:"machine"`
	OK                bool     `json:"ok"`
	Failure           string   `json:"failure,omitempty"`
	Problems          []string `json:"problems,omitempty"`

	baseline memory // the server before the idle connections, for the per-connection figures
}

// Machine is where the load generator ran.
type Machine struct {
	CPUs        int    `json:"cpus"`
	MemoryBytes int64  `json:"memory_bytes"`
	GoVersion   string `json:"go_version"`
	OS          string `json:"os"`
	// LoadAvg is the one-minute load average at the start and at the end of
	// the run (Linux): other work on the machine skews every figure.
	LoadAvg [2]float64 `json:"load_avg"`
}

func ptr(f float64) *float64 { return &f }

// setDelivery fills the headline delivery figures from p.
func (res *Result) setDelivery(p Percentiles) {
	if p.Count == 0 {
		return
	}
	res.Delivery = &p
	res.DeliveryP50Ms, res.DeliveryP99Ms, res.DeliveryP999Ms = ptr(p.P50), ptr(p.P99), ptr(p.P999)
}

// WriteJSON writes res as one JSON object.
func (res *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// WriteTable writes res as a table a person reads.
func (res *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...)) }
	status := "OK"
	if !res.OK {
		status = "FAILED"
	}
	fmt.Fprintf(tw, "Switchboard load test: %s against %s — %s\n", res.Scenario, res.Target, status)
	row("machine", "%d CPUs, %s memory, %s, %s; load average %.1f at the start, %.1f at the end",
		res.Machine.CPUs, bytesText(res.Machine.MemoryBytes), res.Machine.GoVersion, res.Machine.OS, res.Machine.LoadAvg[0], res.Machine.LoadAvg[1])
	if res.DurationS > 0 {
		row("duration", "%.1f s", res.DurationS)
	}
	if res.Chats > 0 {
		row("chats", "%d at %.0f msg/s offered", res.Chats, res.RateMsgsPerS)
		row("messages", "%d sent, %d acked (committed), %d delivered to the other side", res.MessagesSent, res.MessagesAcked, res.MessagesDelivered)
		row("correctness", "%d lost, %d duplicated, %d reordered, %d misdelivered, %d unanswered, %d acks naming another message",
			res.Lost, res.Duplicated, res.Reordered, res.Misdelivered, res.Unanswered, res.AckMismatches)
		row("throughput", "%.0f msg/s delivered", res.ThroughputMsgsPerS)
	}
	lat := func(name string, p *Percentiles) {
		if p != nil && p.Count > 0 {
			row(name, "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%d)", msText(p.P50), msText(p.P90), msText(p.P99), msText(p.P999), msText(p.Max), p.Count)
		}
	}
	lat("delivery", res.Delivery)
	lat("  customer → agent", res.DeliveryToAgent)
	lat("  agent → customer", res.DeliveryToCustomer)
	lat("ack (commit)", res.Ack)
	lat("tool send lag", res.SendLag)
	if res.ArrivalsScheduled > 0 {
		row("arrivals", "%d scheduled, %d started, %d offered, %d never offered, %d offered again", res.ArrivalsScheduled, res.ArrivalsStarted, res.Offers, res.Unoffered, res.RepeatedOffers)
		lat("time to offer", res.Offer)
		lat("time to visible", res.Visible)
		lat("start request", res.ArrivalHTTP)
	}
	if res.Storms > 0 {
		row("storms", "%d, %d sockets dropped", res.Storms, res.StormDrops)
	}
	if res.Scenario == ScenarioCrash {
		if res.Nodes > 1 {
			row("cluster", "%d nodes, %d of %d chats with customer and agent on different nodes", res.Nodes, res.CrossNodeChats, res.Chats)
		}
		row("crashes", "%d kills (SIGKILL), %d connections cut", res.Crashes, res.CrashDrops)
		if res.NATSRestarts > 0 {
			row("NATS restarts", "%d, halfway between kills", res.NATSRestarts)
		}
		lat("kill → server ready", res.KillToReady)
		lat("  restart as the server logs it", res.RestartServerMs)
		lat("kill → client resumed", res.KillToResume)
		if res.HistoryChecked {
			row("stored history", "%d committed messages missing, %d stored twice, %d out of order or under another id",
				res.HistoryLost, res.HistoryDuplicated, res.HistoryWrong)
		}
	}
	if res.Resent > 0 {
		row("re-sent after resume", "%d unacked sends, %d of them committed before (answered with the original)", res.Resent, res.ResentCommitted)
	}
	if res.AcksIgnored > 0 {
		row("acks ignored", "%d, in the %s before each kill, as if lost with the server", res.AcksIgnored, ackLossWindow)
	}
	lat("start to ready", res.StartupMs)
	lat("  as the server logs it", res.StartupServerMs)
	if res.Connections > 0 {
		row("connections", "%d (%d idle)", res.Connections, res.IdleConnections)
	}
	lat("connect", res.Connect)
	lat("reconnect", res.Reconnect)
	if res.ServerRSSBytes > 0 {
		line := "RSS " + bytesText(res.ServerRSSBytes)
		if res.ServerRSSPeakBytes > 0 {
			line += ", peak " + bytesText(res.ServerRSSPeakBytes)
		}
		if res.ServerRSSBaseline > 0 {
			line += ", " + bytesText(res.ServerRSSBaseline) + " before the idle connections"
		}
		row("server memory", "%s; %d goroutines", line, res.ServerGoroutines)
	}
	if res.BytesPerIdleConn != nil {
		line := fmt.Sprintf("%s RSS", bytesText(int64(*res.BytesPerIdleConn)))
		if res.GoBytesPerIdleConn != nil {
			line += fmt.Sprintf(", %s Go heap+stacks", bytesText(int64(*res.GoBytesPerIdleConn)))
		}
		if res.GoroutinesPerIdleConn != nil {
			line += fmt.Sprintf(", %.1f goroutines", *res.GoroutinesPerIdleConn)
		}
		row("per idle connection", "%s", line)
	}
	row("events", "%d reconnects, %d resyncs, %d position errors, %d send errors, %d slow-consumer drops, %d lost connections",
		res.Reconnects, res.Resyncs, res.PositionErrors, res.SendErrors, res.SlowConsumerDrops, res.ConnectionsLost)
	if res.ServerCPUSeconds > 0 {
		row("CPU", "server %.2f cores, tool %.2f, everything else %.2f (during the traffic or hold)", res.ServerCPUCores, res.ToolCPUCores, res.OtherCPUCores)
	}
	row("tool CPU", "%.1f s", res.LoadgenCPUSeconds)
	if res.DataDir != "" {
		row("server data", "%s (kept)", res.DataDir)
	}
	if res.Failure != "" {
		row("failure", "%s", res.Failure)
	}
	for i, p := range res.Problems {
		k := ""
		if i == 0 {
			k = "problems"
		}
		row(k, "%s", p)
	}
	return tw.Flush()
}

func msText(ms float64) string {
	if ms < 10 {
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
