package memory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/memory"
)

// recorder is a Deliverer that remembers what it was given.
type recorder struct {
	mu   sync.Mutex
	got  []*herald.Message
	accp int
}

func (r *recorder) Deliver(m *herald.Message) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
	return r.accp
}

func TestBrokerPublishDeliversSynchronously(t *testing.T) {
	r := &recorder{accp: 3}
	b := memory.NewBroker(r)
	m := &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Payload: []byte(`{}`)}
	n, err := b.Publish(context.Background(), m)
	if err != nil || n != 3 {
		t.Fatalf("Publish = %d, %v; want 3, nil", n, err)
	}
	if len(r.got) != 1 || r.got[0] != m {
		t.Fatalf("deliverer got %v, want the published message once", r.got)
	}
}

func TestBrokerPublishRefusesAfterCancel(t *testing.T) {
	r := &recorder{}
	b := memory.NewBroker(r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Publish(ctx, &herald.Message{}); err == nil {
		t.Fatal("Publish with a canceled context succeeded")
	}
	if _, err := b.Publish(context.Background(), nil); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("Publish(nil) = %v, want EINVALID", err)
	}
	if len(r.got) != 0 {
		t.Fatalf("deliverer got %d messages, want none", len(r.got))
	}
}

func TestBrokerRunReturnsWhenContextEnds(t *testing.T) {
	b := memory.NewBroker(&recorder{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v before its context ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}
