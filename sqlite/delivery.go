package sqlite

import (
	"context"
	"database/sql"
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

var (
	_ herald.DeliveryStore   = (*Store)(nil)
	_ herald.PreferenceStore = (*Store)(nil)

	errDeliveryNotFound = herald.Errorf(herald.ENOTFOUND, "delivery not found")
	errClaimLost        = herald.Errorf(herald.ECONFLICT, "the delivery is no longer held by this attempt")
)

// deliveryColumns is the select list scanDelivery reads.
const deliveryColumns = `d.id, d.notification_id, d.user_id, d.type, d.channel, d.kind, d.target, d.unless_read,
	d.status, d.attempts, d.due_at, d.lease_until, d.last_error, d.created_at, d.updated_at, d.sent_at`

// live is the condition of a row waiting for an attempt.
const live = `d.status IN ('pending', 'failed')`

// insertDeliveries stores the planned deliveries of the new notification n
// inside tx and returns the stored values; the planned ones, which belong to
// the caller, are only read.
func insertDeliveries(ctx context.Context, tx *sql.Tx, n *herald.Notification, planned []*herald.Delivery, now time.Time) ([]*herald.Delivery, error) {
	if len(planned) == 0 {
		return nil, nil
	}
	stored := make([]*herald.Delivery, len(planned))
	for i, p := range planned {
		d := &herald.Delivery{
			ID: herald.NewID(), NotificationID: n.ID, UserID: n.UserID, Type: n.Type,
			Channel: p.Channel, Kind: p.Kind, Target: p.Target, UnlessRead: p.UnlessRead,
			Status: herald.DeliveryPending, DueAt: fromMicros(micros(p.DueAt)), CreatedAt: now, UpdatedAt: now,
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, notification_id, user_id, type, channel, kind, target,
			unless_read, status, attempts, due_at, last_error, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', ?, ?)`,
			d.ID, d.NotificationID, d.UserID, d.Type, string(d.Channel), string(d.Kind), d.Target, d.UnlessRead,
			micros(d.DueAt), micros(now), micros(now))
		if err != nil {
			return nil, err
		}
		stored[i] = d
	}
	return stored, nil
}

// scanDelivery reads deliveryColumns.
func scanDelivery(row scanner, extra ...any) (*herald.Delivery, error) {
	var (
		d                     herald.Delivery
		channel, kind, st     string
		due, created, updated int64
		leaseUntil, sentAt    sql.NullInt64
	)
	dest := append([]any{&d.ID, &d.NotificationID, &d.UserID, &d.Type, &channel, &kind, &d.Target, &d.UnlessRead,
		&st, &d.Attempts, &due, &leaseUntil, &d.LastError, &created, &updated, &sentAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	d.Channel, d.Kind, d.Status = herald.Channel(channel), herald.DeliveryKind(kind), herald.DeliveryStatus(st)
	d.DueAt, d.CreatedAt, d.UpdatedAt = fromMicros(due), fromMicros(created), fromMicros(updated)
	if leaseUntil.Valid {
		t := fromMicros(leaseUntil.Int64)
		d.LeaseUntil = &t
	}
	if sentAt.Valid {
		t := fromMicros(sentAt.Int64)
		d.SentAt = &t
	}
	return &d, nil
}

// ClaimDeliveries leases up to limit due deliveries; see herald.DeliveryStore.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*herald.Delivery, error) {
	if limit <= 0 {
		return []*herald.Delivery{}, nil
	}
	return s.claim(ctx, now, lease, `AND d.kind <> 'digest'`, nil, limit)
}

// ClaimDigest leases every due digest item of the most overdue user. A user
// whose due items were all read has them cancelled, and the next user is tried.
func (s *Store) ClaimDigest(ctx context.Context, now time.Time, lease time.Duration) ([]*herald.Delivery, error) {
	for {
		picked := false
		out, err := s.claim(ctx, now, lease, `AND d.kind = 'digest'`, func(tx *sql.Tx) (string, []any, error) {
			var user string
			err := tx.QueryRowContext(ctx, `SELECT d.user_id FROM deliveries d WHERE `+live+` AND d.kind = 'digest'
				AND d.due_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
				ORDER BY d.due_at, d.id LIMIT 1`, micros(now), micros(now)).Scan(&user)
			if isNoRows(err) {
				return "", nil, nil
			}
			picked = err == nil
			return `AND d.user_id = ?`, []any{user}, err
		}, -1)
		if err != nil || len(out) > 0 || !picked {
			return out, err
		}
	}
}

// claim runs one claim in a write transaction: the single writer makes it
// atomic against every other claim. scope narrows the rows; pick, when set,
// adds a condition chosen inside the transaction ("" claims nothing).
// Candidates whose notification is gone, or read when UnlessRead, are
// cancelled on the way. limit < 0 claims every match.
func (s *Store) claim(ctx context.Context, now time.Time, lease time.Duration, scope string,
	pick func(tx *sql.Tx) (string, []any, error), limit int) ([]*herald.Delivery, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if lease <= 0 {
		return nil, herald.Errorf(herald.EINVALID, "a claim needs a positive lease")
	}
	now = now.UTC()
	at, until := micros(now), micros(now.Add(lease))
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeError("claim deliveries", err)
	}
	defer tx.Rollback()
	var args []any
	if pick != nil {
		cond, extra, err := pick(tx)
		if err != nil {
			return nil, storeError("claim deliveries", err)
		}
		if cond == "" {
			return []*herald.Delivery{}, nil
		}
		scope += " " + cond
		args = extra
	}
	out := []*herald.Delivery{}
	for limit < 0 || len(out) < limit {
		batch := 64
		if limit > 0 {
			batch = limit - len(out)
		}
		q := `SELECT ` + deliveryColumns + `, n.id IS NOT NULL, ` + prefixed("n.", columns) + `
			FROM deliveries d LEFT JOIN notifications n ON n.id = d.notification_id
			WHERE ` + live + ` AND d.due_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?) ` + scope + `
			ORDER BY d.due_at, d.id LIMIT ?`
		rows, err := tx.QueryContext(ctx, q, append(append([]any{at, at}, args...), batch)...)
		if err != nil {
			return nil, storeError("claim deliveries", err)
		}
		var found []*herald.Delivery
		for rows.Next() {
			var exists bool
			var nn nullNotification
			d, err := scanDelivery(rows, append([]any{&exists}, nn.dest()...)...)
			if err != nil {
				rows.Close()
				return nil, storeError("claim deliveries", err)
			}
			if exists {
				d.Notification = nn.notification()
			}
			found = append(found, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, storeError("claim deliveries", err)
		}
		for _, d := range found {
			if reason := cancelReason(d); reason != "" {
				if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'cancelled', lease_until = NULL,
					last_error = ?, updated_at = ? WHERE id = ?`, reason, at, d.ID); err != nil {
					return nil, storeError("claim deliveries", err)
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET attempts = attempts + 1, lease_until = ?,
				updated_at = ? WHERE id = ?`, until, at, d.ID); err != nil {
				return nil, storeError("claim deliveries", err)
			}
			d.Attempts++
			l := fromMicros(until)
			d.LeaseUntil, d.UpdatedAt = &l, fromMicros(at)
			out = append(out, d)
		}
		if len(found) < batch {
			break
		}
	}
	if err := tx.Commit(); err != nil {
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
	id, userID, typ, title, message, link, data, key sql.NullString
	seq, readAt, created                             sql.NullInt64
	silent                                           sql.NullBool
}

func (n *nullNotification) dest() []any {
	return []any{&n.id, &n.seq, &n.userID, &n.typ, &n.title, &n.message, &n.link, &n.data, &n.readAt, &n.created, &n.key, &n.silent}
}

func (n *nullNotification) notification() *herald.Notification {
	out := &herald.Notification{
		ID: n.id.String, Seq: n.seq.Int64, UserID: n.userID.String, Type: n.typ.String, Title: n.title.String,
		Message: n.message.String, Link: n.link.String, IdempotencyKey: n.key.String, Silent: n.silent.Bool,
	}
	if n.data.Valid {
		out.Data = []byte(n.data.String)
	}
	if n.readAt.Valid {
		t := fromMicros(n.readAt.Int64)
		out.Read, out.ReadAt = true, &t
	}
	out.CreatedAt = fromMicros(n.created.Int64)
	out.Timestamp = out.CreatedAt
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

// FinishDelivery records the outcome of attempt number attempt.
func (s *Store) FinishDelivery(ctx context.Context, id string, attempt int, r herald.DeliveryResult) error {
	if s.closed.Load() {
		return errClosed
	}
	at := micros(r.At)
	var sent, due any
	switch r.Status {
	case herald.DeliverySent:
		sent = at
	case herald.DeliveryFailed:
		due = micros(r.RetryAt)
	}
	res, err := s.writer.ExecContext(ctx, `UPDATE deliveries SET status = ?, lease_until = NULL, last_error = ?,
		updated_at = ?, sent_at = coalesce(?, sent_at), due_at = coalesce(?, due_at)
		WHERE id = ? AND attempts = ? AND status IN ('pending', 'failed')`,
		string(r.Status), r.Error, at, sent, due, id, attempt)
	if err != nil {
		return storeError("finish delivery", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeError("finish delivery", err)
	} else if n == 1 {
		return nil
	}
	var one int
	err = s.readers.QueryRowContext(ctx, `SELECT 1 FROM deliveries WHERE id = ?`, id).Scan(&one)
	switch {
	case isNoRows(err):
		return errDeliveryNotFound
	case err != nil:
		return storeError("finish delivery", err)
	}
	return errClaimLost
}

// CancelUnread cancels userID's pending UnlessRead deliveries of read or
// deleted notifications.
func (s *Store) CancelUnread(ctx context.Context, userID, notificationID string, at time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	q := `UPDATE deliveries AS d SET status = 'cancelled', last_error = 'read in the app', updated_at = ?
		WHERE d.user_id = ? AND d.unless_read = 1 AND ` + live + ` AND (d.lease_until IS NULL OR d.lease_until <= ?)
		AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = d.notification_id AND n.read_at IS NULL)`
	args := []any{micros(at), userID, micros(at)}
	if notificationID != "" {
		id, ok := lookupID(notificationID)
		if !ok {
			return 0, nil
		}
		q += ` AND d.notification_id = ?`
		args = append(args, id)
	}
	res, err := s.writer.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, storeError("cancel deliveries", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, storeError("cancel deliveries", err)
	}
	return int(n), nil
}

// FindDeliveries returns the deliveries f selects, newest first.
func (s *Store) FindDeliveries(ctx context.Context, f herald.DeliveryFilter) ([]*herald.Delivery, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	out := []*herald.Delivery{}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	q := `SELECT ` + deliveryColumns + ` FROM deliveries d WHERE 1 = 1`
	var args []any
	if f.UserID == "" && f.NotificationID == "" {
		return out, nil
	}
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
		q += ` AND d.id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY d.id DESC LIMIT ?`
	rows, err := s.readers.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, storeError("find deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, storeError("find deliveries", err)
		}
		out = append(out, d)
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
	rows, err := s.readers.QueryContext(ctx, `SELECT status, count(*) FROM deliveries
		WHERE status IN ('pending', 'failed', 'dead') GROUP BY status`)
	if err != nil {
		return nil, storeError("count deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, storeError("count deliveries", err)
		}
		out[herald.DeliveryStatus(st)] = n
	}
	return out, storeErrorOrNil("count deliveries", rows.Err())
}

// PurgeDeliveries deletes finished deliveries last updated before before.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	res, err := s.writer.ExecContext(ctx, `DELETE FROM deliveries
		WHERE status IN ('sent', 'cancelled', 'dead') AND updated_at < ?`, micros(before))
	if err != nil {
		return 0, storeError("purge deliveries", err)
	}
	n, err := res.RowsAffected()
	return int(n), storeErrorOrNil("purge deliveries", err)
}

func storeErrorOrNil(op string, err error) error {
	if err == nil {
		return nil
	}
	return storeError(op, err)
}
