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

// batchRecorder is a recorder that takes batches too.
type batchRecorder struct {
	recorder
	batches [][]*herald.Message
}

func (r *batchRecorder) DeliverBatch(ms []*herald.Message) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, ms)
	return r.accp
}

// PublishBatch hands the batch over whole to a Deliverer that takes
// batches, one message at a time to one that does not, and refuses what
// Publish refuses.
func TestBrokerPublishBatch(t *testing.T) {
	ctx := context.Background()
	to := herald.Audience{Kind: herald.ToUser, Name: "alice"}
	ms := []*herald.Message{{To: to, Payload: []byte(`{"i":1}`)}, {To: to, Payload: []byte(`{"i":2}`)}}

	br := &batchRecorder{recorder: recorder{accp: 2}}
	if n, err := memory.NewBroker(br).PublishBatch(ctx, ms); err != nil || n != 2 {
		t.Fatalf("PublishBatch = %d, %v; want 2, nil", n, err)
	}
	if len(br.batches) != 1 || len(br.batches[0]) != 2 || br.batches[0][0] != ms[0] || len(br.got) != 0 {
		t.Fatalf("a batch deliverer got batches %v and messages %v, want the batch once", br.batches, br.got)
	}

	r := &recorder{accp: 1}
	b := memory.NewBroker(r)
	if n, err := b.PublishBatch(ctx, ms); err != nil || n != 1 {
		t.Fatalf("PublishBatch = %d, %v; want 1, nil", n, err)
	}
	if len(r.got) != 2 || r.got[0] != ms[0] || r.got[1] != ms[1] {
		t.Fatalf("a plain deliverer got %v, want both messages in order", r.got)
	}
	if _, err := b.PublishBatch(ctx, []*herald.Message{ms[0], nil}); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("a batch holding nil: %v, want EINVALID", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.PublishBatch(cancelled, ms); err == nil {
		t.Fatal("PublishBatch with a canceled context succeeded")
	}
	if len(r.got) != 2 {
		t.Fatalf("refused batches reached the deliverer: %d messages", len(r.got))
	}
}
