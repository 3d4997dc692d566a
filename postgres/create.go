package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/heraldhq/herald"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// columns is the select list scanNotification reads.
const columns = `id::text, seq, user_id, type, title, message, link, data::text, read_at, created_at, idempotency_key, silent`

// maxAttempts bounds the retries of a create that lost a race for an
// idempotency key.
const maxAttempts = 5

// errKeyRace says another transaction stored one of the batch's idempotency
// keys after this one looked: running again finds it.
var errKeyRace = errors.New("postgres: idempotency key race")

// CreateNotifications stores ns in one transaction; see herald.Store.
func (s *Store) CreateNotifications(ctx context.Context, ns []*herald.NewNotification, opts herald.CreateOptions) ([]herald.Created, error) {
	for i, n := range ns {
		if n == nil {
			return nil, herald.Errorf(herald.EINVALID, "notification %d is missing", i)
		}
		if n.ID != "" {
			if _, ok := lookupID(n.ID); !ok {
				return nil, herald.Errorf(herald.EINVALID, "notification id must be a UUID")
			}
		}
	}
	if s.closed.Load() {
		return nil, errClosed
	}
	if len(ns) == 0 {
		return []herald.Created{}, nil
	}
	// Until creates share a commit loop, one at a time per node: Committed
	// must see them in commit order.
	s.createMu.Lock()
	defer s.createMu.Unlock()
	for attempt := 1; ; attempt++ {
		res, err := s.create(ctx, ns, opts.Planner)
		if errors.Is(err, errKeyRace) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return nil, storeError("create notifications", err)
		}
		if opts.Committed != nil {
			opts.Committed(res)
		}
		return res, nil
	}
}

// create runs one attempt. It reads ns only.
//
// It needs no explicit transaction: looking up idempotency keys only reads,
// and one statement reserves the seqs and inserts every new notification, all
// or nothing. The counter rows that statement locks stay locked until it
// commits, so a user's notifications commit in seq order. Without keys, a
// create is one round trip.
func (s *Store) create(ctx context.Context, ns []*herald.NewNotification, planner herald.Planner) ([]herald.Created, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	out := make([]herald.Notification, len(ns))
	planned := make([][]*herald.Delivery, len(ns))
	created := make([]bool, len(ns))
	res := make([]herald.Created, len(ns))

	stored, err := s.storedByKey(ctx, ns)
	if err != nil {
		return nil, err
	}
	type userPlanning struct {
		prefs *herald.Preferences
		subs  []*herald.PushSubscription
	}
	users := map[string]*userPlanning{}
	firstKey := make(map[[2]string]int) // (user, key) -> first new notification with it
	dupOf := make(map[int]int)          // in-batch duplicate -> its first occurrence
	for i, in := range ns {
		if in.IdempotencyKey != "" {
			k := [2]string{in.UserID, in.IdempotencyKey}
			if st, ok := stored[k]; ok {
				res[i] = herald.Created{Notification: st, Replayed: true}
				continue
			}
			if j, ok := firstKey[k]; ok {
				dupOf[i] = j
				continue
			}
			firstKey[k] = i
		}
		id, err := notificationID(in.ID)
		if err != nil {
			return nil, err
		}
		out[i] = herald.Notification{
			ID: id, UserID: in.UserID, Type: in.Type, Title: in.Title, Message: in.Message, Link: in.Link,
			Data: in.Data, IdempotencyKey: in.IdempotencyKey, CreatedAt: now, Timestamp: now,
		}
		if planner != nil {
			u := users[in.UserID]
			if u == nil {
				u = &userPlanning{}
				if u.prefs, err = s.FindPreferences(ctx, in.UserID); err != nil {
					return nil, err
				}
				if planner.UsesPush() {
					if u.subs, err = s.FindPushSubscriptions(ctx, in.UserID); err != nil {
						return nil, err
					}
				}
				users[in.UserID] = u
			}
			plan := planner.Plan(in, u.prefs, u.subs, now)
			if plan.Silent {
				readAt := now
				out[i].Read, out[i].ReadAt, out[i].Silent = true, &readAt, true
			}
			planned[i] = plan.Deliveries
		}
		created[i] = true
	}
	if err := s.insertWithDeliveries(ctx, out, planned, created, res, now); err != nil { // delivery.go
		return nil, err
	}
	for i := range out {
		if created[i] {
			n := out[i]
			res[i].Notification = &n
		}
	}
	for i, j := range dupOf {
		n := *res[j].Notification
		if n.Data != nil {
			n.Data = append([]byte(nil), n.Data...)
		}
		res[i] = herald.Created{Notification: &n, Replayed: true} // a replay plans nothing
	}
	return res, nil
}

// storedByKey returns the stored notifications whose idempotency keys ns use.
func (s *Store) storedByKey(ctx context.Context, ns []*herald.NewNotification) (map[[2]string]*herald.Notification, error) {
	var users, keys []string
	for _, n := range ns {
		if n.IdempotencyKey != "" {
			users = append(users, n.UserID)
			keys = append(keys, n.IdempotencyKey)
		}
	}
	stored := make(map[[2]string]*herald.Notification)
	if len(keys) == 0 {
		return stored, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM notifications
		WHERE (user_id, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, users, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		stored[[2]string{n.UserID, n.IdempotencyKey}] = n
	}
	return stored, rows.Err()
}

// insertSQL reserves a run of seqs per user, adds the new notifications to
// the user's unread count and inserts them, in one statement. Counter rows are
// locked in user_id order, and before any notification is written, so
// concurrent creates touching the same users cannot deadlock (nor with reads
// and deletes, see counterFirst). Each user's notifications take its seqs in
// input order. It returns the seq of each input row.
const insertSQL = `
WITH input AS (
	SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $11::bool[])
		AS t(ord, id, user_id, type, title, message, link, data, key, silent)
), counts AS (
	SELECT user_id, count(*) AS n, count(*) FILTER (WHERE NOT silent) AS u FROM input GROUP BY user_id
), seqs AS (
	INSERT INTO user_seqs (user_id, last_seq, unread, version)
	SELECT user_id, n, u, (u > 0)::int FROM counts ORDER BY user_id
	ON CONFLICT (user_id) DO UPDATE SET last_seq = user_seqs.last_seq + excluded.last_seq,
		unread = user_seqs.unread + excluded.unread, version = user_seqs.version + excluded.version
	RETURNING user_id, last_seq, unread, version
), numbered AS MATERIALIZED (
	SELECT i.*, s.last_seq - c.n + row_number() OVER (PARTITION BY i.user_id ORDER BY i.ord) AS seq,
		s.unread, s.version, s.last_seq
	FROM input i JOIN seqs s USING (user_id) JOIN counts c USING (user_id)
), inserted AS (
	INSERT INTO notifications (id, user_id, seq, type, title, message, link, data, created_at, idempotency_key, silent, read_at)
	SELECT id::uuid, user_id, seq, type, title, message, link, data::json, $10, key, silent, CASE WHEN silent THEN $10::timestamptz END
	FROM numbered
)
SELECT ord, seq, unread, version, last_seq FROM numbered`

// insert stores the new notifications of out through q and sets their seqs,
// and each one's Unread in res.
func (s *Store) insert(ctx context.Context, q querier, out []herald.Notification, created []bool, res []herald.Created, now time.Time) error {
	var (
		ords                                       []int32
		ids, users, types, titles, messages, links []string
		data, keys                                 []*string
		silent                                     []bool
	)
	for i := range out {
		if !created[i] {
			continue
		}
		n := &out[i]
		ords = append(ords, int32(i))
		ids = append(ids, n.ID)
		users = append(users, n.UserID)
		types = append(types, n.Type)
		titles = append(titles, n.Title)
		messages = append(messages, n.Message)
		links = append(links, n.Link)
		data = append(data, nullable(string(n.Data)))
		keys = append(keys, nullable(n.IdempotencyKey))
		silent = append(silent, n.Silent)
	}
	if len(ords) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, insertSQL, ords, ids, users, types, titles, messages, links, data, keys, now, silent)
	if err != nil {
		return insertError(err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var ord int32
		var seq int64
		var u herald.Unread
		if err := rows.Scan(&ord, &seq, &u.Count, &u.Version, &u.LastSeq); err != nil {
			return err
		}
		if ord < 0 || int(ord) >= len(out) || !created[ord] {
			return errors.New("postgres: insert returned an unknown row")
		}
		out[ord].Seq = seq
		res[ord].Unread = u
		got++
	}
	if err := rows.Err(); err != nil {
		return insertError(err)
	}
	if got != len(ords) {
		return errors.New("postgres: insert returned too few rows")
	}
	return nil
}

// insertError tells a lost idempotency-key race and a taken id from other
// failures.
func insertError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
		switch pgErr.ConstraintName {
		case "notifications_user_key":
			return errKeyRace
		case "notifications_pkey":
			return herald.Errorf(herald.ECONFLICT, "a notification with that id already exists")
		}
	}
	return err
}

// nullable stores an empty string as NULL.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// scanNotification reads a row selected with columns.
func scanNotification(row pgx.Row) (*herald.Notification, error) {
	var (
		n      herald.Notification
		data   *string
		readAt *time.Time
		key    *string
	)
	err := row.Scan(&n.ID, &n.Seq, &n.UserID, &n.Type, &n.Title, &n.Message, &n.Link, &data, &readAt, &n.CreatedAt, &key, &n.Silent)
	if err != nil {
		return nil, err
	}
	if data != nil {
		n.Data = []byte(*data)
	}
	if readAt != nil {
		t := readAt.UTC()
		n.Read, n.ReadAt = true, &t
	}
	n.CreatedAt = n.CreatedAt.UTC()
	n.Timestamp = n.CreatedAt
	if key != nil {
		n.IdempotencyKey = *key
	}
	return &n, nil
}

// notificationID returns id in canonical form, or a new id when it is empty.
func notificationID(id string) (string, error) {
	if id == "" {
		return herald.NewID(), nil
	}
	return herald.ParseID(id)
}

// lookupID returns id in canonical form; ok is false when it is no UUID and so
// names no notification.
func lookupID(id string) (string, bool) {
	c, err := herald.ParseID(id)
	return c, err == nil
}
