package sqlstore

import (
	"context"
	"sort"
	"time"

	"github.com/heraldhq/herald"
)

var (
	errDeliveryNotFound = herald.Errorf(herald.ENOTFOUND, "delivery not found")
	errClaimLost        = herald.Errorf(herald.ECONFLICT, "the delivery is no longer held by this attempt")
)

// digestLock is the advisory lock key that serialises digest claims, so two
// nodes never split one user's digest between them.
const digestLock int64 = 0x68657261_6c64_0100 // "herald", 0x100

// deliveryColumns is the select list scanDelivery reads.
const deliveryColumns = `d.id, d.notification_id, d.user_id, d.type, d.channel, d.kind, d.target, d.unless_read,
	d.status, d.attempts, d.due_at, d.lease_until, d.last_error, d.created_at, d.updated_at, d.sent_at, d.critical`

// live is the condition of a row waiting for an attempt.
const live = `d.status IN ('pending', 'failed')`

// scanDelivery reads deliveryColumns, plus extra.
func scanDelivery(r scanner, extra ...any) (*herald.Delivery, error) {
	var (
		d                 herald.Delivery
		channel, kind, st string
	)
	dest := append([]any{&d.ID, &d.NotificationID, &d.UserID, &d.Type, &channel, &kind, &d.Target, &d.UnlessRead,
		&st, &d.Attempts, tm{&d.DueAt}, nullTm{&d.LeaseUntil}, &d.LastError, tm{&d.CreatedAt}, tm{&d.UpdatedAt}, nullTm{&d.SentAt}, &d.Critical}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	d.Channel, d.Kind, d.Status = herald.Channel(channel), herald.DeliveryKind(kind), herald.DeliveryStatus(st)
	return &d, nil
}

// joined scans the notification columns of a claim's LEFT JOIN.
type joined struct {
	exists bool
	n      herald.Notification
	seq    *int64
	silent *bool
}

func (j *joined) dest() []any {
	n := &j.n
	return []any{&j.exists, nullStr{&n.ID}, &j.seq, nullStr{&n.UserID}, nullStr{&n.Type}, nullStr{&n.Title}, nullStr{&n.Message},
		nullStr{&n.Link}, nullBytes{&n.Data}, nullTm{&n.ReadAt}, optTm{&n.CreatedAt}, nullStr{&n.IdempotencyKey}, &j.silent}
}

// notification returns the joined notification, or nil when it is gone.
func (j *joined) notification() *herald.Notification {
	if !j.exists {
		return nil
	}
	n := j.n
	if j.seq != nil {
		n.Seq = *j.seq
	}
	n.Silent = j.silent != nil && *j.silent
	n.Read = n.ReadAt != nil
	n.Timestamp = n.CreatedAt
	return &n
}

// ClaimDeliveries leases up to limit due deliveries; see herald.DeliveryStore.
// On PostgreSQL rows are locked with SKIP LOCKED, so workers on several nodes
// claim disjoint sets without waiting on each other.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*herald.Delivery, error) {
	if limit <= 0 {
		return []*herald.Delivery{}, nil
	}
	return s.claim(ctx, now, lease, limit, false)
}

// ClaimDigest leases every due digest item of the most overdue user, under
// a lock that keeps one user's digest from being split between workers (on
// PostgreSQL an advisory lock; SQLite's single writer is one). A user whose
// due items were all read has them cancelled, and the next user is tried.
func (s *Store) ClaimDigest(ctx context.Context, now time.Time, lease time.Duration) ([]*herald.Delivery, error) {
	return s.claim(ctx, now, lease, -1, true)
}

// claim runs one claim in a transaction. limit < 0 claims every match (of
// one user, for a digest). Candidates whose notification is gone, or read
// when UnlessRead, are cancelled on the way.
func (s *Store) claim(ctx context.Context, now time.Time, lease time.Duration, limit int, digest bool) ([]*herald.Delivery, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	if lease <= 0 {
		return nil, herald.Errorf(herald.EINVALID, "a claim needs a positive lease")
	}
	now = utc(now)
	until := now.Add(lease)
	lock := ""
	if s.d.ForUpdate != "" {
		lock = s.d.ForUpdate + " OF d" + s.d.SkipLocked
	}
	out := []*herald.Delivery{}
	err := s.inTx(ctx, func(c conn) error {
		if digest && s.d.AdvisoryLock != "" {
			if _, err := c.exec(s.d.AdvisoryLock, digestLock); err != nil {
				return err
			}
		}
		scope, args := ` AND d.kind <> 'digest'`, []any{}
		for {
			if digest {
				var user string
				err := c.queryRow(`SELECT d.user_id FROM deliveries d WHERE `+live+` AND d.kind = 'digest'
					AND d.due_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
					ORDER BY d.due_at, d.id LIMIT 1`, now, now).Scan(&user)
				if isNoRows(err) {
					return nil
				}
				if err != nil {
					return err
				}
				scope, args = ` AND d.kind = 'digest' AND d.user_id = ?`, []any{user}
			}
			before := len(out)
			for {
				batch := 64
				if limit > 0 {
					batch = limit - len(out)
				}
				found, err := s.candidates(c, now, scope, args, batch, lock)
				if err != nil {
					return err
				}
				claimed, err := s.lease(c, found, now, until)
				if err != nil {
					return err
				}
				out = append(out, claimed...)
				if len(found) < batch || (limit > 0 && len(out) >= limit) {
					break
				}
			}
			// One user's digest, or nothing more to claim; a user whose
			// items were all cancelled makes room for the next.
			if !digest || len(out) > before {
				return nil
			}
		}
	})
	if err != nil {
		return nil, s.fail("claim deliveries", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DueAt.Before(out[j].DueAt) })
	return out, nil
}

// candidates returns up to batch due deliveries of scope, oldest due first,
// with their notifications, locked with lock.
func (s *Store) candidates(c conn, now time.Time, scope string, args []any, batch int, lock string) ([]*herald.Delivery, error) {
	rows, err := c.query(`SELECT `+deliveryColumns+`, n.id IS NOT NULL, n.id, n.seq, n.user_id, n.type, n.title, n.message,
			n.link, n.data, n.read_at, n.created_at, n.idempotency_key, n.silent
		FROM deliveries d LEFT JOIN notifications n ON n.id = d.notification_id
		WHERE `+live+` AND d.due_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)`+scope+`
		ORDER BY d.due_at, d.id LIMIT ?`+lock, append(append([]any{now, now}, args...), batch)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []*herald.Delivery
	for rows.Next() {
		var j joined
		d, err := scanDelivery(rows, j.dest()...)
		if err != nil {
			return nil, err
		}
		d.Notification = j.notification()
		found = append(found, d)
	}
	return found, rows.Err()
}

// lease claims found, cancelling those no longer wanted, and returns the
// claimed ones.
func (s *Store) lease(c conn, found []*herald.Delivery, now, until time.Time) ([]*herald.Delivery, error) {
	var claimed []*herald.Delivery
	var ids [][]any
	for _, d := range found {
		if reason := cancelReason(d); reason != "" {
			if _, err := c.exec(`UPDATE deliveries SET status = 'cancelled', lease_until = NULL, last_error = ?, updated_at = ?
				WHERE id = ?`, reason, now, d.ID); err != nil {
				return nil, err
			}
			continue
		}
		d.Attempts++
		l := until
		d.LeaseUntil, d.UpdatedAt = &l, now
		claimed = append(claimed, d)
		ids = append(ids, []any{d.ID})
	}
	if _, err := c.bulk(`UPDATE deliveries SET attempts = attempts + 1, lease_until = ?, updated_at = ? WHERE id IN (%s)`,
		idCols, ids, []any{s.d.arg(until), s.d.arg(now)}, nil, nil); err != nil {
		return nil, err
	}
	return claimed, nil
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

// FinishDelivery records the outcome of attempt number attempt.
func (s *Store) FinishDelivery(ctx context.Context, id string, attempt int, r herald.DeliveryResult) error {
	if err := s.enter(); err != nil {
		return err
	}
	if _, ok := lookupID(id); !ok {
		return errDeliveryNotFound
	}
	at := utc(r.At)
	var sent, due any
	switch r.Status {
	case herald.DeliverySent:
		sent = s.d.arg(at)
	case herald.DeliveryFailed:
		due = s.d.arg(utc(r.RetryAt))
	}
	n, err := s.write(ctx).execN(`UPDATE deliveries SET status = ?, lease_until = NULL, last_error = ?, updated_at = ?,
		sent_at = coalesce(?, sent_at), due_at = coalesce(?, due_at)
		WHERE id = ? AND attempts = ? AND status IN ('pending', 'failed')`,
		string(r.Status), r.Error, at, sent, due, id, attempt)
	if err != nil {
		return s.fail("finish delivery", err)
	}
	if n == 1 {
		return nil
	}
	var one int
	err = s.read(ctx).queryRow(`SELECT 1 FROM deliveries WHERE id = ?`, id).Scan(&one)
	switch {
	case isNoRows(err):
		return errDeliveryNotFound
	case err != nil:
		return s.fail("finish delivery", err)
	}
	return errClaimLost
}

// CancelUnread cancels userID's pending UnlessRead deliveries of read or
// deleted notifications (of notificationID only, when set).
func (s *Store) CancelUnread(ctx context.Context, userID, notificationID string, at time.Time) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	q := `UPDATE deliveries SET status = 'cancelled', last_error = 'read in the app', updated_at = ?
		WHERE user_id = ? AND unless_read = ? AND status IN ('pending', 'failed') AND (lease_until IS NULL OR lease_until <= ?)
		AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = deliveries.notification_id AND n.read_at IS NULL)`
	at = utc(at)
	args := []any{at, userID, true, at}
	if notificationID != "" {
		id, ok := lookupID(notificationID)
		if !ok {
			return 0, nil
		}
		q += ` AND notification_id = ?`
		args = append(args, id)
	}
	n, err := s.write(ctx).execN(q, args...)
	if err != nil {
		return 0, s.fail("cancel deliveries", err)
	}
	return int(n), nil
}

// FindDeliveries returns the deliveries f selects, newest first.
func (s *Store) FindDeliveries(ctx context.Context, f herald.DeliveryFilter) ([]*herald.Delivery, error) {
	if err := s.enter(); err != nil {
		return nil, err
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
	q := `SELECT ` + deliveryColumns + ` FROM deliveries d WHERE 1 = 1`
	var args []any
	if f.UserID != "" {
		q += ` AND d.user_id = ?`
		args = append(args, f.UserID)
	}
	if f.NotificationID != "" {
		id, ok := lookupID(f.NotificationID)
		if !ok {
			return out, nil
		}
		q += ` AND d.notification_id = ?`
		args = append(args, id)
	}
	if f.Status != "" {
		q += ` AND d.status = ?`
		args = append(args, string(f.Status))
	}
	if f.Before != "" {
		id, ok := lookupID(f.Before)
		if !ok {
			return nil, herald.Errorf(herald.EINVALID, "before must be a delivery id")
		}
		q += ` AND d.id < ?`
		args = append(args, id)
	}
	rows, err := s.read(ctx).query(q+` ORDER BY d.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, s.fail("find deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, s.fail("find deliveries", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("find deliveries", err)
	}
	return out, nil
}

// CountDeliveries counts pending, failed and dead deliveries.
func (s *Store) CountDeliveries(ctx context.Context) (map[herald.DeliveryStatus]int, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	out := map[herald.DeliveryStatus]int{herald.DeliveryPending: 0, herald.DeliveryFailed: 0, herald.DeliveryDead: 0}
	rows, err := s.read(ctx).query(`SELECT status, count(*) FROM deliveries WHERE status IN ('pending', 'failed', 'dead') GROUP BY status`)
	if err != nil {
		return nil, s.fail("count deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, s.fail("count deliveries", err)
		}
		out[herald.DeliveryStatus(st)] = int(n)
	}
	return out, s.fail("count deliveries", rows.Err())
}

// PurgeDeliveries deletes finished deliveries last updated before before.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	n, err := s.write(ctx).execN(`DELETE FROM deliveries WHERE status IN ('sent', 'cancelled', 'dead') AND updated_at < ?`, utc(before))
	if err != nil {
		return 0, s.fail("purge deliveries", err)
	}
	return int(n), nil
}
