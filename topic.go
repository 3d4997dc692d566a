package herald

import (
	"context"
	"time"
)

// A topic is a durable group of users to notify at once: the members of a
// trip, a team, the followers of an item. A notification sent to a topic
// becomes one inbox entry per member, each planned through the member's
// own preferences and delivered live to the members online.

// Limits on topics.
const (
	MaxTopicLen = 128
	// MaxTopicMembersPerCall bounds the user ids one membership call takes.
	MaxTopicMembersPerCall = 10000
	// MaxTopicPage bounds a page of members.
	MaxTopicPage = 1000
)

// ValidTopic reports whether name can name a topic: 1 to MaxTopicLen
// characters, ASCII letters, digits and "_-.:@", starting with a letter or a
// digit. It fits in a URL path segment as it is, and leaves room for names
// such as "trip:123" or "team.sales".
func ValidTopic(name string) bool {
	if name == "" || len(name) > MaxTopicLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '-' || c == '.' || c == ':' || c == '@'):
		default:
			return false
		}
	}
	return true
}

// CheckTopic returns an EINVALID error when name is not a valid topic name.
func CheckTopic(name string) error {
	if !ValidTopic(name) {
		return Errorf(EINVALID, "topic must be 1 to %d characters of A-Z a-z 0-9 _ - . : @, starting with a letter or digit", MaxTopicLen)
	}
	return nil
}

// TopicSendStatus is where a TopicSend stands.
type TopicSendStatus string

// The topic send statuses.
const (
	// TopicSendPending: accepted and durable; members are still being given
	// their copies.
	TopicSendPending TopicSendStatus = "pending"
	// TopicSendDone: every member had its copy.
	TopicSendDone TopicSendStatus = "done"
)

// TopicSend is one notification sent to a topic: stored before the send is
// acknowledged, then fanned out to the members in chunks, each chunk in one
// transaction with the send's progress, so that a crash between chunks
// resumes after the last one committed and no member gets two copies.
type TopicSend struct {
	ID    string `json:"id"`
	Topic string `json:"topic"`
	// Notification is what each member gets, its UserID left empty. Its
	// IdempotencyKey is the send's: a second send with the key returns the
	// first (Replayed in CreateTopicSend).
	Notification NewNotification `json:"-"`
	// Members is how many members the topic had when the send was accepted;
	// members added or removed during the fan-out get the notification if
	// they are members when their turn comes.
	Members int `json:"members"`
	// Delivered is how many members have their copy so far.
	Delivered int             `json:"delivered"`
	Status    TopicSendStatus `json:"status"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// TopicStore keeps topics' members and the sends waiting for their
// fan-out. The sqlite, postgres and memory stores implement it.
type TopicStore interface {
	// AddTopicMembers adds userIDs to topic and returns how many were not
	// members yet; adding a member again changes nothing.
	AddTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error)
	// RemoveTopicMembers removes userIDs from topic and returns how many
	// were members.
	RemoveTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error)
	// FindTopicMembers returns up to limit members of topic whose ids sort
	// after after (the cursor: the last id of the previous page), in order.
	FindTopicMembers(ctx context.Context, topic, after string, limit int) ([]string, error)
	// CreateTopicSend stores s as pending, with its ID, Members and times
	// filled in. When s's idempotency key was used before for the topic, it
	// stores nothing and fills s with the first send instead: replayed.
	CreateTopicSend(ctx context.Context, s *TopicSend) (replayed bool, err error)
	// FindTopicSend returns the send id of topic, or ENOTFOUND.
	FindTopicSend(ctx context.Context, topic, id string) (*TopicSend, error)
	// PendingTopicSends returns the ids of up to limit pending sends, oldest
	// first.
	PendingTopicSends(ctx context.Context, limit int) ([]string, error)
	// FanOutTopicSend creates the send's notification for up to limit more
	// members, planned with opts.Planner and handed to opts.Committed like a
	// create's, in one transaction with the send's progress. It returns the
	// results and whether the send is done. Another node working on the send
	// makes it return no results and done false; a done or unknown send
	// returns none and done true.
	FanOutTopicSend(ctx context.Context, id string, limit int, opts CreateOptions) (res []Created, done bool, err error)
}

// Topics is the topic service the HTTP API serves: membership, sends and
// their progress. The inbox implements it.
type Topics interface {
	// AddTopicMembers adds userIDs to topic, idempotently, and returns how
	// many were not members yet.
	AddTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error)
	// RemoveTopicMembers removes userIDs from topic, idempotently, and
	// returns how many were members.
	RemoveTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error)
	// TopicMembers returns a page of topic's members after after, in order.
	TopicMembers(ctx context.Context, topic, after string, limit int) ([]string, error)
	// SendToTopic stores n for every member of topic and returns the send
	// once it is durable; its copies are created and delivered after.
	// replayed says n's IdempotencyKey named an earlier send, returned.
	SendToTopic(ctx context.Context, topic string, n *NewNotification) (send *TopicSend, replayed bool, err error)
	// TopicSend returns a send of topic with its progress.
	TopicSend(ctx context.Context, topic, id string) (*TopicSend, error)
}
