package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/store"
)

// openStore opens the configured database (applying migrations).
func openStore(ctx context.Context, c Config) (*store.DB, error) {
	return store.Open(ctx, store.Config{URL: c.DatabaseURL, Dir: c.DataDir, Logger: newLogger(io.Discard, c.LogLevel)})
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c Config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	db, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "Database (%s) is up to date.\n", db.Dialect())
	return nil
}

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("usage: switchboard user add --email E --name N --role agent|supervisor|admin|owner [--operator] [--password P]")
	}
	var c Config
	var email, name, role, password string
	var operator bool
	var limit int
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.bindFlags(fs)
	fs.StringVar(&email, "email", "", "e-mail address (login)")
	fs.StringVar(&name, "name", "", "display name")
	fs.StringVar(&role, "role", "agent", "owner, admin, supervisor or agent")
	fs.BoolVar(&operator, "operator", false, "the user takes chats (default true for agents)")
	fs.IntVar(&limit, "chat-limit", sb.DefaultChatLimit, "active chats at most")
	fs.StringVar(&password, "password", "", "password (at least 10 characters); empty: a random one is printed")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	r := sb.Role(role)
	u := &sb.User{Email: email, Name: name, Role: r, Operator: operator || r == sb.RoleAgent, ChatLimit: limit}
	if err := u.Validate(); err != nil {
		return fmt.Errorf("%s", sb.ErrorMessage(err))
	}
	shown := password == ""
	if shown {
		password = app.RandomPassword()
	}
	hash, err := app.HashPassword(password)
	if err != nil {
		return fmt.Errorf("%s", sb.ErrorMessage(err))
	}
	db, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.CreateUser(u, hash) }); err != nil {
		return fmt.Errorf("%s", sb.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "Created %s %s (id %d).\n", u.Role, u.Email, u.ID)
	if shown {
		fmt.Fprintf(stdout, "Password: %s\n", password)
	}
	return nil
}
