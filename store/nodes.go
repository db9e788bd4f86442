package store

import (
	"fmt"
	"time"
)

// The nodes table says which processes are alive, so that the connections
// a node counted (SetConnections) are forgotten when it stops: see
// migration 008 and routing.Engine's heartbeat.

// TouchNode records that node is alive now; known reports whether it was
// still recorded (false: it is new, or the others forgot it meanwhile).
func (tx *Tx) TouchNode(node string) (known bool, err error) {
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE nodes SET seen_at = $1 WHERE node_id = $2`, micros(tx.now), node)
	if err != nil {
		return false, fmt.Errorf("touch node: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return true, nil
	}
	_, err = tx.q.ExecContext(tx.ctx, `INSERT INTO nodes (node_id, seen_at) VALUES ($1, $2)
		ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at`, node, micros(tx.now))
	if err != nil {
		return false, fmt.Errorf("record node: %w", err)
	}
	return false, nil
}

// AdoptUnknownNodes records, as seen now, the nodes that have connections
// but no row — counted by a version without heartbeats, or by a node whose
// row was forgotten — so that they are forgotten in turn if nobody keeps
// them alive.
func (tx *Tx) AdoptUnknownNodes() error {
	_, err := tx.q.ExecContext(tx.ctx, `INSERT INTO nodes (node_id, seen_at)
		SELECT DISTINCT node_id, CAST($1 AS BIGINT) FROM user_connections WHERE node_id NOT IN (SELECT node_id FROM nodes)
		ON CONFLICT (node_id) DO NOTHING`, micros(tx.now))
	if err != nil {
		return fmt.Errorf("adopt nodes: %w", err)
	}
	return nil
}

// SilentNodes returns the nodes not heard from since before, in id order.
func (tx *Tx) SilentNodes(before time.Time) ([]string, error) {
	rows, err := tx.q.QueryContext(tx.ctx, `SELECT node_id FROM nodes WHERE seen_at < $1 ORDER BY node_id`, micros(before))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ForgetNode forgets a node not heard from since before, and the
// connections it counted; it returns the users who had some there. ok is
// false when another node forgot it first, or it spoke up meanwhile.
func (tx *Tx) ForgetNode(node string, before time.Time) (users []int64, ok bool, err error) {
	res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM nodes WHERE node_id = $1 AND seen_at < $2`, node, micros(before))
	if err != nil {
		return nil, false, fmt.Errorf("forget node: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, false, nil
	}
	users, err = tx.ClearNodeConnections(node)
	return users, err == nil, err
}
