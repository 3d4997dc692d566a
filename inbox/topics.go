package inbox

import (
	"context"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
)

// Defaults of the topic fan-out.
const (
	// DefaultTopicChunk is how many members one fan-out transaction serves.
	DefaultTopicChunk = 1000
	// DefaultTopicPoll is how often Run looks for sends to resume: those a
	// crashed node or another node left.
	DefaultTopicPoll = time.Second
	// DefaultMembersPage is the page size of TopicMembers when none is given.
	DefaultMembersPage = 100
)

var _ herald.Topics = (*Service)(nil)

var errNoTopics = herald.Errorf(herald.EUNAVAILABLE, "topics are not available with this store")

// checkMembers validates the user ids of a membership call.
func checkMembers(topic string, userIDs []string) error {
	if err := herald.CheckTopic(topic); err != nil {
		return err
	}
	if len(userIDs) > herald.MaxTopicMembersPerCall {
		return herald.Errorf(herald.ETOOLARGE, "at most %d user ids per call", herald.MaxTopicMembersPerCall)
	}
	for i, u := range userIDs {
		if !herald.ValidUserID(u) {
			return herald.CheckUserID("userIds["+strconv.Itoa(i)+"]", u)
		}
	}
	return nil
}

// AddTopicMembers adds userIDs to topic and returns how many were not
// members yet. Adding a member again changes nothing.
func (s *Service) AddTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error) {
	return s.changeMembers(ctx, topic, userIDs, herald.TopicStore.AddTopicMembers)
}

// RemoveTopicMembers removes userIDs from topic and returns how many were
// members.
func (s *Service) RemoveTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error) {
	return s.changeMembers(ctx, topic, userIDs, herald.TopicStore.RemoveTopicMembers)
}

// changeMembers checks topic and userIDs and hands them to change, a method
// of the store; an empty list changes nothing.
func (s *Service) changeMembers(ctx context.Context, topic string, userIDs []string,
	change func(herald.TopicStore, context.Context, string, []string) (int, error)) (int, error) {
	if s.topics == nil {
		return 0, errNoTopics
	}
	if err := checkMembers(topic, userIDs); err != nil {
		return 0, err
	}
	if len(userIDs) == 0 {
		return 0, nil
	}
	return change(s.topics, ctx, topic, userIDs)
}

// TopicMembers returns up to limit members of topic (0: DefaultMembersPage)
// whose ids sort after after, in order.
func (s *Service) TopicMembers(ctx context.Context, topic, after string, limit int) ([]string, error) {
	if s.topics == nil {
		return nil, errNoTopics
	}
	if err := herald.CheckTopic(topic); err != nil {
		return nil, err
	}
	switch {
	case limit == 0:
		limit = DefaultMembersPage
	case limit < 1 || limit > herald.MaxTopicPage:
		return nil, herald.Errorf(herald.EINVALID, "limit must be between 1 and %d", herald.MaxTopicPage)
	}
	if len(after) > herald.MaxUserIDLen {
		return nil, herald.Errorf(herald.EINVALID, "after must be a user id")
	}
	return s.topics.FindTopicMembers(ctx, topic, after, limit)
}

// SendToTopic sends n to every member of topic: the send is stored (and so
// durable) before SendToTopic returns, and Run fans it out, creating each
// member's copy, planned with that member's preferences and published to
// the member's connections like any create. n has no user (the members are)
// and no id (each copy gets its own); its IdempotencyKey makes a retry
// return the first send, replayed.
func (s *Service) SendToTopic(ctx context.Context, topic string, n *herald.NewNotification) (*herald.TopicSend, bool, error) {
	if s.topics == nil {
		return nil, false, errNoTopics
	}
	if err := herald.CheckTopic(topic); err != nil {
		return nil, false, err
	}
	switch {
	case n == nil:
		return nil, false, herald.Errorf(herald.EINVALID, "notification is required")
	case n.UserID != "":
		return nil, false, herald.Errorf(herald.EINVALID, "userId is not allowed: a topic's members are its users")
	case n.ID != "":
		return nil, false, herald.Errorf(herald.EINVALID, "id is not allowed: each member's copy gets its own")
	}
	check := *n
	check.UserID = "topic-member" // any valid id: Validate checks the rest
	if err := check.Validate(); err != nil {
		return nil, false, err
	}
	send := &herald.TopicSend{Topic: topic, Notification: *n}
	replayed, err := s.topics.CreateTopicSend(ctx, send)
	if err != nil {
		return nil, false, err
	}
	if !replayed && send.Status == herald.TopicSendPending {
		s.wakeTopics()
	}
	return send, replayed, nil
}

// TopicSend returns the send id of topic, with its progress.
func (s *Service) TopicSend(ctx context.Context, topic, id string) (*herald.TopicSend, error) {
	if s.topics == nil {
		return nil, errNoTopics
	}
	if err := herald.CheckTopic(topic); err != nil {
		return nil, err
	}
	if err := validateID(id); err != nil {
		return nil, err
	}
	return s.topics.FindTopicSend(ctx, topic, id)
}

// wakeTopics tells Run a send is waiting.
func (s *Service) wakeTopics() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run fans out topic sends until ctx ends: those sent through this node as
// soon as they are stored, and those left pending (by a node that stopped or
// crashed mid-way, or sent through a node without a worker) when it starts
// and every TopicPoll. A fan-out resumes after the last chunk that committed,
// so a crash never gives a member two copies, and several nodes may run it:
// the store hands each chunk to one of them. It returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.topics == nil {
		<-ctx.Done()
		return nil
	}
	for {
		s.fanOutPending(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-time.After(s.topicPoll):
		}
	}
}

// fanOutPending fans out every pending send it can.
func (s *Service) fanOutPending(ctx context.Context) {
	const page = 16
	for ctx.Err() == nil {
		ids, err := s.topics.PendingTopicSends(ctx, page)
		if err != nil {
			s.log.Error("inbox: cannot list pending topic sends", "err", err)
			return
		}
		progress := false
		for _, id := range ids {
			if s.fanOut(ctx, id) {
				progress = true
			}
		}
		if len(ids) < page || !progress {
			return
		}
	}
}

// fanOut serves the members of send id chunk by chunk, publishing each
// chunk's copies as it commits, and reports whether the send is done. It
// stops when another node holds the send.
func (s *Service) fanOut(ctx context.Context, id string) bool {
	for ctx.Err() == nil {
		var pubs []*publication
		opts := herald.CreateOptions{Planner: s.planner}
		if s.pub != nil {
			opts.Committed = func(res []herald.Created) {
				pubs = s.publications(res)
				for _, p := range pubs {
					s.lines.add(p)
				}
			}
		}
		res, done, err := s.topics.FanOutTopicSend(ctx, id, s.topicChunk, opts)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("inbox: topic fan-out failed; it resumes later", "send", id, "err", err)
			}
			return false
		}
		if len(pubs) > 0 {
			pctx, cancel := s.afterCommit(ctx)
			for _, p := range pubs {
				s.lines.flush(pctx, p, func(ms []*herald.Message) { s.sendAll(pctx, ms) })
			}
			cancel()
		}
		if s.afterCreate != nil && len(res) > 0 {
			s.afterCreate(res)
		}
		if done {
			return true
		}
		if len(res) == 0 {
			return false // another node's turn
		}
	}
	return false
}
