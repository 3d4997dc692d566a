// Package storetest is the test suite every herald.Store implementation must
// pass, so the memory, SQLite and PostgreSQL stores behave the same way and a
// caller can swap one for another without surprises.
//
// An implementation's tests call Run with a function that opens a fresh, empty
// store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) herald.Store { return memory.NewStore(memory.Config{}) })
//	}
//
// Run closes each store when its subtest ends, so Close must be safe to call
// twice.
package storetest

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
)

// Page sizes every store implements for FindNotifications.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Run runs the whole suite, each case in its own subtest with its own store.
func Run(t *testing.T, open func(t *testing.T) herald.Store) {
	runCases(t, open, []suiteCase[herald.Store]{
		{"Create", testCreate},
		{"CreateKeepsSuppliedID", testCreateKeepsSuppliedID},
		{"CreateRejectsMalformedID", testCreateRejectsMalformedID},
		{"CreateDuplicateIDIsAtomic", testCreateDuplicateIDIsAtomic},
		{"CreateBatch", testCreateBatch},
		{"CreateEmptyBatch", testCreateEmptyBatch},
		{"CreateSilent", testCreateSilent},
		{"CreateCanceled", testCreateCanceled},
		{"SeqNeverReused", testSeqNeverReused},
		{"Idempotency", testIdempotency},
		{"IdempotencyInBatch", testIdempotencyInBatch},
		{"IdempotencyKeyFreedByDelete", testIdempotencyKeyFreedByDelete},
		{"RoundTrip", testRoundTrip},
		{"MarkRead", testMarkRead},
		{"MarkReadOtherUser", testMarkReadOtherUser},
		{"MarkAllRead", testMarkAllRead},
		{"Delete", testDelete},
		{"FindPages", testFindPages},
		{"FindUnreadOnly", testFindUnreadOnly},
		{"FindSince", testFindSince},
		{"FindLimits", testFindLimits},
		{"FindOnlyOwnNotifications", testFindOnlyOwnNotifications},
		{"UnreadCountExact", testUnreadCountExact},
		{"UnreadCountAcrossChanges", testUnreadCountAcrossChanges},
		{"UnreadCountConcurrent", testUnreadCountConcurrent},
		{"UnreadVersions", testUnreadVersions},
		{"UnreadVersionsConcurrent", testUnreadVersionsConcurrent},
		{"CommittedInOrder", testCommittedInOrder},
		{"ConcurrentCreateSameUser", testConcurrentCreateSameUser},
		{"ConcurrentCreateManyUsers", testConcurrentCreateManyUsers},
		{"ConcurrentIdempotentCreate", testConcurrentIdempotentCreate},
		{"ConcurrentReadsAndWrites", testConcurrentReadsAndWrites},
	})
}

// suiteCase is one named case of a suite over stores of type S.
type suiteCase[S any] struct {
	name string
	fn   func(t *testing.T, s S)
}

// runCases runs each case in its own subtest with a fresh store from open,
// closed when the subtest ends.
func runCases[S interface{ Close() error }](t *testing.T, open func(t *testing.T) S, cases []suiteCase[S]) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			c.fn(t, s)
		})
	}
}

// ctx is the context of every call the suite makes, bar the cancellation test.
var ctx = context.Background()
