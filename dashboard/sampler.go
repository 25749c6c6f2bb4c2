package dashboard

import (
	"sync"
	"time"

	"github.com/pgtq/pgtq/driver"
)

// depthSample is one queue's counts at one time.
type depthSample struct {
	at                                         time.Time
	queued, delayed, processing, retrying, dlq int64
}

// sampler keeps the last size samples of every queue's depth, in memory.
type sampler struct {
	mu    sync.Mutex
	size  int
	last  time.Time
	rings map[string]*ring
}

// ring is a fixed-size circular buffer of samples, oldest first from start.
type ring struct {
	buf   []depthSample
	start int
}

func newSampler(size int) *sampler {
	return &sampler{size: max(size, 2), rings: map[string]*ring{}}
}

// add records one sample of every queue in qs, taken at at. Queues that disappeared are forgotten.
func (s *sampler) add(at time.Time, qs []driver.QueueInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(qs))
	for _, q := range qs {
		seen[q.Queue] = true
		r := s.rings[q.Queue]
		if r == nil {
			r = &ring{buf: make([]depthSample, 0, s.size)}
			s.rings[q.Queue] = r
		}
		r.push(s.size, depthSample{at: at, queued: q.Queued, delayed: q.Delayed, processing: q.Processing,
			retrying: q.Retrying, dlq: q.DLQ})
	}
	for name := range s.rings {
		if !seen[name] {
			delete(s.rings, name)
		}
	}
	s.last = at
}

// lastAt returns when the last sample was taken (zero before the first).
func (s *sampler) lastAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// get returns a copy of queue's samples, oldest first.
func (s *sampler) get(queue string) []depthSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rings[queue]
	if r == nil {
		return nil
	}
	out := make([]depthSample, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

func (r *ring) push(size int, v depthSample) {
	if len(r.buf) < size {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % size
}
