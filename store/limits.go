package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Rate limits (app.SharedLimiter) are token buckets kept as one row per key
// in rate_limits (migration 007): tat, the time the bucket is full again.
// Taking an attempt moves tat one interval later than max(tat, now); it is
// allowed while that stays within burst intervals of now. The times come
// from the caller's clock, so every node must keep its clock in step (NTP):
// a node that is s ahead refills buckets s early.

// takeRateLimit takes one attempt in one statement: concurrent takes of the
// same key, from any node, queue on its row and each sees the one before,
// so no more than the burst is ever granted. A refused take writes nothing.
const takeRateLimit = `INSERT INTO rate_limits (key, tat) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET tat = CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END + $4
WHERE CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END + $4 <= $5
RETURNING tat`

// TakeRateLimit takes one of key's attempts from a bucket of burst attempts,
// one more every every, at now; it reports false, taking nothing, when none
// is left.
func (db *DB) TakeRateLimit(ctx context.Context, key string, burst int, every time.Duration, now time.Time) (bool, error) {
	if burst < 1 {
		return false, nil
	}
	us, per := now.UnixMicro(), intervalMicros(every)
	args := []any{key, us + per, us, per, us + int64(burst)*per}
	var tat int64
	var err error
	if db.d == postgres {
		// One statement outside a transaction: the row lock it takes is all
		// the serialisation needed, and it costs one round trip.
		err = db.write.QueryRowContext(ctx, takeRateLimit, args...).Scan(&tat)
	} else {
		err = db.Write(ctx, func(tx *Tx) error {
			return tx.q.QueryRowContext(tx.ctx, takeRateLimit, args...).Scan(&tat)
		})
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("take rate limit: %w", err)
	}
	return true, nil
}

// refundRateLimit gives one attempt back: tat moves one interval earlier,
// never before now (a full bucket gets nothing more). A bucket that is
// already full, or absent, is not written.
const refundRateLimit = `UPDATE rate_limits
SET tat = CASE WHEN tat - $2 > $3 THEN tat - $2 ELSE $3 END
WHERE key = $1 AND tat > $3`

// RefundRateLimit gives back one attempt that TakeRateLimit took from key
// (a bucket of one more attempt every every), at now, in one statement: the
// caller took it before knowing whether the attempt would count, and it
// did not. The burst is never exceeded.
func (db *DB) RefundRateLimit(ctx context.Context, key string, every time.Duration, now time.Time) error {
	args := []any{key, intervalMicros(every), now.UnixMicro()}
	var err error
	if db.d == postgres {
		_, err = db.write.ExecContext(ctx, refundRateLimit, args...)
	} else {
		err = db.Write(ctx, func(tx *Tx) error {
			_, err := tx.q.ExecContext(tx.ctx, refundRateLimit, args...)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("refund rate limit: %w", err)
	}
	return nil
}

// RateLimitAllows reports whether key has an attempt left at now, taking
// nothing, in a bucket shaped as TakeRateLimit's.
func (db *DB) RateLimitAllows(ctx context.Context, key string, burst int, every time.Duration, now time.Time) (bool, error) {
	if burst < 1 {
		return false, nil
	}
	var tat int64
	err := db.read.QueryRowContext(ctx, `SELECT tat FROM rate_limits WHERE key = $1`, key).Scan(&tat)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read rate limit: %w", err)
	}
	us, per := now.UnixMicro(), intervalMicros(every)
	return max(tat, us)+per <= us+int64(burst)*per, nil
}

// PruneRateLimits deletes up to limit buckets that are full at now (which
// count as no bucket at all) and returns how many it deleted. The second
// tat test keeps a bucket that another node took from meanwhile.
func (db *DB) PruneRateLimits(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int64
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM rate_limits WHERE tat <= $1
			AND key IN (SELECT key FROM rate_limits WHERE tat <= $1 LIMIT $2)`, now.UnixMicro(), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune rate limits: %w", err)
	}
	return int(n), nil
}

// intervalMicros is every in microseconds, at least one.
func intervalMicros(every time.Duration) int64 {
	return max(1, every.Microseconds())
}
