package sqlstore

import (
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/heraldhq/herald"
)

// columns is the select list scanNotification reads.
const columns = `id, seq, user_id, type, title, message, link, data, read_at, created_at, idempotency_key, silent`

// scanNotification reads a row selected with columns, plus extra.
func scanNotification(r scanner, extra ...any) (*herald.Notification, error) {
	var n herald.Notification
	dest := append([]any{&n.ID, &n.Seq, &n.UserID, &n.Type, &n.Title, &n.Message, &n.Link, nullBytes{&n.Data},
		nullTm{&n.ReadAt}, tm{&n.CreatedAt}, nullStr{&n.IdempotencyKey}, &n.Silent}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	n.Read = n.ReadAt != nil
	n.Timestamp = n.CreatedAt
	return &n, nil
}

// Bulk rows of the create path.
var (
	notificationCols = []Col{{"id", "uuid"}, {"user_id", "text"}, {"seq", "bigint"}, {"type", "text"}, {"title", "text"},
		{"message", "text"}, {"link", "text"}, {"data", "json"}, {"read_at", "timestamptz"}, {"created_at", "timestamptz"},
		{"idempotency_key", "text"}, {"silent", "boolean"}}
	deliveryCols = []Col{{"id", "uuid"}, {"notification_id", "uuid"}, {"user_id", "text"}, {"type", "text"}, {"channel", "text"},
		{"kind", "text"}, {"target", "text"}, {"unless_read", "boolean"}, {"status", "text"}, {"attempts", "integer"},
		{"due_at", "timestamptz"}, {"last_error", "text"}, {"created_at", "timestamptz"}, {"updated_at", "timestamptz"}, {"critical", "boolean"}}
	counterCols = []Col{{"user_id", "text"}, {"last_seq", "bigint"}, {"unread", "bigint"}, {"version", "bigint"}}
	keyCols     = []Col{{"user_id", "text"}, {"idempotency_key", "text"}}
	idCols      = []Col{{"id", "uuid"}}
	userCols    = []Col{{"user_id", "text"}}
)

// The statements of the create path; %s is the bulk row source.
const (
	insertNotifications = `INSERT INTO notifications (id, user_id, seq, type, title, message, link, data, read_at, created_at,
		idempotency_key, silent) %s`
	insertDeliveries = `INSERT INTO deliveries (id, notification_id, user_id, type, channel, kind, target, unless_read,
		status, attempts, due_at, last_error, created_at, updated_at, critical) %s`
	// bumpCounters reserves a run of seqs per user, adds the new unread
	// notifications to the count and moves the version when the count moved,
	// returning what the change left. Rows come sorted by user, so that
	// concurrent creates lock counter rows in one order.
	bumpCounters = `INSERT INTO user_seqs (user_id, last_seq, unread, version) %s
		ON CONFLICT (user_id) DO UPDATE SET last_seq = user_seqs.last_seq + excluded.last_seq,
			unread = user_seqs.unread + excluded.unread, version = user_seqs.version + excluded.version
		RETURNING user_id, last_seq, unread, version`
	storedKeys = `SELECT ` + columns + ` FROM notifications WHERE (user_id, idempotency_key) IN (%s)`
	takenIDs   = `SELECT id FROM notifications WHERE id IN (%s)`
)

// errKeyRace says another transaction stored one of the group's idempotency
// keys after it looked: running again finds it. errIDTaken says a supplied
// id was taken the same way.
var (
	errKeyRace = errors.New("sqlstore: idempotency key race")
	errIDTaken = errors.New("sqlstore: notification id taken")
)

// requestError is the failure of one request of a group; the others may be
// committed without it.
type requestError struct {
	request int
	err     error
}

func (e *requestError) Error() string { return e.err.Error() }

// createIn stores the notifications of reqs inside c's transaction, stamped
// now, and sets each request's results. A notification whose key an earlier
// request of the group (or an earlier one of its own) stored is a replay of
// it, as if that request had committed first, which it does. Each request
// gets consecutive seqs per user and its own count version, in request
// order, as if the requests had committed one after the other.
//
// It only reads the requests' notifications. When one request cannot be
// stored, it returns a *requestError naming it.
func (s *Store) createIn(c conn, reqs []*createReq, now time.Time) error {
	type ref struct{ req, i int }
	stored, err := s.storedByKey(c, reqs)
	if err != nil {
		return err
	}
	firstKey := make(map[[2]string]ref)
	firstID := make(map[string]int) // supplied id -> its request
	var dups [][2]ref               // in-group duplicate, its first occurrence
	var supplied []string
	for r, req := range reqs {
		req.res = make([]herald.Created, len(req.ns))
		for i, in := range req.ns {
			if in.IdempotencyKey != "" {
				k := [2]string{in.UserID, in.IdempotencyKey}
				if n := stored[k]; n != nil {
					cp := *n
					if n.Data != nil {
						cp.Data = append([]byte(nil), n.Data...)
					}
					req.res[i] = herald.Created{Notification: &cp, Replayed: true}
					continue
				}
				if first, ok := firstKey[k]; ok {
					dups = append(dups, [2]ref{{r, i}, first})
					continue
				}
				firstKey[k] = ref{r, i}
			}
			id, err := notificationID(in.ID)
			if err != nil {
				return &requestError{r, err}
			}
			if in.ID != "" {
				if other, ok := firstID[id]; ok {
					return &requestError{max(r, other), herald.Errorf(herald.ECONFLICT, "notification %s already exists", id)}
				}
				firstID[id] = r
				supplied = append(supplied, id)
			}
			req.res[i] = herald.Created{Notification: &herald.Notification{
				ID: id, UserID: in.UserID, Type: in.Type, Title: in.Title, Message: in.Message, Link: in.Link,
				Data: in.Data, IdempotencyKey: in.IdempotencyKey, CreatedAt: now, Timestamp: now,
			}}
		}
	}
	if len(supplied) > 0 {
		if err := s.checkIDs(c, supplied, firstID); err != nil {
			return err
		}
	}
	planned, err := s.plan(c, reqs, now)
	if err != nil {
		return err
	}
	if err := s.countIn(c, reqs); err != nil {
		return err
	}
	if err := s.insertIn(c, reqs, planned, now); err != nil {
		return err
	}
	for _, d := range dups {
		dup, first := d[0], d[1]
		n := *reqs[first.req].res[first.i].Notification
		n.Data = append([]byte(nil), n.Data...)
		if len(n.Data) == 0 {
			n.Data = nil
		}
		reqs[dup.req].res[dup.i] = herald.Created{Notification: &n, Replayed: true} // a replay plans nothing
	}
	return nil
}

// storedByKey returns the stored notifications whose idempotency keys the
// requests use, by (user, key).
func (s *Store) storedByKey(c conn, reqs []*createReq) (map[[2]string]*herald.Notification, error) {
	var rows [][]any
	seen := map[[2]string]bool{}
	for _, req := range reqs {
		for _, n := range req.ns {
			if k := [2]string{n.UserID, n.IdempotencyKey}; n.IdempotencyKey != "" && !seen[k] {
				seen[k] = true
				rows = append(rows, []any{n.UserID, n.IdempotencyKey})
			}
		}
	}
	out := make(map[[2]string]*herald.Notification)
	_, err := c.bulk(storedKeys, keyCols, rows, nil, nil, func(r scanner) error {
		n, err := scanNotification(r)
		if err == nil {
			out[[2]string{n.UserID, n.IdempotencyKey}] = n
		}
		return err
	})
	return out, err
}

// checkIDs fails the request of a supplied id that a stored notification
// has.
func (s *Store) checkIDs(c conn, ids []string, owner map[string]int) error {
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{id}
	}
	var taken string
	_, err := c.bulk(takenIDs, idCols, rows, nil, nil, func(r scanner) error {
		if taken == "" {
			return r.Scan(&taken)
		}
		return nil
	})
	if err != nil || taken == "" {
		return err
	}
	return &requestError{owner[taken], herald.Errorf(herald.ECONFLICT, "notification %s already exists", taken)}
}

// plan runs each request's Planner on its new notifications, with the
// users' preferences and push targets read in c's transaction, marks
// the silent ones read, and returns the planned deliveries by notification.
func (s *Store) plan(c conn, reqs []*createReq, now time.Time) (map[*herald.Notification][]*herald.Delivery, error) {
	var users []string
	seen := map[string]bool{}
	push := false
	for _, req := range reqs {
		if req.opts.Planner == nil {
			continue
		}
		push = push || req.opts.Planner.UsesPush()
		for _, res := range req.res {
			if n := res.Notification; n != nil && !res.Replayed && !seen[n.UserID] {
				seen[n.UserID] = true
				users = append(users, n.UserID)
			}
		}
	}
	if len(users) == 0 {
		return nil, nil
	}
	prefs, err := s.prefsOf(c, users)
	if err != nil {
		return nil, err
	}
	var (
		subs    map[string][]*herald.PushSubscription
		devices map[string][]*herald.Device
	)
	if push {
		if subs, err = s.subsOf(c, users); err != nil {
			return nil, err
		}
		if devices, err = s.devicesOf(c, users); err != nil {
			return nil, err
		}
	}
	planned := make(map[*herald.Notification][]*herald.Delivery)
	for _, req := range reqs {
		p := req.opts.Planner
		if p == nil {
			continue
		}
		for i, res := range req.res {
			n := res.Notification
			if n == nil || res.Replayed {
				continue
			}
			pr := prefs[n.UserID]
			if pr == nil {
				pr = &herald.Preferences{UserID: n.UserID}
			}
			var targets herald.PushTargets
			if p.UsesPush() {
				targets = herald.PushTargets{Subscriptions: subs[n.UserID], Devices: devices[n.UserID]}
			}
			plan := p.Plan(req.ns[i], pr, targets, now)
			if plan.Silent {
				readAt := now
				n.Read, n.ReadAt, n.Silent = true, &readAt, true
			}
			planned[n] = plan.Deliveries
		}
	}
	return planned, nil
}

// countIn bumps the counter of each user of each request, in request order:
// rounds of one statement each, the first holding every user's first request,
// the next every user's second, and so on, each sorted by user. Usually the
// users of a group are distinct, and it is one statement.
func (s *Store) countIn(c conn, reqs []*createReq) error {
	type bump struct {
		req         int
		user        string
		count, more int64 // notifications, and unread ones
	}
	var rounds [][]*bump
	seen := map[string]int{} // user -> requests so far
	for r, req := range reqs {
		mine := map[string]*bump{}
		var order []*bump
		for _, res := range req.res {
			n := res.Notification
			if n == nil || res.Replayed {
				continue
			}
			b := mine[n.UserID]
			if b == nil {
				b = &bump{req: r, user: n.UserID}
				mine[n.UserID] = b
				order = append(order, b)
			}
			b.count++
			if !n.Silent {
				b.more++
			}
		}
		for _, b := range order {
			k := seen[b.user]
			seen[b.user]++
			if k == len(rounds) {
				rounds = append(rounds, nil)
			}
			rounds[k] = append(rounds[k], b)
		}
	}
	for _, round := range rounds {
		slices.SortFunc(round, func(a, b *bump) int {
			switch {
			case a.user < b.user:
				return -1
			case a.user > b.user:
				return 1
			}
			return 0
		})
		rows := make([][]any, len(round))
		byUser := make(map[string]*bump, len(round))
		for i, b := range round {
			version := int64(0)
			if b.more > 0 {
				version = 1
			}
			rows[i] = []any{b.user, b.count, b.more, version}
			byUser[b.user] = b
		}
		after := make(map[string]herald.Unread, len(round))
		_, err := c.bulk(bumpCounters, counterCols, rows, nil, nil, func(r scanner) error {
			var user string
			var u herald.Unread
			if err := r.Scan(&user, &u.LastSeq, &u.Count, &u.Version); err != nil {
				return err
			}
			after[user] = u
			c.note(user, u)
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range round {
			u, ok := after[b.user]
			if !ok {
				return errors.New("sqlstore: a counter bump returned no row")
			}
			next := u.LastSeq - b.count + 1
			for i := range reqs[b.req].res {
				res := &reqs[b.req].res[i]
				if n := res.Notification; n != nil && !res.Replayed && n.UserID == b.user {
					n.Seq = next
					next++
					res.Unread = u
				}
			}
		}
	}
	return nil
}

// insertIn inserts the new notifications of reqs and their planned
// deliveries, and sets the stored deliveries in the results.
func (s *Store) insertIn(c conn, reqs []*createReq, planned map[*herald.Notification][]*herald.Delivery, now time.Time) error {
	var rows, drows [][]any
	for _, req := range reqs {
		for i := range req.res {
			res := &req.res[i]
			n := res.Notification
			if n == nil || res.Replayed {
				continue
			}
			var readAt any
			if n.ReadAt != nil {
				readAt = *n.ReadAt
			}
			rows = append(rows, []any{n.ID, n.UserID, n.Seq, n.Type, n.Title, n.Message, n.Link, jsonArg(n.Data),
				readAt, now, nullable(n.IdempotencyKey), n.Silent})
			for _, p := range planned[n] {
				d := &herald.Delivery{
					ID: herald.NewID(), NotificationID: n.ID, UserID: n.UserID, Type: n.Type,
					Channel: p.Channel, Kind: p.Kind, Target: p.Target, UnlessRead: p.UnlessRead, Critical: p.Critical,
					Status: herald.DeliveryPending, DueAt: utc(p.DueAt), CreatedAt: now, UpdatedAt: now,
				}
				res.Deliveries = append(res.Deliveries, d)
				drows = append(drows, []any{d.ID, d.NotificationID, d.UserID, d.Type, string(d.Channel), string(d.Kind),
					d.Target, d.UnlessRead, string(d.Status), 0, d.DueAt, "", now, now, d.Critical})
			}
		}
	}
	if _, err := c.bulk(insertNotifications, notificationCols, rows, nil, nil, nil); err != nil {
		switch {
		case s.unique(err, "notifications_user_key"):
			return errKeyRace
		case s.unique(err, "notifications_pkey"):
			return errIDTaken
		}
		return err
	}
	_, err := c.bulk(insertDeliveries, deliveryCols, drows, nil, nil, nil)
	return err
}

// prefsOf returns the saved preferences of users, by user; a user without
// is absent.
func (s *Store) prefsOf(c conn, users []string) (map[string]*herald.Preferences, error) {
	if out, ok := s.mem.prefsNow().of(users); ok {
		return out, nil
	}
	out := make(map[string]*herald.Preferences)
	_, err := c.bulk(`SELECT `+preferenceColumns+` FROM user_preferences WHERE user_id IN (%s)`, userCols, userRows(users), nil, nil,
		func(r scanner) error {
			p, err := scanPreferences(r)
			if err == nil {
				out[p.UserID] = p
			}
			return err
		})
	return out, err
}

// subsOf returns the push subscriptions of users, oldest first, by user.
func (s *Store) subsOf(c conn, users []string) (map[string][]*herald.PushSubscription, error) {
	out := make(map[string][]*herald.PushSubscription)
	_, err := c.bulk(`SELECT `+subscriptionColumns+` FROM push_subscriptions WHERE user_id IN (%s) ORDER BY user_id, created_at, id`,
		userCols, userRows(users), nil, nil, func(r scanner) error {
			sub, err := scanSubscription(r)
			if err == nil {
				out[sub.UserID] = append(out[sub.UserID], sub)
			}
			return err
		})
	return out, err
}

// userRows returns users as bulk rows of userCols.
func userRows(users []string) [][]any {
	rows := make([][]any, len(users))
	for i, u := range users {
		rows[i] = []any{u}
	}
	return rows
}

// marshalTypes encodes the types of p as the JSON the schema stores.
func marshalTypes(p *herald.Preferences) (string, error) {
	if len(p.Types) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(p.Types)
	return string(b), err
}
