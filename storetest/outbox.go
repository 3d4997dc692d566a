package storetest

import (
	"testing"

	"github.com/heraldhq/herald"
)

// OutboxStore is what the outbox suite needs of a store: notifications, the
// outbox and preferences, in one database, since deliveries are written with
// their notifications and claims read the notifications' state.
type OutboxStore interface {
	herald.Store
	herald.DeliveryStore
	herald.PreferenceStore
	herald.DeviceStore
}

// RunOutbox runs the outbox and preference suite, each case in its own
// subtest with its own store from open, which it closes at the end.
func RunOutbox(t *testing.T, open func(t *testing.T) OutboxStore) {
	runCases(t, open, []suiteCase[OutboxStore]{
		{"CreateWritesDeliveries", testCreateWritesDeliveries},
		{"ReplayWritesNoDeliveries", testReplayWritesNoDeliveries},
		{"FailedCreateWritesNoDeliveries", testFailedCreateWritesNoDeliveries},
		{"PlannerReadsPreferences", testPlannerReadsPreferences},
		{"ClaimLeasesDueDeliveries", testClaimLeases},
		{"ClaimOrderAndLimit", testClaimOrderAndLimit},
		{"FailedDeliveryRetriesWhenDue", testFailedRetries},
		{"FinishFencedByAttempt", testFinishFenced},
		{"ClaimCancelsReadEscalations", testClaimCancelsRead},
		{"ClaimCancelsDeletedNotifications", testClaimCancelsDeleted},
		{"CancelUnread", testCancelUnread},
		{"ClaimDigestPerUser", testClaimDigest},
		{"ConcurrentClaimsTakeEachOnce", testConcurrentClaims},
		{"ConcurrentDigestClaims", testConcurrentDigestClaims},
		{"FindDeliveries", testFindDeliveries},
		{"CountAndPurge", testCountAndPurge},
		{"PreferencesRoundTrip", testPreferencesRoundTrip},
		{"PreferencesRefuseInvalid", testPreferencesInvalid},
		{"ConcurrentPreferenceUpdates", testConcurrentPreferenceUpdates},
		{"PushSubscriptions", testPushSubscriptions},
		{"ConcurrentPushEndpoint", testConcurrentPushEndpoint},
		{"Devices", testDevices},
		{"ConcurrentDeviceToken", testConcurrentDeviceToken},
		{"PlannerReadsDevices", testPlannerReadsDevices},
	})
}
