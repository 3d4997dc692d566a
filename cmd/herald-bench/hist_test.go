package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRangeCoversEveryValue(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 123456789, 1 << 40, 1<<62 + 12345} {
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if i+1 < numBuckets {
			if nlo, _ := bucketRange(i + 1); nlo != hi+1 {
				t.Errorf("bucket %d ends at %d but bucket %d starts at %d", i, hi, i+1, nlo)
			}
		}
	}
}

func TestQuantileWithinOnePercentOfExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := newHistogram()
	var all []int64
	for range 100000 {
		v := int64(r.ExpFloat64() * float64(2*time.Millisecond))
		all = append(all, v)
		h.record(v)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := all[int(q*float64(len(all)))-1]
		got := int64(h.quantile(q))
		if diff := got - exact; diff > exact/100+1 || -diff > exact/100+1 {
			t.Errorf("q%.3f = %d, exact %d", q, got, exact)
		}
	}
	if got := int64(h.summary().Max); got != all[len(all)-1] {
		t.Errorf("max = %d, want %d", got, all[len(all)-1])
	}
}

func TestMergeEqualsRecordingTogether(t *testing.T) {
	a, b, both := newHistogram(), newHistogram(), newHistogram()
	for i := range int64(5000) {
		v := i * i
		both.record(v)
		if i%2 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	m := newHistogram()
	m.merge(a.snapshot())
	m.merge(b.snapshot())
	if m.summary() != both.summary() {
		t.Errorf("merged %+v, recorded together %+v", m.summary(), both.summary())
	}
}
