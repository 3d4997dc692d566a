package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
)

// CommitStore is a store with a commit loop, the SQL stores: its creates
// queue for commits that carry many callers' notifications, and it reports
// them to Prometheus.
type CommitStore interface {
	herald.Store
	herald.TopicStore
	// Collectors returns the commit loop's histograms.
	Collectors() []prometheus.Collector
	// Commits returns how many transactions the loop has begun.
	Commits() int64
}

// RunCommitMetrics checks the commit loop's histograms against what it did:
// concurrent creates that share commits, then a topic's fan-out in chunks,
// each chunk a commit of its own.
func RunCommitMetrics(t *testing.T, open func(t *testing.T) CommitStore) {
	s := open(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collectors()...)

	const creates, members, chunk = 40, 25, 10
	var wg sync.WaitGroup
	for i := range creates {
		wg.Go(func() {
			n := &herald.NewNotification{UserID: fmt.Sprintf("u%d", i%7), Type: "t", Title: "one"}
			if _, err := s.CreateNotifications(ctx, []*herald.NewNotification{n}, herald.CreateOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var users []string
	for i := range members {
		users = append(users, fmt.Sprintf("m%02d", i))
	}
	if _, err := s.AddTopicMembers(ctx, "team", users); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	send := &herald.TopicSend{ID: herald.NewID(), Topic: "team", Notification: herald.NewNotification{Type: "t", Title: "all"},
		Members: members, Status: herald.TopicSendPending, CreatedAt: now, UpdatedAt: now}
	if _, err := s.CreateTopicSend(ctx, send); err != nil {
		t.Fatal(err)
	}
	chunks := 0
	for done := false; !done; chunks++ {
		var err error
		if _, done, err = s.FanOutTopicSend(ctx, send.ID, chunk, herald.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	h := histograms(t, reg)
	commits := s.Commits()
	if got := h["herald_store_commit_seconds"]; got.count != uint64(commits) || got.sum <= 0 {
		t.Errorf("commit seconds: %d observations summing %v; the loop made %d commits", got.count, got.sum, commits)
	}
	if got := h["herald_store_commit_notifications"]; got.count != uint64(commits) || got.sum != creates+members {
		t.Errorf("commit notifications: %d observations summing %v, want %d summing %d", got.count, got.sum, commits, creates+members)
	}
	if got := h["herald_store_create_seconds"]; got.count != uint64(creates+chunks) {
		t.Errorf("create seconds: %d observations, want one per create and per chunk, %d", got.count, creates+chunks)
	}
	if commits >= creates+int64(chunks) {
		t.Logf("no two of the %d concurrent creates shared a commit (%d commits)", creates, commits)
	}
}

type histogram struct {
	count uint64
	sum   float64
}

// histograms gathers reg's histograms by name.
func histograms(t *testing.T, reg *prometheus.Registry) map[string]histogram {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]histogram{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if hg := m.GetHistogram(); hg != nil {
				out[f.GetName()] = histogram{hg.GetSampleCount(), hg.GetSampleSum()}
			}
		}
	}
	return out
}
