package sqlstore

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/heraldhq/herald"
)

// countShards is how many locks the mirror's users are spread over, so that
// the reads of many connecting clients do not queue on one.
const countShards = 64

// counts mirrors the user_seqs table in memory: every user's unread count,
// its version and last seq, so that UnreadCount — one per connecting client —
// answers without a query. It is only ever complete or off. Complete: it
// was loaded whole when the store opened, and every transaction that
// changed a counter row wrote what it left here after its commit, so a user
// missing from it has never had a notification. Off: the table is read, as
// without it. It may only be on while this store is the database's one
// writer, which the dialect's package must ensure (SQLite: one process,
// holding a lock on the file).
//
// A reader can see a count one commit behind for the moment between that
// commit and its note, the same as reading the table just before the
// commit; the count that change publishes comes after the note.
type counts struct {
	seed   maphash.Seed
	max    int          // users held at most; past it the mirror turns off
	size   atomic.Int64 // users held
	off    atomic.Bool
	shards [countShards]countShard
}

type countShard struct {
	mu    sync.RWMutex
	users map[string]herald.Unread
}

// countNote is what a transaction left of one user's counter row.
type countNote struct {
	user string
	u    herald.Unread
}

// loadCounts reads the whole user_seqs table into a new mirror. It returns
// nil, not an error, when the table holds more than max users: the store
// then reads counts from the table.
func loadCounts(ctx context.Context, db conn, max int) (*counts, error) {
	var n int
	if err := db.queryRow(`SELECT count(*) FROM user_seqs`).Scan(&n); err != nil {
		return nil, err
	}
	if n > max {
		return nil, nil
	}
	m := &counts{seed: maphash.MakeSeed(), max: max}
	for i := range m.shards {
		m.shards[i].users = make(map[string]herald.Unread, n/countShards+1)
	}
	rows, err := db.query(`SELECT user_id, unread, version, last_seq FROM user_seqs`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var user string
		var u herald.Unread
		if err := rows.Scan(&user, &u.Count, &u.Version, &u.LastSeq); err != nil {
			return nil, err
		}
		m.shard(user).users[user] = u
		m.size.Add(1)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if m.size.Load() > int64(max) { // rows added since the count: take no chances
		return nil, nil
	}
	return m, ctx.Err()
}

func (m *counts) shard(user string) *countShard {
	return &m.shards[maphash.String(m.seed, user)%countShards]
}

// on reports whether the mirror answers reads. A nil mirror is off.
func (m *counts) on() bool { return m != nil && !m.off.Load() }

// get returns user's counter row as the mirror holds it; ok is false when
// the mirror is off and the table must be read.
func (m *counts) get(user string) (u herald.Unread, ok bool) {
	if !m.on() {
		return herald.Unread{}, false
	}
	sh := m.shard(user)
	sh.mu.RLock()
	u = sh.users[user] // a user never written has the zero row
	sh.mu.RUnlock()
	return u, !m.off.Load()
}

// apply writes what a committed transaction left of its users' counter
// rows. A note never replaces a later state of the row: versions and last
// seqs only grow, and a transaction may note one user more than once.
func (m *counts) apply(notes []countNote) {
	if !m.on() {
		return
	}
	for _, n := range notes {
		sh := m.shard(n.user)
		sh.mu.Lock()
		if sh.users == nil { // turned off meanwhile
			sh.mu.Unlock()
			return
		}
		old, had := sh.users[n.user]
		if !had || n.u.Version > old.Version || (n.u.Version == old.Version && n.u.LastSeq > old.LastSeq) {
			sh.users[n.user] = n.u
		}
		sh.mu.Unlock()
		if !had && m.size.Add(1) > int64(m.max) {
			m.turnOff()
			return
		}
	}
}

// turnOff stops the mirror for good and lets its memory go: past its size,
// or after a commit that failed, when what the database holds is unknown.
func (m *counts) turnOff() {
	if m == nil || m.off.Swap(true) {
		return
	}
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		sh.users = nil
		sh.mu.Unlock()
	}
}
