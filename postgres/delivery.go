package postgres

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	_ herald.DeliveryStore   = (*Store)(nil)
	_ herald.PreferenceStore = (*Store)(nil)

	errDeliveryNotFound = herald.Errorf(herald.ENOTFOUND, "delivery not found")
	errClaimLost        = herald.Errorf(herald.ECONFLICT, "the delivery is no longer held by this attempt")
)

// digestLock is the advisory lock key that serialises digest claims, so two
// nodes never split one user's digest between them.
const digestLock int64 = 0x68657261_6c64_0100 // "herald", 0x100

// querier runs statements on the pool or in a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertWithDeliveries inserts the new notifications of out and, in the same
// transaction, their planned deliveries, setting the stored ones in res.
// Without deliveries it is the plain one-statement insert.
func (s *Store) insertWithDeliveries(ctx context.Context, out []herald.Notification, planned [][]*herald.Delivery, created []bool, res []herald.Created, now time.Time) error {
	some := false
	for i := range out {
		some = some || (created[i] && len(planned[i]) > 0)
	}
	if !some {
		return s.insert(ctx, s.pool, out, created, res, now)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := s.insert(ctx, tx, out, created, res, now); err != nil {
		return err
	}
	var (
		ids, nids, users, types, channels, kinds, targets []string
		unless                                            []bool
		due                                               []time.Time
	)
	stored := make([][]*herald.Delivery, len(out))
	for i := range out {
		n := &out[i]
		if !created[i] {
			continue
		}
		for _, p := range planned[i] {
			d := &herald.Delivery{
				ID: herald.NewID(), NotificationID: n.ID, UserID: n.UserID, Type: n.Type,
				Channel: p.Channel, Kind: p.Kind, Target: p.Target, UnlessRead: p.UnlessRead,
				Status: herald.DeliveryPending, DueAt: p.DueAt.UTC().Truncate(time.Microsecond), CreatedAt: now, UpdatedAt: now,
			}
			stored[i] = append(stored[i], d)
			ids, nids, users, types = append(ids, d.ID), append(nids, d.NotificationID), append(users, d.UserID), append(types, d.Type)
			channels, kinds, targets = append(channels, string(d.Channel)), append(kinds, string(d.Kind)), append(targets, d.Target)
			unless, due = append(unless, d.UnlessRead), append(due, d.DueAt)
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO deliveries (id, notification_id, user_id, type, channel, kind, target, unless_read,
			due_at, status, attempts, last_error, created_at, updated_at)
		SELECT id::uuid, nid::uuid, u, t, c, k, tg, ur, due, 'pending', 0, '', $10, $10
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::timestamptz[])
			AS x(id, nid, u, t, c, k, tg, ur, due)`,
		ids, nids, users, types, channels, kinds, targets, unless, due, now)
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	for i := range out {
		res[i].Deliveries = stored[i]
	}
	return nil
}

// deliveryColumns is the select list scanDelivery reads.
const deliveryColumns = `d.id::text, d.notification_id::text, d.user_id, d.type, d.channel, d.kind, d.target, d.unless_read,
	d.status, d.attempts, d.due_at, d.lease_until, d.last_error, d.created_at, d.updated_at, d.sent_at`

const live = `d.status IN ('pending', 'failed')`

// deliveryRow holds the scanned columns of a delivery.
type deliveryRow struct {
	d                 herald.Delivery
	channel, kind, st string
	lease, sent       *time.Time
}

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.NotificationID, &d.UserID, &d.Type, &r.channel, &r.kind, &d.Target, &d.UnlessRead,
		&r.st, &d.Attempts, &d.DueAt, &r.lease, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &r.sent}
}

func (r *deliveryRow) delivery() *herald.Delivery {
	d := r.d
	d.Channel, d.Kind, d.Status = herald.Channel(r.channel), herald.DeliveryKind(r.kind), herald.DeliveryStatus(r.st)
	d.DueAt, d.CreatedAt, d.UpdatedAt = d.DueAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if r.lease != nil {
		t := r.lease.UTC()
		d.LeaseUntil = &t
	}
	if r.sent != nil {
		t := r.sent.UTC()
		d.SentAt = &t
	}
	return &d
}

// ClaimDeliveries leases up to limit due deliveries; see herald.DeliveryStore.
// Rows are locked with SKIP LOCKED, so workers on several nodes claim
// disjoint sets without waiting on each other.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*herald.Delivery, error) {
	if limit <= 0 {
		return []*herald.Delivery{}, nil
	}
	return s.claim(ctx, now, lease, limit, false)
}

// ClaimDigest leases every due digest item of the most overdue user, under
// an advisory lock so one user's digest is never split between workers. A
// user whose due items were all read has them cancelled, and the next user is
// tried.
func (s *Store) ClaimDigest(ctx context.Context, now time.Time, lease time.Duration) ([]*herald.Delivery, error) {
	return s.claim(ctx, now, lease, -1, true)
}

func (s *Store) claim(ctx context.Context, now time.Time, lease time.Duration, limit int, digest bool) ([]*herald.Delivery, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if lease <= 0 {
		return nil, herald.Errorf(herald.EINVALID, "a claim needs a positive lease")
	}
	now = now.UTC().Truncate(time.Microsecond)
	until := now.Add(lease)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, storeError("claim deliveries", err)
	}
	defer tx.Rollback(ctx)

	scope, args := `AND d.kind <> 'digest'`, []any{now}
	if digest {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, digestLock); err != nil {
			return nil, storeError("claim digest", err)
		}
	}
	out := []*herald.Delivery{}
	for limit < 0 || len(out) < limit {
		if digest {
			var user string
			err := tx.QueryRow(ctx, `SELECT d.user_id FROM deliveries d WHERE `+live+` AND d.kind = 'digest'
				AND d.due_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1)
				ORDER BY d.due_at, d.id LIMIT 1`, now).Scan(&user)
			if errors.Is(err, pgx.ErrNoRows) {
				break
			}
			if err != nil {
				return nil, storeError("claim digest", err)
			}
			scope, args = `AND d.kind = 'digest' AND d.user_id = $2`, []any{now, user}
		}
		batch := 64
		if limit > 0 {
			batch = limit - len(out)
		}
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+`, n.id IS NOT NULL, `+prefixed("n.", columns)+`
			FROM deliveries d LEFT JOIN notifications n ON n.id = d.notification_id
			WHERE `+live+` AND d.due_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1) `+scope+`
			ORDER BY d.due_at, d.id LIMIT `+itoa(batch)+` FOR UPDATE OF d SKIP LOCKED`, args...)
		if err != nil {
			return nil, storeError("claim deliveries", err)
		}
		var found []*herald.Delivery
		for rows.Next() {
			var r deliveryRow
			var exists bool
			var nn nullNotification
			if err := rows.Scan(append(append(r.dest(), &exists), nn.dest()...)...); err != nil {
				rows.Close()
				return nil, storeError("claim deliveries", err)
			}
			d := r.delivery()
			if exists {
				d.Notification = nn.notification()
			}
			found = append(found, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, storeError("claim deliveries", err)
		}
		var claimed, cancelled, reasons []string
		for _, d := range found {
			if reason := cancelReason(d); reason != "" {
				cancelled, reasons = append(cancelled, d.ID), append(reasons, reason)
				continue
			}
			claimed = append(claimed, d.ID)
			d.Attempts++
			l := until
			d.LeaseUntil, d.UpdatedAt = &l, now
			out = append(out, d)
		}
		if len(cancelled) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'cancelled', lease_until = NULL, last_error = x.reason, updated_at = $3
				FROM unnest($1::uuid[], $2::text[]) AS x(id, reason) WHERE deliveries.id = x.id`, cancelled, reasons, now); err != nil {
				return nil, storeError("claim deliveries", err)
			}
		}
		if len(claimed) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, lease_until = $2, updated_at = $3
				WHERE id = ANY($1::uuid[])`, claimed, until, now); err != nil {
				return nil, storeError("claim deliveries", err)
			}
		}
		if digest && (len(out) > 0 || len(found) == 0) {
			break // one user's digest, or rows another transaction holds
		}
		if !digest && len(found) < batch {
			break
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, storeError("claim deliveries", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DueAt.Before(out[j].DueAt) })
	return out, nil
}

// cancelReason says why a claimed candidate is cancelled instead, or "".
func cancelReason(d *herald.Delivery) string {
	switch {
	case d.Notification == nil:
		return "notification deleted"
	case d.UnlessRead && d.Notification.Read:
		return "read in the app"
	}
	return ""
}

// nullNotification scans the notification columns of a LEFT JOIN.
type nullNotification struct {
	id, userID, typ, title, message, link, data, key *string
	seq                                              *int64
	readAt, created                                  *time.Time
	silent                                           *bool
}

func (n *nullNotification) dest() []any {
	return []any{&n.id, &n.seq, &n.userID, &n.typ, &n.title, &n.message, &n.link, &n.data, &n.readAt, &n.created, &n.key, &n.silent}
}

func (n *nullNotification) notification() *herald.Notification {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	out := &herald.Notification{ID: str(n.id), UserID: str(n.userID), Type: str(n.typ), Title: str(n.title),
		Message: str(n.message), Link: str(n.link), IdempotencyKey: str(n.key)}
	if n.seq != nil {
		out.Seq = *n.seq
	}
	out.Silent = n.silent != nil && *n.silent
	if n.data != nil {
		out.Data = []byte(*n.data)
	}
	if n.readAt != nil {
		t := n.readAt.UTC()
		out.Read, out.ReadAt = true, &t
	}
	if n.created != nil {
		out.CreatedAt = n.created.UTC()
		out.Timestamp = out.CreatedAt
	}
	return out
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func itoa(n int) string {
	if n <= 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// FinishDelivery records the outcome of attempt number attempt.
func (s *Store) FinishDelivery(ctx context.Context, id string, attempt int, r herald.DeliveryResult) error {
	if s.closed.Load() {
		return errClosed
	}
	if _, ok := lookupID(id); !ok {
		return errDeliveryNotFound
	}
	at := r.At.UTC()
	var sent, due *time.Time
	switch r.Status {
	case herald.DeliverySent:
		sent = &at
	case herald.DeliveryFailed:
		t := r.RetryAt.UTC()
		due = &t
	}
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = $1, lease_until = NULL, last_error = $2, updated_at = $3,
		sent_at = coalesce($4, sent_at), due_at = coalesce($5, due_at)
		WHERE id = $6 AND attempts = $7 AND status IN ('pending', 'failed')`,
		string(r.Status), r.Error, at, sent, due, id, attempt)
	if err != nil {
		return storeError("finish delivery", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)`, id).Scan(&exists); err != nil {
		return storeError("finish delivery", err)
	}
	if !exists {
		return errDeliveryNotFound
	}
	return errClaimLost
}

// CancelUnread cancels userID's pending UnlessRead deliveries of read or
// deleted notifications.
func (s *Store) CancelUnread(ctx context.Context, userID, notificationID string, at time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	q := `UPDATE deliveries d SET status = 'cancelled', last_error = 'read in the app', updated_at = $1
		WHERE d.user_id = $2 AND d.unless_read AND ` + live + ` AND (d.lease_until IS NULL OR d.lease_until <= $1)
		AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = d.notification_id AND n.read_at IS NULL)`
	args := []any{at.UTC(), userID}
	if notificationID != "" {
		id, ok := lookupID(notificationID)
		if !ok {
			return 0, nil
		}
		q += ` AND d.notification_id = $3`
		args = append(args, id)
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, storeError("cancel deliveries", err)
	}
	return int(tag.RowsAffected()), nil
}

// FindDeliveries returns the deliveries f selects, newest first.
func (s *Store) FindDeliveries(ctx context.Context, f herald.DeliveryFilter) ([]*herald.Delivery, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	out := []*herald.Delivery{}
	if f.UserID == "" && f.NotificationID == "" {
		return out, nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+itoa(len(args))))
	}
	if f.UserID != "" {
		add(`d.user_id = ?`, f.UserID)
	}
	if f.NotificationID != "" {
		id, ok := lookupID(f.NotificationID)
		if !ok {
			return out, nil
		}
		add(`d.notification_id = ?::uuid`, id)
	}
	if f.Status != "" {
		add(`d.status = ?`, string(f.Status))
	}
	if f.Before != "" {
		id, ok := lookupID(f.Before)
		if !ok {
			return nil, herald.Errorf(herald.EINVALID, "before must be a delivery id")
		}
		add(`d.id < ?::uuid`, id)
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE `+strings.Join(conds, " AND ")+
		` ORDER BY d.id DESC LIMIT $`+itoa(len(args)), args...)
	if err != nil {
		return nil, storeError("find deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r deliveryRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, storeError("find deliveries", err)
		}
		out = append(out, r.delivery())
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("find deliveries", err)
	}
	return out, nil
}

// CountDeliveries counts pending, failed and dead deliveries.
func (s *Store) CountDeliveries(ctx context.Context) (map[herald.DeliveryStatus]int, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	out := map[herald.DeliveryStatus]int{herald.DeliveryPending: 0, herald.DeliveryFailed: 0, herald.DeliveryDead: 0}
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM deliveries
		WHERE status IN ('pending', 'failed', 'dead') GROUP BY status`)
	if err != nil {
		return nil, storeError("count deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, storeError("count deliveries", err)
		}
		out[herald.DeliveryStatus(st)] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("count deliveries", err)
	}
	return out, nil
}

// PurgeDeliveries deletes finished deliveries last updated before before.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM deliveries WHERE status IN ('sent', 'cancelled', 'dead') AND updated_at < $1`, before.UTC())
	if err != nil {
		return 0, storeError("purge deliveries", err)
	}
	return int(tag.RowsAffected()), nil
}
