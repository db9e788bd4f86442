package main

import (
	"flag"
	"io"
	"net/netip"
	"slices"
	"testing"
)

func TestTrustedProxiesFlag(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		var c Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.bindFlags(fs)
		c.MaxUploadMB = 25
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.validate()
	}
	c, err := parse("--trusted-proxies", " 10.0.0.7, 192.168.1.9/16 ,::1,::ffff:172.16.0.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.7/32"), netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("172.16.0.1/32"),
	}
	if !slices.Equal(c.TrustedProxies, want) {
		t.Fatalf("got %v, want %v", c.TrustedProxies, want)
	}
	if c, err := parse(); err != nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("no flag: %v %v, want no trusted proxy", c.TrustedProxies, err)
	}
	for _, bad := range []string{"proxy.example", "10.0.0.0/33", "10.0.0.1:80"} {
		if _, err := parse("--trusted-proxies", bad); err == nil {
			t.Errorf("--trusted-proxies %q accepted", bad)
		}
	}
}

func TestFastCommitsFlag(t *testing.T) {
	for args, want := range map[string]bool{"": false, "--fast-commits": true, "--fast-commits=false": false} {
		var c Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.bindFlags(fs)
		var argv []string
		if args != "" {
			argv = []string{args}
		}
		if err := fs.Parse(argv); err != nil {
			t.Fatal(err)
		}
		if c.FastCommits != want {
			t.Errorf("%q: FastCommits = %v, want %v", args, c.FastCommits, want)
		}
	}
}

func TestOutboundAllowFlag(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		var c Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.bindFlags(fs)
		c.MaxUploadMB = 25
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.validate()
	}
	c, err := parse("--outbound-allow", " crm.internal, 10.1.0.0/16 ,,192.168.5.5")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"crm.internal", "10.1.0.0/16", "192.168.5.5"}; !slices.Equal(c.OutboundAllow, want) {
		t.Fatalf("got %q, want %q", c.OutboundAllow, want)
	}
	if _, err := parse("--outbound-allow", "not a host!"); err == nil {
		t.Fatal("a bad entry was accepted")
	}
}
