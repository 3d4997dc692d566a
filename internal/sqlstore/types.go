package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// tm scans a time column into *t, in UTC to the microsecond, whatever the
// database returns: microseconds since the epoch (SQLite) or a time
// (PostgreSQL).
type tm struct{ t *time.Time }

func (s tm) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	case time.Time:
		*s.t = v.UTC().Truncate(time.Microsecond)
	default:
		return fmt.Errorf("sqlstore: a time column holds %T", src)
	}
	return nil
}

// optTm scans a nullable time column into *t, the zero time for NULL (a
// column of a LEFT JOIN).
type optTm struct{ t *time.Time }

func (s optTm) Scan(src any) error {
	if src == nil {
		*s.t = time.Time{}
		return nil
	}
	return tm(s).Scan(src)
}

// nullTm scans a nullable time column into *t, nil for NULL.
type nullTm struct{ t **time.Time }

func (s nullTm) Scan(src any) error {
	if src == nil {
		*s.t = nil
		return nil
	}
	var t time.Time
	if err := (tm{&t}).Scan(src); err != nil {
		return err
	}
	*s.t = &t
	return nil
}

// nullStr scans a nullable text column into *s, "" for NULL.
type nullStr struct{ s *string }

func (n nullStr) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.s = ""
	case string:
		*n.s = v
	case []byte:
		*n.s = string(v)
	default:
		return fmt.Errorf("sqlstore: a text column holds %T", src)
	}
	return nil
}

// nullBytes scans a nullable text or JSON column into *b, nil for NULL, as
// a copy the row does not reuse.
type nullBytes struct{ b *json.RawMessage }

func (n nullBytes) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.b = nil
	case string:
		*n.b = []byte(v)
	case []byte:
		*n.b = append([]byte(nil), v...)
	default:
		return fmt.Errorf("sqlstore: a JSON column holds %T", src)
	}
	return nil
}

// nullable stores an empty string as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonArg is data as a statement argument: NULL when empty, else its text.
func jsonArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// utc is how the stores keep a time: UTC, to the microsecond.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// isNoRows reports whether err says a query found nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// lookupID returns id in canonical form; ok is false when it is no UUID and
// so names no row (PostgreSQL's uuid columns would refuse it).
func lookupID(id string) (string, bool) {
	c, err := herald.ParseID(id)
	return c, err == nil
}

// notificationID returns id in canonical form, or a new id when it is empty.
func notificationID(id string) (string, error) {
	if id == "" {
		return herald.NewID(), nil
	}
	return herald.ParseID(id)
}
