package main

import (
	"math/bits"
	"sort"
)

// histSubBits sets the histogram's precision: each power-of-two range of microseconds is split into
// 2^histSubBits buckets, so a recorded value is off by at most 1/64 (1.6%) of itself.
const histSubBits = 6

// histogram counts durations in microseconds in log-linear buckets. It has a fixed, small size, so
// recording millions of latencies does not grow the worker's memory (and its measured peak RSS).
type histogram struct {
	Counts map[int]int64 `json:"counts"`
	N      int64         `json:"n"`
}

func newHistogram() *histogram { return &histogram{Counts: map[int]int64{}} }

func histBucket(us int64) int {
	if us < 0 {
		us = 0
	}
	v := uint64(us)
	if v < 1<<histSubBits {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return (shift+1)<<histSubBits + int(v>>shift) - 1<<histSubBits
}

// histLow returns the smallest value that falls into bucket b.
func histLow(b int) int64 {
	if b < 1<<histSubBits {
		return int64(b)
	}
	shift := b>>histSubBits - 1
	sub := b & (1<<histSubBits - 1)
	return int64(1<<histSubBits+sub) << shift
}

func (h *histogram) record(us int64) {
	h.Counts[histBucket(us)]++
	h.N++
}

func (h *histogram) merge(o *histogram) {
	for b, c := range o.Counts {
		h.Counts[b] += c
	}
	h.N += o.N
}

// quantile returns the q-quantile (0..1) in microseconds, or -1 when nothing was recorded.
func (h *histogram) quantile(q float64) int64 {
	if h.N == 0 {
		return -1
	}
	keys := make([]int, 0, len(h.Counts))
	for b := range h.Counts {
		keys = append(keys, b)
	}
	sort.Ints(keys)
	rank := int64(q*float64(h.N-1)) + 1
	var seen int64
	for _, b := range keys {
		seen += h.Counts[b]
		if seen >= rank {
			return histLow(b)
		}
	}
	return histLow(keys[len(keys)-1])
}
