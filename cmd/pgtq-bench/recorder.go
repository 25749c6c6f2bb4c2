package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// benchPayload is the body of every benchmark task. T is the producer's clock at enqueue (unix
// nanoseconds) for enqueue-to-start latency; G and S are the group number and the task's sequence number
// inside its group, so the worker can check strict group order without trusting the queue.
type benchPayload struct {
	T int64 `json:"t"`
	G int   `json:"g"`
	S int64 `json:"s"`
}

// recorder is the no-op task handler of the worker child: it counts tasks, records enqueue-to-start
// latency and checks the group guarantees (never two tasks of one group at once, FIFO order inside a group).
type recorder struct {
	checkGroups  bool
	lifo         bool
	recordAfter  int64 // only tasks enqueued at or after this unix-nano time count for latency
	handled      atomic.Int64
	firstStart   atomic.Int64
	lastEnd      atomic.Int64
	inflight     atomic.Int64
	maxInflight  atomic.Int64
	overlaps     atomic.Int64
	orderErrors  atomic.Int64
	decodeErrors atomic.Int64

	mu      sync.Mutex
	hist    *histogram
	running map[int]bool
	lastSeq map[int]int64
}

func newRecorder(checkGroups, lifo bool, recordAfter int64) *recorder {
	return &recorder{
		checkGroups: checkGroups, lifo: lifo, recordAfter: recordAfter,
		hist: newHistogram(), running: map[int]bool{}, lastSeq: map[int]int64{},
	}
}

// handle runs one task: the benchmark's handler does no work besides the bookkeeping.
func (r *recorder) handle(raw []byte) error {
	var p benchPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		r.decodeErrors.Add(1)
		return fmt.Errorf("decode payload: %w", err)
	}
	r.start(p)
	r.end(p)
	return nil
}

func (r *recorder) start(p benchPayload) {
	now := time.Now().UnixNano()
	r.firstStart.CompareAndSwap(0, now)
	n := r.inflight.Add(1)
	for {
		m := r.maxInflight.Load()
		if n <= m || r.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	recordLatency := p.T > 0 && p.T >= r.recordAfter
	if !r.checkGroups && !recordLatency {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if recordLatency {
		r.hist.record((now - p.T) / 1000)
	}
	if r.checkGroups {
		if r.running[p.G] {
			r.overlaps.Add(1)
		}
		r.running[p.G] = true
		last, seen := r.lastSeq[p.G]
		if seen && ((!r.lifo && p.S <= last) || (r.lifo && p.S >= last)) {
			r.orderErrors.Add(1)
		}
		r.lastSeq[p.G] = p.S
	}
}

func (r *recorder) end(p benchPayload) {
	if r.checkGroups {
		r.mu.Lock()
		delete(r.running, p.G)
		r.mu.Unlock()
	}
	r.inflight.Add(-1)
	r.handled.Add(1)
	r.lastEnd.Store(time.Now().UnixNano())
}

// childReport is one JSON line the worker child writes to stdout: progress lines while it runs, one
// final line (Final true) after it shut down.
type childReport struct {
	Final        bool       `json:"final,omitempty"`
	Handled      int64      `json:"handled"`
	FirstStart   int64      `json:"first_start,omitempty"`
	LastEnd      int64      `json:"last_end,omitempty"`
	MaxInflight  int64      `json:"max_inflight,omitempty"`
	Overlaps     int64      `json:"overlaps,omitempty"`
	OrderErrors  int64      `json:"order_errors,omitempty"`
	DecodeErrors int64      `json:"decode_errors,omitempty"`
	Hist         *histogram `json:"hist,omitempty"`
	Error        string     `json:"error,omitempty"`
}

func (r *recorder) report(final bool) childReport {
	rep := childReport{Final: final, Handled: r.handled.Load()}
	if final {
		rep.FirstStart = r.firstStart.Load()
		rep.LastEnd = r.lastEnd.Load()
		rep.MaxInflight = r.maxInflight.Load()
		rep.Overlaps = r.overlaps.Load()
		rep.OrderErrors = r.orderErrors.Load()
		rep.DecodeErrors = r.decodeErrors.Load()
		r.mu.Lock()
		rep.Hist = r.hist
		r.mu.Unlock()
	}
	return rep
}
