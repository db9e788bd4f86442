// Command switchboard runs the Switchboard live-chat server.
//
//	switchboard [serve] [flags]   run the server (default)
//	switchboard demo [flags]      run with a demo organisation (same as serve --demo)
//	switchboard migrate [flags]   apply database migrations and exit
//	switchboard user add ...      create a user
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "switchboard:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "demo":
		m := NewMain(stdout)
		fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
		fs.SetOutput(stderr)
		m.Config.bindFlags(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		if cmd == "demo" {
			m.Config.Demo = true
		}
		if err := m.Config.validate(); err != nil {
			return err
		}
		if err := m.Open(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		fmt.Fprintln(stdout, "Shutting down…")
		return m.Close()
	case "migrate":
		return runMigrate(ctx, args, stdout, stderr)
	case "user":
		return runUser(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: switchboard [serve|demo|migrate|user add] [flags]; switchboard serve -h lists the flags")
		return nil
	}
	return fmt.Errorf("unknown command %q (serve, demo, migrate, user)", cmd)
}
