package sqlstore

import (
	"sync"
	"sync/atomic"

	"github.com/heraldhq/herald"
)

// prefs mirrors the user_preferences table in memory for the commit loop,
// which plans every new notification with its user's preferences: with it,
// a commit reads no preferences. Like counts, it answers once loaded whole
// (in the background, from a snapshot), takes every save from the moment it
// is made, is off for good past its bound or after a failed commit (see
// mirrors), and may only be on while the store is its database's one
// writer. Few users save preferences, so it is small. The Preferences it
// hands out are shared and never changed (herald.Planner must not change
// them); a save replaces the user's with a new one.
type prefs struct {
	mu    sync.RWMutex
	users map[string]savedPrefs
	ready atomic.Bool
	off   atomic.Bool
	max   int
}

// savedPrefs is a user's preferences and the transaction that saved them
// (its txNotes.seq; 0 for the load's snapshot): saves may reach the mirror
// out of order, and the latest transaction's wins.
type savedPrefs struct {
	p   *herald.Preferences
	seq uint64
}

// newPrefs returns an empty mirror of at most max users, which takes saves
// but answers nothing until load has filled it.
func newPrefs(max int) *prefs {
	return &prefs{users: make(map[string]savedPrefs), max: max}
}

// load reads the whole user_preferences table into m and makes it answer;
// it turns m off instead when the table holds more than max rows or cannot
// be read. A row saved since the snapshot, already here, is newer and
// stays.
func (m *prefs) load(db conn) {
	var n int
	if err := db.queryRow(`SELECT count(*) FROM user_preferences`).Scan(&n); err != nil || n > m.max {
		m.turnOff()
		return
	}
	rows, err := db.query(`SELECT ` + preferenceColumns + ` FROM user_preferences`)
	if err != nil {
		m.turnOff()
		return
	}
	defer rows.Close()
	for rows.Next() {
		if m.off.Load() { // turned off meanwhile
			return
		}
		p, err := scanPreferences(rows)
		if err != nil {
			m.turnOff()
			return
		}
		m.mu.Lock()
		if _, had := m.users[p.UserID]; !had && m.users != nil {
			m.users[p.UserID] = savedPrefs{p: p}
		}
		full := len(m.users) > m.max
		m.mu.Unlock()
		if full {
			m.turnOff()
			return
		}
	}
	if rows.Err() != nil {
		m.turnOff()
		return
	}
	m.ready.Store(true)
}

// on reports whether the mirror takes saves: it is not off. A nil mirror is
// off.
func (m *prefs) on() bool { return m != nil && !m.off.Load() }

// of returns the saved preferences of users that have some, as prefsOf
// does; ok is false when the mirror does not answer and the table must be
// read.
func (m *prefs) of(users []string) (out map[string]*herald.Preferences, ok bool) {
	if !m.on() || !m.ready.Load() {
		return nil, false
	}
	out = make(map[string]*herald.Preferences)
	m.mu.RLock()
	for _, u := range users {
		if s, had := m.users[u]; had {
			out[u] = s.p
		}
	}
	m.mu.RUnlock()
	return out, !m.off.Load()
}

// save writes p, committed by the transaction numbered seq, as its user's
// preferences, unless a later transaction's are already there.
func (m *prefs) save(p *herald.Preferences, seq uint64) {
	if !m.on() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users == nil { // turned off meanwhile
		return
	}
	if old, had := m.users[p.UserID]; had && old.seq > seq {
		return
	}
	m.users[p.UserID] = savedPrefs{p: p, seq: seq}
	if len(m.users) > m.max {
		m.off.Store(true)
		m.users = nil
	}
}

// turnOff stops the mirror for good, as counts.turnOff.
func (m *prefs) turnOff() {
	if m == nil || m.off.Swap(true) {
		return
	}
	m.mu.Lock()
	m.users = nil
	m.mu.Unlock()
}
