package herald_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald"
)

// TestEncodedOncePerKey: however many recipients ask at once, a message is
// encoded once per format, and every one of them gets that encoding.
func TestEncodedOncePerKey(t *testing.T) {
	type format int
	m := &herald.Message{Payload: []byte(`{"type":"x"}`)}
	var calls atomic.Int64
	var wg sync.WaitGroup
	got := make([]any, 64)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = m.Encoded(format(i%2), func(p []byte) any {
				calls.Add(1)
				return &struct{ b []byte }{append([]byte{byte(i % 2)}, p...)}
			})
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Fatalf("encoded %d times for 2 formats", n)
	}
	for i, g := range got {
		if g != got[i%2] {
			t.Fatalf("recipient %d got another encoding than recipient %d", i, i%2)
		}
	}
}
