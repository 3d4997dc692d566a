package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/heraldhq/herald"
)

// columns is the select list scanNotification reads.
const columns = `id, seq, user_id, type, title, message, link, data, read_at, created_at, idempotency_key, silent`

// statements are the prepared statements. The writer has one connection, so
// each of its statements is prepared once and reused by every transaction;
// unread is prepared on the readers, once per connection as each first runs it.
type statements struct {
	byKey, bumpSeq, insert *sql.Stmt
	unread                 *sql.Stmt // on the readers
}

func prepare(ctx context.Context, writer, readers *sql.DB) (*statements, error) {
	var st statements
	var err error
	prep := func(db *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.PrepareContext(ctx, q)
		return s
	}
	st.byKey = prep(writer, `SELECT `+columns+` FROM notifications WHERE user_id = ? AND idempotency_key = ?`)
	// New notifications are unread, so the bump that reserves their seqs
	// also adds them to the unread count.
	// The version moves only when the count does: silent notifications
	// take seqs and leave the count.
	st.bumpSeq = prep(writer, `INSERT INTO user_seqs (user_id, last_seq, unread, version) VALUES (?1, ?2, ?3, ?3 > 0)
		ON CONFLICT (user_id) DO UPDATE SET last_seq = last_seq + excluded.last_seq, unread = unread + excluded.unread,
			version = version + (excluded.unread > 0)
		RETURNING last_seq, unread, version`)
	st.insert = prep(writer, `INSERT INTO notifications (id, seq, user_id, type, title, message, link, data, read_at, created_at, idempotency_key, silent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	st.unread = prep(readers, `SELECT unread, version, last_seq FROM user_seqs WHERE user_id = ?`)
	if err != nil {
		st.close()
		return nil, err
	}
	return &st, nil
}

func (st *statements) close() {
	for _, s := range []*sql.Stmt{st.byKey, st.bumpSeq, st.insert, st.unread} {
		if s != nil {
			s.Close()
		}
	}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanNotification reads a row selected with columns.
func scanNotification(row scanner) (*herald.Notification, error) {
	var (
		n       herald.Notification
		data    sql.NullString
		readAt  sql.NullInt64
		created int64
		key     sql.NullString
	)
	err := row.Scan(&n.ID, &n.Seq, &n.UserID, &n.Type, &n.Title, &n.Message, &n.Link, &data, &readAt, &created, &key, &n.Silent)
	if err != nil {
		return nil, err
	}
	if data.Valid {
		n.Data = []byte(data.String)
	}
	if readAt.Valid {
		t := fromMicros(readAt.Int64)
		n.Read, n.ReadAt = true, &t
	}
	n.CreatedAt = fromMicros(created)
	n.Timestamp = n.CreatedAt
	n.IdempotencyKey = key.String
	return &n, nil
}

// micros is how the schema stores a time.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullable stores an empty string as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isNoRows reports whether err says a query found nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
