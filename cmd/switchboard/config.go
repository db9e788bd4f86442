package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/outbound"
)

// Config is everything the program can be told, from flags or SWITCHBOARD_* variables.
type Config struct {
	Addr           string
	DataDir        string
	DatabaseURL    string
	NATSURL        string
	NodeID         string
	AllowedOrigins []string
	MetricsToken   string
	MaxUploadMB    int
	SecureCookies  bool
	Demo           bool
	OwnerEmail     string
	LogLevel       string
	ShutdownGrace  time.Duration
	EventRetention time.Duration
	PprofAddr      string
	FastCommits    bool
	TrustedProxies []netip.Prefix
	// OutboundAllow lists internal hosts, addresses or CIDR ranges that
	// outbound requests (webhooks, channel media, bot providers) may reach.
	OutboundAllow []string

	afterParse func() error
}

// envName maps a flag name to its environment variable: --data-dir → SWITCHBOARD_DATA_DIR.
func envName(flagName string) string {
	return "SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// bindFlags declares the serve flags on fs; every flag's default comes from
// its environment variable when that is set.
func (c *Config) bindFlags(fs *flag.FlagSet) {
	str := func(p *string, name, def, usage string) {
		if v, ok := os.LookupEnv(envName(name)); ok {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	boolean := func(p *bool, name string, def bool, usage string) {
		if v, ok := os.LookupEnv(envName(name)); ok {
			def, _ = strconv.ParseBool(v)
		}
		fs.BoolVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	integer := func(p *int, name string, def int, usage string) {
		if v, ok := os.LookupEnv(envName(name)); ok {
			if n, err := strconv.Atoi(v); err == nil {
				def = n
			}
		}
		fs.IntVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	duration := func(p *time.Duration, name string, def time.Duration, usage string) {
		if v, ok := os.LookupEnv(envName(name)); ok {
			if d, err := time.ParseDuration(v); err == nil {
				def = d
			}
		}
		fs.DurationVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	str(&c.Addr, "addr", ":8080", "address to listen on")
	str(&c.DataDir, "data", "switchboard-data", "data folder for the embedded database and files")
	str(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://…); empty: embedded SQLite in --data")
	str(&c.NATSURL, "nats-url", "", "NATS URL for a cluster (nats://…); empty: single node")
	str(&c.NodeID, "node-id", "", "this node's name among the cluster's nodes, kept across its restarts; empty: new for every process")
	var origins string
	str(&origins, "allowed-origins", "", "comma-separated extra origins allowed to open staff WebSockets")
	var proxies string
	var outboundAllow string
	str(&outboundAllow, "outbound-allow", "", "comma-separated internal host names, addresses or CIDR ranges that webhooks, media downloads and bot providers may reach (all else private is refused)")
	str(&proxies, "trusted-proxies", "", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed")
	str(&c.MetricsToken, "metrics-token", "", "bearer token that lets scrapers on other hosts read /metrics; empty: this host only")
	integer(&c.MaxUploadMB, "max-upload-mb", 25, "attachment size limit in MB")
	boolean(&c.SecureCookies, "secure-cookies", false, "mark session cookies Secure (set behind a TLS proxy)")
	boolean(&c.Demo, "demo", false, "load a demo organisation and serve /demo")
	boolean(&c.FastCommits, "fast-commits", false, "SQLite: do not flush each commit to disk (faster; a power cut may lose the last acknowledged messages)")
	str(&c.OwnerEmail, "owner-email", "owner@switchboard.local", "e-mail of the owner account created on first start")
	str(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	duration(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "how long requests may take to finish on shutdown")
	duration(&c.EventRetention, "event-retention", 72*time.Hour, "how long realtime events are kept for clients to resume")
	str(&c.PprofAddr, "pprof-addr", "", "loopback address for Go's profiling endpoint (127.0.0.1:6060); empty: none")
	c.afterParse = func() error {
		var err error
		if c.TrustedProxies, err = parseProxies(proxies); err != nil {
			return err
		}
		c.AllowedOrigins = splitList(origins)
		c.OutboundAllow = splitList(outboundAllow)
		if err := outbound.ParseAllow(c.OutboundAllow); err != nil {
			return fmt.Errorf("--outbound-allow: %w", err)
		}
		return nil
	}
}

// splitList reads a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// parseProxies reads --trusted-proxies: addresses (a /32 or /128) and CIDR ranges.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is neither an address nor a CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// validate checks the parsed configuration.
func (c *Config) validate() error {
	if c.afterParse != nil {
		if err := c.afterParse(); err != nil {
			return err
		}
	}
	if c.MaxUploadMB < 1 || c.MaxUploadMB > 2048 {
		return fmt.Errorf("--max-upload-mb must be between 1 and 2048")
	}
	if err := checkPprofAddr(c.PprofAddr); err != nil {
		return err
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("--database-url must be a postgres:// URL")
	}
	return nil
}
