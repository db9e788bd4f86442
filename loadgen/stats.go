package loadgen

import (
	"math/bits"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// latency is an HDR histogram of durations in microseconds, safe for
// concurrent use: reader goroutines of many sockets record into it.
type latency struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// maxRecorded is the longest duration a histogram holds; longer ones are
// recorded as this (a run is bounded well below it).
const maxRecorded = 10 * time.Minute

func newLatency() *latency {
	return &latency{h: hdrhistogram.New(1, maxRecorded.Microseconds(), 3)}
}

func (l *latency) record(d time.Duration) {
	us := min(max(d.Microseconds(), 1), maxRecorded.Microseconds())
	l.mu.Lock()
	_ = l.h.RecordValue(us) // in range by construction
	l.mu.Unlock()
}

// merge returns a new histogram holding the values of all of ls.
func merge(ls ...*latency) *latency {
	out := newLatency()
	for _, l := range ls {
		l.mu.Lock()
		out.h.Merge(l.h)
		l.mu.Unlock()
	}
	return out
}

// Percentiles summarises a latency distribution in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func (l *latency) percentiles() Percentiles {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{
		Count: l.h.TotalCount(),
		P50:   ms(l.h.ValueAtQuantile(50)),
		P90:   ms(l.h.ValueAtQuantile(90)),
		P99:   ms(l.h.ValueAtQuantile(99)),
		P999:  ms(l.h.ValueAtQuantile(99.9)),
		Max:   ms(l.h.Max()),
	}
}

// bitset records which message numbers of one stream were seen.
type bitset []uint64

func (b bitset) has(i int) bool {
	return i >= 0 && i/64 < len(b) && b[i/64]&(1<<(i%64)) != 0
}

func (b *bitset) set(i int) {
	for i/64 >= len(*b) {
		*b = append(*b, 0)
	}
	(*b)[i/64] |= 1 << (i % 64)
}

// missing counts the numbers set in want and not in b.
func (b bitset) missing(want bitset) int {
	n := 0
	for i, w := range want {
		var have uint64
		if i < len(b) {
			have = b[i]
		}
		n += bits.OnesCount64(w &^ have)
	}
	return n
}

// idList records the stored message id of each message number of one
// stream (0: none yet).
type idList []int64

func (l idList) get(k int) int64 {
	if k < 0 || k >= len(l) {
		return 0
	}
	return l[k]
}

func (l *idList) set(k int, id int64) {
	for k >= len(*l) {
		*l = append(*l, 0)
	}
	(*l)[k] = id
}
