package main

import (
	"context"
	"fmt"
	"io"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/store"
)

// bootstrapOwner creates the owner account on first start, with a one-time
// random password printed once. There is never a fixed default password.
func bootstrapOwner(ctx context.Context, db *store.DB, email string, out io.Writer) error {
	n, err := db.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	password := app.RandomPassword()
	hash, err := app.HashPassword(password)
	if err != nil {
		return err
	}
	owner := &sb.User{Email: email, Name: "Owner", Role: sb.RoleOwner, ChatLimit: sb.DefaultChatLimit}
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.CreateUser(owner, hash) }); err != nil {
		return fmt.Errorf("create owner: %w", err)
	}
	fmt.Fprintf(out, "\nCreated the owner account. Log in with:\n  e-mail:   %s\n  password: %s\nThis password is shown once; change it after logging in (PUT /api/v1/me/password).\n\n", owner.Email, password)
	return nil
}

// demoData is what the demo organisation printed for a newcomer.
type demoData struct {
	InboxID int64
}

// seedDemo loads the demo organisation once: two widget inboxes, a
// department, a supervisor and three agents (passwords printed), and
// organisation and personal canned responses. On later starts it finds the
// demo inbox again and prints nothing new.
func seedDemo(ctx context.Context, db *store.DB, out io.Writer) (demoData, error) {
	inboxes, err := db.Inboxes(ctx)
	if err != nil {
		return demoData{}, err
	}
	for _, in := range inboxes {
		if in.Name == "Demo website" {
			fmt.Fprintf(out, "Demo organisation already loaded (inbox %d); its passwords were printed on the first demo start.\n", in.ID)
			return demoData{InboxID: in.ID}, nil
		}
	}
	type person struct {
		user     *sb.User
		password string
	}
	people := []person{
		{user: &sb.User{Email: "sam@demo.switchboard", Name: "Sam Supervisor", Role: sb.RoleSupervisor, ChatLimit: 3}},
		{user: &sb.User{Email: "alice@demo.switchboard", Name: "Alice Agent", Role: sb.RoleAgent, Operator: true, ChatLimit: 3}},
		{user: &sb.User{Email: "bob@demo.switchboard", Name: "Bob Agent", Role: sb.RoleAgent, Operator: true, ChatLimit: 3}},
		{user: &sb.User{Email: "carla@demo.switchboard", Name: "Carla Agent", Role: sb.RoleAgent, RoleName: "account manager", Operator: true, ChatLimit: 2}},
	}
	for i := range people {
		people[i].password = app.RandomPassword()
	}
	hashes := make([]string, len(people))
	for i, p := range people {
		if hashes[i], err = app.HashPassword(p.password); err != nil {
			return demoData{}, err
		}
	}
	web := &sb.Inbox{Name: "Demo website", Channel: sb.ChannelWidget, Settings: sb.DefaultInboxSettings()}
	sales := &sb.Inbox{Name: "Demo sales", Channel: sb.ChannelWidget, Settings: sb.DefaultInboxSettings()}
	sales.Settings.Greeting = "Questions about plans and pricing? Ask away."
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateInbox(web); err != nil {
			return err
		}
		if err := tx.CreateInbox(sales); err != nil {
			return err
		}
		var ids []int64
		for i, p := range people {
			if err := tx.CreateUser(p.user, hashes[i]); err != nil {
				return err
			}
			ids = append(ids, p.user.ID)
			if err := tx.SetUserInboxes(p.user.ID, []int64{web.ID, sales.ID}); err != nil {
				return err
			}
		}
		dept := &sb.Department{Name: "Billing", MemberIDs: ids[1:3]}
		if err := tx.CreateDepartment(dept); err != nil {
			return err
		}
		canned := []*sb.CannedResponse{
			{Shortcut: "hello", Title: "Greeting", Body: "Hi! Thanks for reaching out — how can I help you today?"},
			{Shortcut: "refund", Title: "Refund policy", Body: "You can ask for a refund within 30 days of purchase; I can start that for you now."},
			{Shortcut: "bye", Title: "Closing", Body: "Glad I could help. Have a great day!"},
			{OwnerID: &people[1].user.ID, Shortcut: "alice", Title: "Alice's intro", Body: "I'm Alice, I'll take care of this for you."},
		}
		for _, c := range canned {
			if err := c.Validate(); err != nil {
				return err
			}
			if err := tx.CreateCannedResponse(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return demoData{}, fmt.Errorf("load demo data: %w", err)
	}
	fmt.Fprintf(out, "\nDemo organisation loaded. Open /demo to chat as a customer; log in as an agent in another tab:\n")
	for _, p := range people {
		fmt.Fprintf(out, "  %-11s %-26s password: %s\n", p.user.Role, p.user.Email, p.password)
	}
	fmt.Fprintln(out)
	return demoData{InboxID: web.ID}, nil
}
