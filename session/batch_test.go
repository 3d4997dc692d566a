package session

import (
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// recordTransport keeps what it is given; refuse makes it refuse like a
// full queue.
type recordTransport struct {
	mu     sync.Mutex
	got    []Outbound
	refuse bool
}

func (r *recordTransport) Send(o Outbound) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse {
		return false
	}
	r.got = append(r.got, o)
	return true
}
func (r *recordTransport) Close(int, string)  {}
func (r *recordTransport) RemoteAddr() string { return "test" }

// take returns what the transport got since the last call.
func (r *recordTransport) take() []Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// SendBatch hands on what Send would, in order, each message but the last
// handed on marked More, so the transport writes them together; a message
// dropped as a seq marker or a stale count is skipped, and the last one
// handed on never has More.
func TestSendBatch(t *testing.T) {
	e := NewEngine(Config{})
	defer e.Stop()
	tr := &recordTransport{}
	s := e.New(tr, &herald.Claims{UserID: "u", ExpiresAt: time.Now().Add(time.Hour)})
	to := herald.Audience{Kind: herald.ToUser, Name: "u"}
	note := func(seq int64) *herald.Message {
		return &herald.Message{To: to, Payload: []byte(`{"type":"notification:new"}`), Seq: seq}
	}
	marker := func(seq int64) *herald.Message { return &herald.Message{To: to, Seq: seq} }
	count := func(v int64) *herald.Message {
		return &herald.Message{To: to, Payload: []byte(`{"type":"notification:unread_count"}`), Latest: true, Version: v}
	}
	type want struct {
		msg  *herald.Message
		more bool
	}
	check := func(name string, ms []*herald.Message, wants ...want) {
		t.Helper()
		if !s.SendBatch(ms) {
			t.Fatalf("%s: SendBatch refused", name)
		}
		got := tr.take()
		if len(got) != len(wants) {
			t.Fatalf("%s: the transport got %d messages, want %d", name, len(got), len(wants))
		}
		for i, w := range wants {
			if got[i].Msg != w.msg || got[i].More != w.more {
				t.Errorf("%s: message %d is %p with More %v, want %p with More %v", name, i, got[i].Msg, got[i].More, w.msg, w.more)
			}
		}
	}

	// Until the session starts, live messages are held, and then released
	// in order after "connected".
	held := []*herald.Message{note(1), count(1)}
	if !s.SendBatch(held) || len(tr.take()) != 0 {
		t.Fatal("a batch before the start was not held")
	}
	s.Start(-1)
	got := tr.take()
	if len(got) != 3 || got[0].Data == nil || got[1].Msg != held[0] || got[2].Msg != held[1] {
		t.Fatalf("after the start the transport got %+v, want connected and the held batch", got)
	}

	n1, c1 := note(11), count(11)
	check("a notification and its count", []*herald.Message{n1, c1}, want{n1, true}, want{c1, false})
	n2, n3, c2 := note(12), note(13), count(12)
	check("two notifications and a count", []*herald.Message{n2, n3, c2}, want{n2, true}, want{n3, true}, want{c2, false})
	n4 := note(14)
	check("a stale count last", []*herald.Message{n4, count(12)}, want{n4, false})
	c3 := count(13)
	check("a seq marker first", []*herald.Message{marker(15), c3}, want{c3, false})
	check("nothing to hand on", []*herald.Message{marker(16), count(13)})

	tr.refuse = true
	if s.SendBatch([]*herald.Message{note(17), count(14)}) {
		t.Error("SendBatch reported success through a transport that refused")
	}
	if !s.Closed() {
		t.Error("the session is not closed after its transport refused")
	}
	if s.SendBatch([]*herald.Message{note(18)}) {
		t.Error("a closed session took a batch")
	}
}
