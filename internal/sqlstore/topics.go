package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/heraldhq/herald"
)

var errNoSend = herald.Errorf(herald.ENOTFOUND, "topic notification not found")

// memberCols are the bulk rows of AddTopicMembers.
var memberCols = []Col{{"topic", "text"}, {"user_id", "text"}, {"added_at", "timestamptz"}}

// distinct returns ids without repeats, sorted, so that writers lock rows
// in one order.
func distinct(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// AddTopicMembers adds userIDs to topic; see herald.TopicStore.
func (s *Store) AddTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	now := utc(s.now())
	var rows [][]any
	for _, u := range distinct(userIDs) {
		rows = append(rows, []any{topic, u, now})
	}
	var n int64
	err := s.inTx(ctx, func(c conn) error {
		var err error
		n, err = c.bulk(`INSERT INTO topic_members (topic, user_id, added_at) %s ON CONFLICT (topic, user_id) DO NOTHING`,
			memberCols, rows, nil, nil, nil)
		return err
	})
	if err != nil {
		return 0, s.fail("add topic members", err)
	}
	return int(n), nil
}

// RemoveTopicMembers removes userIDs from topic; see herald.TopicStore.
func (s *Store) RemoveTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	var n int64
	err := s.inTx(ctx, func(c conn) error {
		var err error
		n, err = c.bulk(`DELETE FROM topic_members WHERE topic = ? AND user_id IN (%s)`, userCols, userRows(distinct(userIDs)),
			[]any{topic}, nil, nil)
		return err
	})
	if err != nil {
		return 0, s.fail("remove topic members", err)
	}
	return int(n), nil
}

// FindTopicMembers returns a page of topic's members; see herald.TopicStore.
func (s *Store) FindTopicMembers(ctx context.Context, topic, after string, limit int) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	members, err := members(s.read(ctx), topic, after, limit)
	return members, s.fail("find topic members", err)
}

// members returns up to limit members of topic after after, in order.
func members(c conn, topic, after string, limit int) ([]string, error) {
	rows, err := c.query(`SELECT user_id FROM topic_members WHERE topic = ? AND user_id > ? ORDER BY user_id LIMIT ?`, topic, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// sendColumns is the select list scanSend reads.
const sendColumns = `id, topic, idempotency_key, type, title, message, link, data, critical, members, delivered, after_user,
	status, created_at, updated_at`

// scanSend reads sendColumns; after is the fan-out's cursor.
func scanSend(r scanner, after *string) (*herald.TopicSend, error) {
	var (
		t      herald.TopicSend
		n      = &t.Notification
		status string
	)
	err := r.Scan(&t.ID, &t.Topic, nullStr{&n.IdempotencyKey}, &n.Type, &n.Title, &n.Message, &n.Link, nullBytes{&n.Data},
		&n.Critical, &t.Members, &t.Delivered, after, &status, tm{&t.CreatedAt}, tm{&t.UpdatedAt})
	if err != nil {
		return nil, err
	}
	t.Status = herald.TopicSendStatus(status)
	return &t, nil
}

// CreateTopicSend stores t as pending, or finds the send of its key; see
// herald.TopicStore. A topic without members is done at once.
func (s *Store) CreateTopicSend(ctx context.Context, t *herald.TopicSend) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	key := t.Notification.IdempotencyKey
	for attempt := 1; ; attempt++ {
		replayed := false
		err := s.inTx(ctx, func(c conn) error {
			if key != "" {
				var after string
				stored, err := scanSend(c.queryRow(`SELECT `+sendColumns+` FROM topic_sends WHERE topic = ? AND idempotency_key = ?`, t.Topic, key), &after)
				if err == nil {
					*t, replayed = *stored, true
					return nil
				}
				if !isNoRows(err) {
					return err
				}
			}
			var members int64
			if err := c.queryRow(`SELECT count(*) FROM topic_members WHERE topic = ?`, t.Topic).Scan(&members); err != nil {
				return err
			}
			now := utc(s.now())
			t.ID, t.Members, t.Delivered = herald.NewID(), int(members), 0
			t.Status, t.CreatedAt, t.UpdatedAt = herald.TopicSendPending, now, now
			if members == 0 {
				t.Status = herald.TopicSendDone
			}
			n := &t.Notification
			_, err := c.exec(`INSERT INTO topic_sends (`+sendColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)`,
				t.ID, t.Topic, nullable(key), n.Type, n.Title, n.Message, n.Link, jsonArg(n.Data), n.Critical,
				t.Members, 0, string(t.Status), now, now)
			return err
		})
		if err != nil && s.unique(err, "topic_sends_key") && attempt < 3 {
			continue // another node stored the key meanwhile: return its send
		}
		return replayed, s.fail("create topic send", err)
	}
}

// FindTopicSend returns the send id of topic; see herald.TopicStore.
func (s *Store) FindTopicSend(ctx context.Context, topic, id string) (*herald.TopicSend, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	id, ok := lookupID(id)
	if !ok {
		return nil, errNoSend
	}
	var after string
	t, err := scanSend(s.read(ctx).queryRow(`SELECT `+sendColumns+` FROM topic_sends WHERE id = ? AND topic = ?`, id, topic), &after)
	switch {
	case isNoRows(err):
		return nil, errNoSend
	case err != nil:
		return nil, s.fail("find topic send", err)
	}
	return t, nil
}

// PendingTopicSends returns the ids of up to limit pending sends, oldest
// first.
func (s *Store) PendingTopicSends(ctx context.Context, limit int) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	rows, err := s.read(ctx).query(`SELECT id FROM topic_sends WHERE status = 'pending' ORDER BY created_at, id LIMIT ?`, limit)
	if err != nil {
		return nil, s.fail("pending topic sends", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.fail("pending topic sends", err)
		}
		out = append(out, id)
	}
	return out, s.fail("pending topic sends", rows.Err())
}

// FanOutTopicSend creates the send's next chunk of copies; see
// herald.TopicStore. It runs on the commit loop, between groups of creates,
// so its results reach Committed in commit order with theirs.
func (s *Store) FanOutTopicSend(ctx context.Context, id string, limit int, opts herald.CreateOptions) ([]herald.Created, bool, error) {
	if err := s.enter(); err != nil {
		return nil, false, err
	}
	id, ok := lookupID(id)
	if !ok || limit <= 0 {
		return nil, true, nil
	}
	r := &createReq{ctx: ctx, send: id, limit: limit, opts: opts, done: make(chan struct{})}
	if err := s.group.submit(r); err != nil {
		return nil, false, err
	}
	return r.res, r.sendDone, nil
}

// fanOut runs one chunk of r's send in one transaction: it locks the send
// (PostgreSQL, skipping it when another node holds it), creates the copies
// of the next members after its cursor as one create, and moves the cursor.
func (s *Store) fanOut(ctx context.Context, r *createReq, now time.Time) error {
	r.res, r.sendDone = nil, false
	return s.inTx(ctx, func(c conn) error {
		var after string
		t, err := scanSend(c.queryRow(`SELECT `+sendColumns+` FROM topic_sends WHERE id = ?`+s.d.ForUpdate+s.d.SkipLocked, r.send), &after)
		if isNoRows(err) {
			var status string
			err := c.queryRow(`SELECT status FROM topic_sends WHERE id = ?`, r.send).Scan(&status)
			// Gone is done; present is another node's turn.
			r.sendDone = isNoRows(err)
			if r.sendDone {
				return nil
			}
			return err
		}
		if err != nil {
			return err
		}
		if t.Status != herald.TopicSendPending {
			r.sendDone = true
			return nil
		}
		users, err := members(c, t.Topic, after, r.limit)
		if err != nil {
			return err
		}
		req := &createReq{ctx: ctx, opts: r.opts}
		for _, u := range users {
			n := t.Notification
			n.UserID, n.IdempotencyKey = u, ""
			req.ns = append(req.ns, &n)
		}
		if len(users) > 0 {
			if err := s.createIn(c, []*createReq{req}, now); err != nil {
				return err
			}
			after = users[len(users)-1]
		}
		status := herald.TopicSendPending
		if len(users) < r.limit {
			status = herald.TopicSendDone
		}
		if _, err := c.exec(`UPDATE topic_sends SET after_user = ?, delivered = delivered + ?, status = ?, updated_at = ? WHERE id = ?`,
			after, len(users), string(status), now, r.send); err != nil {
			return err
		}
		r.res, r.sendDone = req.res, status == herald.TopicSendDone
		return nil
	})
}
