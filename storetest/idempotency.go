package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func testIdempotency(t *testing.T, s herald.Store) {
	first := newNotification("alice", 1)
	first.IdempotencyKey = "event-1"
	first.Data = []byte(`{"n":1}`)
	if created := create(t, s, first); !created[0] {
		t.Fatal("created = false for a new key")
	}
	if _, _, err := s.MarkRead(ctx, "alice", first.ID, time.Now()); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}
	stored := byID(t, s, "alice", first.ID)

	// A retry with the same key, even with other content, gets the stored one.
	retry := newNotification("alice", 2)
	retry.IdempotencyKey = "event-1"
	retry.Data = []byte(`{"n":2}`)
	if created := create(t, s, retry); created[0] {
		t.Fatal("created = true for a key seen before")
	}
	sameNotification(t, "retried", retry, stored)
	if retry.IdempotencyKey != "event-1" {
		t.Fatalf("retried IdempotencyKey = %q, want event-1", retry.IdempotencyKey)
	}
	if got := len(all(t, s, "alice")); got != 1 {
		t.Fatalf("alice has %d notifications after a retry, want 1", got)
	}

	// Keys are per user.
	other := newNotification("bob", 1)
	other.IdempotencyKey = "event-1"
	if created := create(t, s, other); !created[0] {
		t.Fatal("created = false for another user's key")
	}
	if other.ID == first.ID || other.Seq != 1 {
		t.Fatalf("bob's notification got ID %s Seq %d", other.ID, other.Seq)
	}

	// A retry in a batch with new notifications: only the new ones take seqs.
	batch := []*herald.Notification{
		newNotification("alice", 3),
		{UserID: "alice", Type: "test", Title: "again", IdempotencyKey: "event-1"},
		newNotification("alice", 4),
	}
	created := create(t, s, batch...)
	if !created[0] || created[1] || !created[2] {
		t.Fatalf("created = %v, want [true false true]", created)
	}
	if batch[0].Seq != 2 || batch[1].Seq != 1 || batch[2].Seq != 3 {
		t.Fatalf("seqs = %d %d %d, want 2 1 3", batch[0].Seq, batch[1].Seq, batch[2].Seq)
	}
	wantSeqs(t, "alice", all(t, s, "alice"), []int64{1, 2, 3})
	wantUnread(t, s, "alice", 2)
}

func testIdempotencyInBatch(t *testing.T, s herald.Store) {
	a := newNotification("alice", 1)
	a.IdempotencyKey = "k"
	b := newNotification("alice", 2)
	b.IdempotencyKey = "k"
	c := newNotification("alice", 3)
	d := newNotification("bob", 1)
	d.IdempotencyKey = "k"
	created := create(t, s, a, b, c, d)
	if !created[0] || created[1] || !created[2] || !created[3] {
		t.Fatalf("created = %v, want [true false true true]", created)
	}
	sameNotification(t, "in-batch duplicate", b, a)
	if a.Title != "title 1" {
		t.Fatalf("first of the duplicates changed to %q", a.Title)
	}
	// The duplicate used no seq: no gap.
	if c.Seq != 2 || d.Seq != 1 {
		t.Fatalf("seqs after an in-batch duplicate: alice %d, bob %d; want 2, 1", c.Seq, d.Seq)
	}
	wantSeqs(t, "alice", all(t, s, "alice"), []int64{1, 2})
	wantUnread(t, s, "alice", 2)
}

// testIdempotencyKeyFreedByDelete pins down the documented limit of keys: a
// key lives with its notification, so after a delete it creates a new one.
func testIdempotencyKeyFreedByDelete(t *testing.T, s herald.Store) {
	n := newNotification("alice", 1)
	n.IdempotencyKey = "k"
	create(t, s, n)
	if _, _, err := s.DeleteNotification(ctx, "alice", n.ID); err != nil {
		t.Fatalf("DeleteNotification: %v", err)
	}
	again := newNotification("alice", 2)
	again.IdempotencyKey = "k"
	if created := create(t, s, again); !created[0] {
		t.Fatal("created = false for a key whose notification was deleted")
	}
	if again.Seq != 2 || again.ID == n.ID {
		t.Fatalf("recreated notification has Seq %d, ID %s (old %s)", again.Seq, again.ID, n.ID)
	}
}
