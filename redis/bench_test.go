package redis_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/redistest"
)

// signalConn is a connection that signals each message it is sent.
type signalConn struct {
	user string
	got  chan struct{}
}

func (c *signalConn) UserID() string { return c.user }

func (c *signalConn) Send(*herald.Message) bool {
	c.got <- struct{}{}
	return true
}

// BenchmarkCrossNode measures one message from node a to a user on node b,
// published and received one at a time: the cross-node latency through a
// local Redis (ns/op), not the throughput.
func BenchmarkCrossNode(b *testing.B) {
	db := redistest.New(b)
	a, _ := startNode(b, db, "a", nil)
	bn, _ := startNode(b, db, "b", nil)
	c := &signalConn{user: "bob", got: make(chan struct{}, 1)}
	if err := bn.hub.Register(c); err != nil {
		b.Fatal(err)
	}
	settleRedis(b, []*suiteNode{a, bn})
	m := &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "bob"}, Payload: []byte(`{"type":"bench","payload":"0123456789abcdef0123456789abcdef"}`)}
	b.ResetTimer()
	for range b.N {
		if _, err := a.broker.Publish(context.Background(), m); err != nil {
			b.Fatal(err)
		}
		<-c.got
	}
}
