package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// Limit is a token bucket: Burst attempts at once, then one more every Every.
type Limit struct {
	Burst int
	Every time.Duration
}

// RateLimiter counts attempts per key (an address, an account) against a
// Limit. Allow only reads: a cheap check that turns an exhausted key away
// without writing. An attempt whose outcome is only known after costly work
// (a password check) is Taken before the work, so that attempts in flight
// at once cannot all pass a check, and Refunded if it turns out not to
// count (the password was right).
type RateLimiter interface {
	// Allow reports whether key has an attempt left, without using it.
	Allow(ctx context.Context, key string) (bool, error)
	// Take uses one of key's attempts; it reports false, using nothing,
	// when none is left.
	Take(ctx context.Context, key string) (bool, error)
	// Refund gives back one attempt that Take used, never filling key's
	// bucket past its burst.
	Refund(ctx context.Context, key string) error
}

// AddressKey is what per-address limits count a client address under: an
// IPv4 address (IPv4-mapped IPv6 included) whole, an IPv6 address by its
// /64, the smallest network a host is commonly given, so one host cannot
// draw on 2^64 budgets. Anything that is not an address is its own key.
func AddressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

var (
	_ RateLimiter = (*MemoryLimiter)(nil)
	_ RateLimiter = (*SharedLimiter)(nil)
)

// NewRateLimiter returns a limiter allowing l per key, named name (keys of
// limiters with different names never meet). On PostgreSQL, where several
// nodes may serve one database, it is a SharedLimiter: every node and every
// restart sees the same budget. On SQLite, one node by definition, it is a
// MemoryLimiter, which is faster and has nothing to share.
func (s *Service) NewRateLimiter(name string, l Limit) RateLimiter {
	if s.db.Dialect() == "postgres" {
		return NewSharedLimiter(s.db, name, l, s.clock, s.log)
	}
	return NewMemoryLimiter(l, s.clock)
}

// MemoryLimiter counts attempts per key in memory with one token bucket per
// key. It is safe for concurrent use; its errors are always nil.
type MemoryLimiter struct {
	limit Limit
	clock sb.Clock

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxLimiterKeys bounds a MemoryLimiter's memory: past it, full buckets are
// forgotten, and if that is not enough, all of them.
const maxLimiterKeys = 100_000

// NewMemoryLimiter returns a limiter allowing l per key, in memory.
func NewMemoryLimiter(l Limit, clock sb.Clock) *MemoryLimiter {
	if clock == nil {
		clock = sb.SystemClock{}
	}
	return &MemoryLimiter{limit: l, clock: clock, buckets: make(map[string]*bucket)}
}

// Allow implements RateLimiter.
func (l *MemoryLimiter) Allow(_ context.Context, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refill(key).tokens >= 1, nil
}

// Take implements RateLimiter.
func (l *MemoryLimiter) Take(_ context.Context, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key)
	if b.tokens < 1 {
		return false, nil
	}
	b.tokens--
	return true, nil
}

// Refund implements RateLimiter.
func (l *MemoryLimiter) Refund(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.buckets[key]; !ok {
		return nil // forgotten (pruned): nothing to give back
	}
	b := l.refill(key)
	b.tokens = min(float64(l.limit.Burst), b.tokens+1)
	return nil
}

// refill returns key's bucket topped up for the time passed; called with mu held.
func (l *MemoryLimiter) refill(key string) *bucket {
	now := l.clock.Now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterKeys {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.limit.Burst), at: now}
		l.buckets[key] = b
		return b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(l.limit.Burst), b.tokens+float64(d)/float64(l.limit.Every))
		b.at = now
	}
	return b
}

func (l *MemoryLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.limit.Every) >= float64(l.limit.Burst) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxLimiterKeys {
		clear(l.buckets)
	}
}

// SharedLimiter counts attempts per key in the database (store's
// rate_limits), so that every node of a cluster draws on one budget and a
// restart forgets nothing. Each Take is one atomic statement: two nodes
// taking a key's last attempt at once cannot both succeed. Keys are stored
// hashed. Full buckets are pruned now and then by Take, a bounded batch at
// a time.
type SharedLimiter struct {
	db    *store.DB
	name  string
	limit Limit
	clock sb.Clock
	log   *slog.Logger

	lastPrune atomic.Int64 // Unix nanoseconds of the last prune
}

// Pruning: at most one batch per limiter and node every pruneEvery, sooner
// while batches come back full. Buckets are only written when an attempt
// counts, so a quiet table needs nothing.
const (
	pruneEvery = time.Minute
	pruneBatch = 1000
)

// NewSharedLimiter returns a limiter allowing l per key, kept in db under
// name. Its times come from clock; log (may be nil) receives pruning errors.
func NewSharedLimiter(db *store.DB, name string, l Limit, clock sb.Clock, log *slog.Logger) *SharedLimiter {
	if clock == nil {
		clock = sb.SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &SharedLimiter{db: db, name: name, limit: l, clock: clock, log: log}
}

// Allow implements RateLimiter: one read.
func (l *SharedLimiter) Allow(ctx context.Context, key string) (bool, error) {
	return l.db.RateLimitAllows(ctx, l.key(key), l.limit.Burst, l.limit.Every, l.clock.Now())
}

// Take implements RateLimiter: one write.
func (l *SharedLimiter) Take(ctx context.Context, key string) (bool, error) {
	now := l.clock.Now()
	ok, err := l.db.TakeRateLimit(ctx, l.key(key), l.limit.Burst, l.limit.Every, now)
	if err == nil {
		l.maybePrune(ctx, now)
	}
	return ok, err
}

// Refund implements RateLimiter: one write, and none when the bucket is
// already full.
func (l *SharedLimiter) Refund(ctx context.Context, key string) error {
	return l.db.RefundRateLimit(ctx, l.key(key), l.limit.Every, l.clock.Now())
}

// key is what is stored for key: the limiter's name and a hash, so that
// e-mail addresses and client addresses are not kept in the clear and
// every key has the same short length.
func (l *SharedLimiter) key(key string) string {
	h := sha256.Sum256([]byte(key))
	return l.name + ":" + hex.EncodeToString(h[:16])
}

// maybePrune deletes a batch of full buckets when the last batch is
// pruneEvery old; one caller at a time wins the turn.
func (l *SharedLimiter) maybePrune(ctx context.Context, now time.Time) {
	last := l.lastPrune.Load()
	if now.UnixNano()-last < int64(pruneEvery) || !l.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	n, err := l.db.PruneRateLimits(ctx, now, pruneBatch)
	if err != nil {
		l.log.Warn("prune rate limits", "err", err)
		return
	}
	if n == pruneBatch {
		l.lastPrune.Store(0) // more are waiting: the next Take prunes again
	}
}
