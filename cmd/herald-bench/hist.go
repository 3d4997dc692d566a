package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout: values below 2^subBits are counted exactly; above, each
// power of two is split into 2^subBits equal buckets, so a bucket's width is
// under 1/128 of its value and a percentile read from it is off by less than
// 0.8%. That is the HDR histogram's idea, sized for nanosecond latencies.
const (
	subBits    = 7
	subCount   = 1 << subBits
	numBuckets = (64 - subBits + 1) * subCount
)

// histogram counts int64 samples (nanoseconds here) in log-linear buckets. It
// is safe for concurrent use: a worker's connections all record into one, and
// histograms from several workers merge by adding counts.
type histogram struct {
	counts [numBuckets]atomic.Int64
	n      atomic.Int64
	sum    atomic.Int64
	max    atomic.Int64
	min    atomic.Int64 // valid when n > 0
}

func newHistogram() *histogram {
	h := &histogram{}
	h.min.Store(math.MaxInt64)
	return h
}

// bucketOf maps v ≥ 0 to its bucket.
func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	return (shift+1)*subCount + int(uint64(v)>>shift) - subCount
}

// bucketRange returns the smallest and largest value bucket i holds.
func bucketRange(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	shift := i/subCount - 1
	lo = int64(i%subCount+subCount) << shift
	return lo, lo + (int64(1) << shift) - 1
}

// record adds one sample; negative samples (clock skew) count as zero.
func (h *histogram) record(v int64) {
	v = max(v, 0)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for m := h.max.Load(); v > m && !h.max.CompareAndSwap(m, v); m = h.max.Load() {
	}
	for m := h.min.Load(); v < m && !h.min.CompareAndSwap(m, v); m = h.min.Load() {
	}
}

// histData is a histogram on the wire: its non-empty buckets only.
type histData struct {
	Buckets [][2]int64 `json:"buckets"` // [bucket index, count]
	N       int64      `json:"n"`
	Sum     int64      `json:"sum"`
	Max     int64      `json:"max"`
	Min     int64      `json:"min"`
}

// snapshot returns the histogram's current counts for the wire.
func (h *histogram) snapshot() histData {
	d := histData{N: h.n.Load(), Sum: h.sum.Load(), Max: h.max.Load(), Min: h.min.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			d.Buckets = append(d.Buckets, [2]int64{int64(i), c})
		}
	}
	return d
}

// merge adds d's samples to h.
func (h *histogram) merge(d histData) {
	if d.N == 0 {
		return
	}
	for _, b := range d.Buckets {
		if b[0] >= 0 && b[0] < numBuckets {
			h.counts[b[0]].Add(b[1])
		}
	}
	h.n.Add(d.N)
	h.sum.Add(d.Sum)
	for m := h.max.Load(); d.Max > m && !h.max.CompareAndSwap(m, d.Max); m = h.max.Load() {
	}
	for m := h.min.Load(); d.Min < m && !h.min.CompareAndSwap(m, d.Min); m = h.min.Load() {
	}
}

// quantile returns the value below which a fraction q of the samples lie:
// the middle of the bucket holding the sample of rank ceil(q·n), clamped to
// the exact minimum and maximum.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			return time.Duration(min(max(v, h.min.Load()), h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// latencySummary is the percentiles a report prints.
type latencySummary struct {
	N    int64         `json:"n"`
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	P999 time.Duration `json:"p999"`
	Max  time.Duration `json:"max"`
	Mean time.Duration `json:"mean"`
}

func (h *histogram) summary() latencySummary {
	s := latencySummary{N: h.n.Load()}
	if s.N == 0 {
		return s
	}
	s.P50, s.P90, s.P99, s.P999 = h.quantile(0.50), h.quantile(0.90), h.quantile(0.99), h.quantile(0.999)
	s.Max = time.Duration(h.max.Load())
	s.Mean = time.Duration(h.sum.Load() / s.N)
	return s
}
