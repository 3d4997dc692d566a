package redis

import "testing"

// TestSlotOf checks the slot computation against what CLUSTER KEYSLOT of
// redis-server 7.0 answered for the same names, hash tags included.
func TestSlotOf(t *testing.T) {
	for name, want := range map[string]int{
		"123456789":            12739,
		"a":                    15495,
		"b":                    3300,
		"{user1000}.following": 3443,
		"foo{}{bar}":           8363, // an empty tag is no tag
		"foo{{bar}}zap":        4015, // the tag is "{bar"
		"foo{bar}{zap}":        5061, // the first tag counts
		"":                     0,
		"herald:u:alice":       6007,
		"{herald}:presence:x":  2546,
	} {
		if got := slotOf(name); got != want {
			t.Errorf("slotOf(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestSlotTagCoversEverySlot: a probe can be placed on any slot.
func TestSlotTagCoversEverySlot(t *testing.T) {
	for s := range slots {
		tag := slotTag(s)
		if tag == "" || slotOf("x{"+tag+"}") != s {
			t.Fatalf("slotTag(%d) = %q, which hashes to %d", s, tag, slotOf("x{"+tag+"}"))
		}
	}
	k := newKeys("herald:", TopologyCluster)
	if p := k.shardProbe("n1", 42); slotOf(p) != 42 {
		t.Fatalf("probe %q in slot %d, want 42", p, slotOf(p))
	}
	if f := k.presence("{evil}"); f != "{herald}:presence:{evil}" || slotOf(f) != slotOf(k.nodes()) {
		t.Fatalf("a user's braces moved the facts' slot: %q", f)
	}
}
