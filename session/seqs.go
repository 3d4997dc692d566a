package session

// maxAbove bounds the seqs remembered above the watermark: a gap that many
// notifications wide is abandoned rather than remembered forever.
const maxAbove = 4096

// seqTracker is the exact set of notification seqs a connection has been
// sent: every seq up to the watermark w, and the few above it that arrived
// out of order (publishes from several nodes may overtake each other). It lets
// replays and live delivery meet without a duplicate, and without dropping a
// late live message that no replay covered — a rule that "drop what is not
// greater than the last seq" would break.
type seqTracker struct {
	w     int64
	above map[int64]struct{}
}

// has reports whether seq was sent already.
func (t *seqTracker) has(seq int64) bool {
	if seq <= t.w {
		return true
	}
	_, ok := t.above[seq]
	return ok
}

// mark records seq as sent.
func (t *seqTracker) mark(seq int64) {
	switch {
	case seq <= t.w:
		return
	case seq == t.w+1:
		t.w++
		for {
			if _, ok := t.above[t.w+1]; !ok {
				break
			}
			delete(t.above, t.w+1)
			t.w++
		}
	default:
		if t.above == nil {
			t.above = make(map[int64]struct{})
		}
		t.above[seq] = struct{}{}
		if len(t.above) > maxAbove {
			t.skipGap()
		}
	}
}

// skipGap gives up on the gap below the smallest remembered seq.
func (t *seqTracker) skipGap() {
	lowest := int64(-1)
	for s := range t.above {
		if lowest < 0 || s < lowest {
			lowest = s
		}
	}
	t.w = lowest - 1
	t.mark(lowest)
	delete(t.above, lowest)
}

// reset makes since the watermark: the client says it has everything up to
// since and nothing after.
func (t *seqTracker) reset(since int64) {
	t.w, t.above = since, nil
}
