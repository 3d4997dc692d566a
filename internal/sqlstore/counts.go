package sqlstore

import (
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
// answers without a query. It answers only once complete: its rows were
// loaded whole (in the background, from a snapshot, while the store already
// serves), and every transaction that changed a counter row since the
// mirror was made wrote what it left here after its commit, so a user
// missing from it has never had a notification. Until then, and once off,
// the table is read; an off mirror is never on again (mirrors may put a
// fresh one in its place). It may only be on while this store is the
// database's one writer, which the dialect's package must ensure (SQLite:
// one process, holding a lock on the file).
//
// Rows meet in any order — the load's snapshot, commits before and after
// it — and the newest state of each wins: versions and last seqs only grow.
// A reader can see a count one commit behind for the moment between that
// commit and its note, the same as reading the table just before the
// commit; the count that change publishes comes after the note.
type counts struct {
	seed   maphash.Seed
	max    int          // users held at most; past it the mirror turns off
	size   atomic.Int64 // users held
	ready  atomic.Bool  // loaded: reads may be answered
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

// newCounts returns an empty mirror of at most max users, which takes notes
// but answers no read until load has filled it.
func newCounts(max int) *counts {
	m := &counts{seed: maphash.MakeSeed(), max: max}
	for i := range m.shards {
		m.shards[i].users = make(map[string]herald.Unread)
	}
	return m
}

// load reads the whole user_seqs table into m and makes it answer reads;
// it turns m off instead when the table holds more than max users or
// cannot be read.
func (m *counts) load(db conn) {
	var n int
	if err := db.queryRow(`SELECT count(*) FROM user_seqs`).Scan(&n); err != nil || n > m.max {
		m.turnOff()
		return
	}
	rows, err := db.query(`SELECT user_id, unread, version, last_seq FROM user_seqs`)
	if err != nil {
		m.turnOff()
		return
	}
	defer rows.Close()
	batch := make([]countNote, 0, 256)
	for rows.Next() {
		if m.off.Load() { // turned off meanwhile: the rest is of no use
			return
		}
		var c countNote
		if err := rows.Scan(&c.user, &c.u.Count, &c.u.Version, &c.u.LastSeq); err != nil {
			m.turnOff()
			return
		}
		if batch = append(batch, c); len(batch) == cap(batch) {
			m.apply(batch)
			batch = batch[:0]
		}
	}
	if rows.Err() != nil {
		m.turnOff()
		return
	}
	m.apply(batch)
	m.ready.Store(true)
}

func (m *counts) shard(user string) *countShard {
	return &m.shards[maphash.String(m.seed, user)%countShards]
}

// on reports whether the mirror takes notes: it is not off. A nil mirror
// is off.
func (m *counts) on() bool { return m != nil && !m.off.Load() }

// answers reports whether the mirror answers reads: loaded, and not off.
func (m *counts) answers() bool { return m.on() && m.ready.Load() }

// get returns user's counter row as the mirror holds it; ok is false when
// the mirror does not answer and the table must be read.
func (m *counts) get(user string) (u herald.Unread, ok bool) {
	if !m.answers() {
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
// or after a commit that failed, when what the database holds is unknown
// (see mirrors).
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
