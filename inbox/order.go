package inbox

import (
	"context"
	"sync"

	"github.com/heraldhq/herald"
)

// publication is what one create publishes to one user: its new
// notifications, in seq order, then the user's count.
type publication struct {
	user string
	msgs []*herald.Message
	done chan struct{} // closed once msgs are published
}

// userLine holds a user's publications in commit order.
type userLine struct {
	queue    []*publication
	draining bool // a goroutine is publishing from the queue
}

// lines publishes each user's create messages in the order of their commits
// without holding any lock across a commit or a publish. The store hands each
// create's results over in commit order (herald.CreateOptions.Committed),
// and they are queued per user; then the creating goroutine publishes its
// user's queue up to its own messages, unless another goroutine is already at
// it, in which case that one publishes them and this one waits. So a user's
// notifications leave this node in seq order however the creating goroutines
// are scheduled, and creates for different users never wait for each other.
type lines struct {
	mu    sync.Mutex
	users map[string]*userLine
}

// add queues p behind the user's earlier publications. It never blocks on I/O:
// stores call it where they order their commits.
func (l *lines) add(p *publication) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.users == nil {
		l.users = make(map[string]*userLine)
	}
	u := l.users[p.user]
	if u == nil {
		u = &userLine{}
		l.users[p.user] = u
	}
	u.queue = append(u.queue, p)
}

// flush returns once p is published: it publishes the user's queue in order
// itself, each publication's messages in one call of send, or waits while
// another goroutine does. It gives up waiting when ctx ends (p is still
// published, by that other goroutine).
func (l *lines) flush(ctx context.Context, p *publication, send func([]*herald.Message)) {
	l.mu.Lock()
	u := l.users[p.user]
	if u == nil || u.draining {
		l.mu.Unlock()
		select {
		case <-p.done:
		case <-ctx.Done():
		}
		return
	}
	u.draining = true
	for len(u.queue) > 0 {
		next := u.queue[0]
		u.queue[0] = nil
		u.queue = u.queue[1:]
		l.mu.Unlock()
		send(next.msgs)
		close(next.done)
		l.mu.Lock()
	}
	u.draining = false
	delete(l.users, p.user)
	l.mu.Unlock()
	select { // p was queued behind messages another goroutine holds: impossible, but never hang
	case <-p.done:
	case <-ctx.Done():
	}
}
