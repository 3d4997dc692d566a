package session

import "testing"

func TestSeqTracker(t *testing.T) {
	var s seqTracker
	s.reset(3)
	for _, q := range []int64{1, 3} {
		if !s.has(q) {
			t.Fatalf("has(%d) after reset(3)", q)
		}
	}
	s.mark(6) // out of order
	s.mark(5)
	if s.w != 3 || !s.has(5) || !s.has(6) || s.has(4) {
		t.Fatalf("w=%d above=%v", s.w, s.above)
	}
	s.mark(4)
	if s.w != 6 || len(s.above) != 0 {
		t.Fatalf("gap filled: w=%d above=%v", s.w, s.above)
	}
	// A gap that is never filled is abandoned past maxAbove.
	for q := int64(8); q < 8+maxAbove+1; q++ {
		s.mark(q)
	}
	if len(s.above) > maxAbove || !s.has(8) || s.has(7) && s.w < 7 {
		t.Fatalf("w=%d len(above)=%d", s.w, len(s.above))
	}
}
