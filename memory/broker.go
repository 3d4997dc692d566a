package memory

import (
	"context"

	"github.com/heraldhq/herald"
)

// Broker is the single-node herald.Broker: there are no other nodes to reach,
// so a published message goes straight to the local Deliverer.
type Broker struct {
	d herald.Deliverer
}

// NewBroker returns a Broker that hands every published message to d.
func NewBroker(d herald.Deliverer) *Broker { return &Broker{d: d} }

// Publish delivers m to the local connections of its audience and returns how
// many accepted it. It fails only when ctx is already done.
func (b *Broker) Publish(ctx context.Context, m *herald.Message) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if m == nil {
		return 0, herald.Errorf(herald.EINVALID, "message is required")
	}
	return b.d.Deliver(m), nil
}

// PublishBatch delivers ms, all for the audience of ms[0], to its local
// connections at once when the Deliverer takes batches, and returns how
// many accepted them all; one by one otherwise, returning how many accepted
// the last.
func (b *Broker) PublishBatch(ctx context.Context, ms []*herald.Message) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	for _, m := range ms {
		if m == nil {
			return 0, herald.Errorf(herald.EINVALID, "message is required")
		}
	}
	if bd, ok := b.d.(herald.BatchDeliverer); ok {
		return bd.DeliverBatch(ms), nil
	}
	n := 0
	for _, m := range ms {
		n = b.d.Deliver(m)
	}
	return n, nil
}

// Run blocks until ctx ends: a single node receives nothing from elsewhere.
// It returns nil, since ending is the expected way out.
func (b *Broker) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
