package sqlstore

import (
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// Dialect is what differs between the databases the Store runs on. The
// queries are written once, with ? placeholders and portable SQL; a Dialect
// says how to bind them, how bulk rows travel, how rows are locked and how
// the driver's errors read. The sqlite and postgres packages each provide
// one.
type Dialect struct {
	// Name names the database in wrapped errors.
	Name string
	// Numbered says the driver takes $1, $2… rather than ?.
	Numbered bool
	// Arrays says bulk rows travel as one text array per column, unnested
	// (PostgreSQL): one statement for any number of rows. Otherwise they
	// travel as VALUES lists of at most MaxRows rows per statement.
	Arrays bool
	// MaxRows bounds the rows of one VALUES list (default 256).
	MaxRows int
	// Time converts a time for a statement's arguments: SQLite stores
	// microseconds since the Unix epoch, PostgreSQL timestamptz.
	Time func(time.Time) any
	// ForUpdate, ForNoKeyUpdate and SkipLocked are the row-lock clauses
	// (" FOR UPDATE", " FOR NO KEY UPDATE", " SKIP LOCKED"); empty where one
	// writer at a time makes locks needless (SQLite).
	ForUpdate, ForNoKeyUpdate, SkipLocked string
	// AdvisoryLock, when set, is a statement taking a lock on an int64 key
	// until the transaction ends: PostgreSQL's pg_advisory_xact_lock(?).
	AdvisoryLock string
	// Classify reads a driver error.
	Classify func(err error) (f Fault, constraint string)
	// Migrations holds the schema's steps, migrations/*.sql, applied in name
	// order; MigrationsTable is the DDL of the table recording them, with
	// version and applied_at columns.
	Migrations      fs.FS
	MigrationsTable string
	// LockMigrations, when set, runs first in the migration transaction,
	// so that nodes starting at once apply each step once.
	LockMigrations string
	// SingleWriter says the database takes one writer at a time (SQLite):
	// creates then wait for it in the commit loop, not in the database.
	SingleWriter bool
}

// Fault is what kind of failure a driver error is.
type Fault int

// The faults the Store answers differently.
const (
	FaultNone       Fault = iota
	FaultUnique           // a unique constraint, named by Classify
	FaultForeignKey       // a foreign key
	FaultBusy             // the database is locked or unreachable: retry later
	FaultBadText          // text the database cannot store (a NUL byte)
	FaultBadJSON          // JSON the database refuses
	FaultFull             // no space left to write: the disk (or a quota) is full
)

// Col is one column of bulk rows: its name and, for the PostgreSQL arrays,
// its type (uuid, text, bigint, integer, boolean, timestamptz, json).
type Col struct{ Name, Type string }

// Bind rewrites q's ? placeholders for the driver.
func (d *Dialect) Bind(q string) string { return d.bind(q) }

// Arg converts v for a statement's arguments, as the Store does: a time as
// the database stores it.
func (d *Dialect) Arg(v any) any { return d.arg(v) }

// bind rewrites q's ? placeholders for the driver.
func (d *Dialect) bind(q string) string {
	if !d.Numbered {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// maxRows returns how many rows one VALUES list takes.
func (d *Dialect) maxRows() int {
	if d.MaxRows > 0 {
		return d.MaxRows
	}
	return 256
}

// rows returns a row source of n rows of cols, usable after INSERT INTO
// t (…) and inside IN (…): a VALUES list, or with arrays a SELECT from
// unnest(?::text[], …) casting each column to its type.
func (d *Dialect) rows(cols []Col, n int) string {
	var b strings.Builder
	if d.Arrays {
		b.WriteString("SELECT ")
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("r." + c.Name)
			if c.Type != "text" {
				b.WriteString("::" + c.Type)
			}
		}
		b.WriteString(" FROM unnest(")
		for i := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?::text[]")
		}
		b.WriteString(") AS r(")
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.Name)
		}
		b.WriteString(")")
		return b.String()
	}
	row := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	b.WriteString("VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// rowArgs returns the arguments of rows for the source rows returns: the
// values row after row, or one text array per column.
func (d *Dialect) rowArgs(cols []Col, rows [][]any) []any {
	if !d.Arrays {
		out := make([]any, 0, len(rows)*len(cols))
		for _, r := range rows {
			for _, v := range r {
				out = append(out, d.arg(v))
			}
		}
		return out
	}
	out := make([]any, len(cols))
	for c := range cols {
		col := make([]*string, len(rows))
		for i, r := range rows {
			col[i] = text(r[c])
		}
		out[c] = col
	}
	return out
}

// arg converts v for a statement's arguments: times as the dialect stores
// them.
func (d *Dialect) arg(v any) any {
	if t, ok := v.(time.Time); ok {
		return d.Time(t)
	}
	return v
}

// args converts every time of vs.
func (d *Dialect) args(vs []any) []any {
	for i, v := range vs {
		vs[i] = d.arg(v)
	}
	return vs
}

// text is v as PostgreSQL reads it from text; nil is NULL.
func text(v any) *string {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		s = x
	case []byte:
		if x == nil {
			return nil
		}
		s = string(x)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case bool:
		s = strconv.FormatBool(x)
	case time.Time:
		s = x.UTC().Format(time.RFC3339Nano)
	case *string:
		return x
	default:
		panic("sqlstore: no text form for a bulk value") // the Store passes only the types above
	}
	return &s
}

// chunks splits n rows into the sizes of the statements that carry them:
// n itself with arrays, else runs of MaxRows and a binary decomposition of
// the rest, so that few distinct statements are ever prepared.
func (d *Dialect) chunks(n int) []int {
	if n == 0 {
		return nil
	}
	if d.Arrays {
		return []int{n}
	}
	var out []int
	for max := d.maxRows(); n >= max; n -= max {
		out = append(out, max)
	}
	for size := d.maxRows() / 2; n > 0; size /= 2 {
		if n >= size {
			out = append(out, size)
			n -= size
		}
	}
	return out
}
