package sqlite

import (
	"database/sql"
	"time"
)

// checkpointer copies the write-ahead log into the database file every
// interval, from a connection of its own: a passive checkpoint, which waits
// for no one. The writer then copies only what the last one left, when the
// log reaches writerCheckpoint pages, instead of stopping every 1,000 pages
// as SQLite does by default; and an interval's writes of one hot page (a
// user's counter row, an index leaf) reach the file once.
type checkpointer struct {
	db   *sql.DB
	quit chan struct{}
	done chan struct{}
}

func startCheckpoints(db *sql.DB, interval time.Duration) *checkpointer {
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-c.quit:
				return
			case <-t.C:
				// A failure (the database busy with another process's
				// checkpoint, say) is retried at the next tick; the writer's
				// own checkpoints are the safety net.
				_, _ = db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
	}()
	return c
}

// stop ends the checkpoints and closes their connection. It is safe to call
// on nil and more than once.
func (c *checkpointer) stop() {
	if c == nil {
		return
	}
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	<-c.done
	c.db.Close()
}
