package app_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/store"
)

// TestUpdateDepartmentKeepsConcurrentEdits has two admins change different
// fields of one department at once, many times over: each read-modify-write
// happens in its transaction with the row locked, so neither edit is lost.
func TestUpdateDepartmentKeepsConcurrentEdits(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := app.New(db, nil, nil, nil, app.Config{})
		admin := &sb.User{Email: "admin@example.com", Name: "Ada", Role: sb.RoleAdmin}
		agents := []*sb.User{
			{Email: "a@example.com", Name: "Al", Role: sb.RoleAgent, Operator: true},
			{Email: "b@example.com", Name: "Bo", Role: sb.RoleAgent, Operator: true},
		}
		if err := db.Write(ctx, func(tx *store.Tx) error {
			for _, u := range append([]*sb.User{admin}, agents...) {
				if err := tx.CreateUser(u, ""); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		p := &sb.Principal{UserID: admin.ID, Name: admin.Name, Role: admin.Role}
		d, err := svc.CreateDepartment(ctx, p, app.NewDepartment{Name: "Billing"})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 30 {
			name := fmt.Sprintf("Billing %d", round)
			members := []int64{agents[round%2].ID}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				_, errs[0] = svc.UpdateDepartment(ctx, p, d.ID, app.DepartmentPatch{Name: &name})
			}()
			go func() {
				defer wg.Done()
				<-start
				_, errs[1] = svc.UpdateDepartment(ctx, p, d.ID, app.DepartmentPatch{MemberIDs: &members})
			}()
			close(start)
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := svc.Department(ctx, p, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != name || !slices.Equal(got.MemberIDs, members) {
				t.Fatalf("round %d: department %q with members %v, want %q with %v: an edit was lost",
					round, got.Name, got.MemberIDs, name, members)
			}
		}
	})
}
