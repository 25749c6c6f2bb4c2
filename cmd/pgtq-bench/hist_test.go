package main

import (
	"math/rand/v2"
	"sort"
	"testing"
)

func TestHistogramQuantilesWithinPrecision(t *testing.T) {
	t.Parallel()
	h := newHistogram()
	vals := make([]int64, 20000)
	for i := range vals {
		vals[i] = rand.Int64N(5_000_000)
		h.record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.95, 0.99} {
		want := vals[int(q*float64(len(vals)-1))]
		got := h.quantile(q)
		if d := float64(got-want) / float64(want); d > 0.02 || d < -0.02 {
			t.Fatalf("q%.2f: got %d, exact %d (off %.3f)", q, got, want, d)
		}
	}
}

func TestHistogramBucketsAreMonotonic(t *testing.T) {
	t.Parallel()
	prev := -1
	for v := int64(0); v < 1<<20; v += 7 {
		b := histBucket(v)
		if b < prev {
			t.Fatalf("bucket of %d is %d, below previous %d", v, b, prev)
		}
		if lo := histLow(b); lo > v {
			t.Fatalf("bucket %d starts at %d, above its value %d", b, lo, v)
		}
		prev = b
	}
}
