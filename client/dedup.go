package client

import "container/list"

// seenSet remembers the last few notification ids, so that one delivered
// twice (replayed after a reconnect, and live) reaches the application once.
// It is bounded: the oldest id is forgotten when a new one comes in full.
type seenSet struct {
	max   int
	order *list.List // of string, oldest at the front
	index map[string]*list.Element
}

func newSeenSet(max int) *seenSet {
	return &seenSet{max: max, order: list.New(), index: make(map[string]*list.Element, max)}
}

// add records id and reports whether it is new.
func (s *seenSet) add(id string) bool {
	if e, ok := s.index[id]; ok {
		s.order.MoveToBack(e)
		return false
	}
	s.index[id] = s.order.PushBack(id)
	if s.order.Len() > s.max {
		oldest := s.order.Front()
		s.order.Remove(oldest)
		delete(s.index, oldest.Value.(string))
	}
	return true
}
