package redis

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// slotMap says which shard of a Redis Cluster serves each slot, by the
// address of the slot's primary, as CLUSTER SLOTS reports it.
type slotMap struct {
	owner [slots]string // "" for a slot no primary serves
	nodes []string      // every node named, primaries and replicas
}

// followSlots reads the slot map of the Redis Cluster until ctx ends: every
// TopologyInterval, every second while a shard is unreachable, and soon
// after a subscriber asks (requestSlots: a channel's slot moved, or its
// shard failed). Each change starts and stops subscribers and moves topics
// between them.
func (b *Broker) followSlots(ctx context.Context) {
	readers := map[string]*goredis.Client{} // clients to ask, by address
	defer func() {
		for _, c := range readers {
			c.Close()
		}
	}()
	logged := false
	for {
		m, err := b.readSlots(ctx, readers)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if !logged {
				logged = true
				b.log.Warn("redis broker: cannot read the cluster's slot map; retrying", "err", err)
			}
		default:
			logged = false
			b.applySlots(ctx, m)
		}
		wait := b.cfg.TopologyInterval
		if err != nil || !b.up.Load() {
			wait = min(wait, time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-b.refresh:
			// A slot's channels are unsubscribed one by one: let the burst
			// fold into one reading.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		case <-time.After(wait):
		}
	}
}

// readSlots asks the cluster's nodes, in random order, for the slot map
// until one answers: the nodes of the last map, and the addresses the
// client was given.
func (b *Broker) readSlots(ctx context.Context, readers map[string]*goredis.Client) (*slotMap, error) {
	known := map[string]bool{}
	b.mu.Lock()
	if b.slotMap != nil {
		for _, a := range b.slotMap.nodes {
			known[a] = true
		}
	}
	b.mu.Unlock()
	for _, a := range b.client.seeds {
		known[a] = true
	}
	for a, c := range readers {
		if !known[a] {
			c.Close()
			delete(readers, a)
		}
	}
	addrs := make([]string, 0, len(known))
	for a := range known {
		addrs = append(addrs, a)
	}
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	var firstErr error
	for _, a := range addrs {
		c := readers[a]
		if c == nil {
			c = b.client.nodeClient(a)
			readers[a] = c
		}
		rctx, cancel := context.WithTimeout(ctx, 2*ioTimeout)
		res, err := c.ClusterSlots(rctx).Result()
		cancel()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		return newSlotMap(res), nil
	}
	return nil, firstErr
}

func newSlotMap(res []goredis.ClusterSlot) *slotMap {
	m := &slotMap{}
	seen := map[string]bool{}
	for _, r := range res {
		if len(r.Nodes) == 0 {
			continue
		}
		for _, n := range r.Nodes {
			if !seen[n.Addr] && n.Addr != "" {
				seen[n.Addr] = true
				m.nodes = append(m.nodes, n.Addr)
			}
		}
		for sl := max(r.Start, 0); sl <= r.End && sl < slots; sl++ {
			m.owner[sl] = r.Nodes[0].Addr
		}
	}
	return m
}

// applySlots installs m: it starts a subscriber for each new shard and
// stops those of shards gone (a failed primary replaced by its replica),
// moves the topics whose slot changed shard, and routes again the topics
// Redis unsubscribed.
func (b *Broker) applySlots(ctx context.Context, m *slotMap) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lost []string
	for _, s := range b.subs {
		lost = append(lost, s.lost...)
		s.lost = nil
	}
	old := b.slotMap
	if old == nil || old.owner != m.owner {
		b.slotMap = m
		moved := 0
		if old != nil {
			for t := range b.want {
				sl := slotOf(t)
				if old.owner[sl] == m.owner[sl] {
					continue
				}
				moved++
				// The old shard's subscriber releases the topic, and the
				// new one takes it once Redis confirmed (dropLost); one
				// that does not hold it hands it over at once.
				if s := b.subs[old.owner[sl]]; s != nil && m.owner[sl] != old.owner[sl] {
					if _, held := s.subscribed[t]; held {
						s.dirty[t] = struct{}{}
						continue
					}
				}
				lost = append(lost, t) // to its new shard, below
			}
		}
		before := len(b.subs)
		shards := map[string]bool{}
		for _, a := range m.owner {
			if a != "" {
				shards[a] = true
			}
		}
		for a, s := range b.subs {
			if !shards[a] {
				s.cancel()
				delete(b.subs, a)
			}
		}
		for a := range shards {
			if b.subs[a] == nil {
				// Shards that appear after the first map (a promoted
				// replica, a node added) start as after an outage.
				b.startSubscriberLocked(a, old != nil)
			}
		}
		b.m.shards.Set(float64(len(b.subs)))
		b.updateRoutesLocked()
		b.updateUpLocked()
		if old != nil {
			level := slog.LevelDebug
			if moved > 0 || len(b.subs) != before {
				level = slog.LevelInfo
			}
			b.log.Log(ctx, level, "redis broker: the cluster's slot map changed", "shards", len(b.subs), "topics_moved", moved)
			b.client.cluster().ReloadState(ctx)
		}
		for _, s := range b.subs {
			signal(s.changed) // a probe's slot may have moved
		}
	} else {
		// The map is the same: the slot map is read again when a topic is
		// lost, so lost topics of a slot that has not moved yet (or was
		// read from a node that does not know yet) are tried again.
		b.slotMap.nodes = m.nodes
	}
	for _, t := range lost {
		if _, want := b.want[t]; !want {
			continue
		}
		if s := b.routeLocked(t); s != nil {
			s.dirty[t] = struct{}{}
			signal(s.changed)
		}
	}
}
