package routing

import (
	"context"
	"time"

	"github.com/switchboard/switchboard/store"
)

// connWriteTimeout bounds the write that records a connection change.
const connWriteTimeout = 10 * time.Second

// OnConnect tells the engine that a realtime connection of a staff user
// opened on this node (P1): a pending grace period ends. The WebSocket
// server calls it after authenticating the connection.
func (e *Engine) OnConnect(userID int64) {
	e.connectionChanged(userID, +1)
}

// OnDisconnect tells the engine that a realtime connection of a staff user
// on this node closed. When it was their last one on every node, they go
// offline after the grace period unless they reconnect, and the offers they
// held go back to the queue (P1).
func (e *Engine) OnDisconnect(userID int64) {
	e.connectionChanged(userID, -1)
}

func (e *Engine) connectionChanged(userID int64, delta int) {
	// The count written is read under the lock, after the change it follows:
	// whatever the order of concurrent calls, the last write holds the latest.
	e.connMu.Lock()
	defer e.connMu.Unlock()
	before := e.conns[userID]
	n := max(before+delta, 0)
	if n == 0 {
		delete(e.conns, userID)
	} else {
		e.conns[userID] = n
	}
	if (before == 0) == (n == 0) {
		return // still connected, or still not: nothing to record
	}
	ctx, cancel := context.WithTimeout(context.Background(), connWriteTimeout)
	defer cancel()
	err := e.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.SetConnections(e.cfg.NodeID, userID, n); err != nil {
			return err
		}
		if n > 0 {
			return tx.Unschedule(store.DeadlinePresence, userID)
		}
		return tx.Schedule(store.DeadlinePresence, userID, tx.Now().Add(e.cfg.PresenceGrace))
	})
	if err != nil {
		e.log.Error("routing: record connection", "user_id", userID, "connections", n, "err", err)
		return
	}
	if n == 0 {
		e.Notify() // a new deadline to wait for
	}
}
