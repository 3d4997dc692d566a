package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/heraldhq/herald"
)

// prefs mirrors the user_preferences table in memory for the commit loop,
// which plans every new notification with its user's preferences: with it,
// a commit reads no preferences. Like counts, it is complete or off, and
// only on while the store is its database's one writer: loaded whole at
// open, and each saved row written here after its commit. Few users save
// preferences, so it is small. The Preferences it hands out are shared and
// never changed (herald.Planner must not change them); a save replaces the
// user's with a new one.
type prefs struct {
	mu    sync.RWMutex
	users map[string]*herald.Preferences
	off   atomic.Bool
	max   int
}

// loadPrefs reads the whole user_preferences table into a new mirror; nil
// when it holds more than max rows.
func loadPrefs(ctx context.Context, db conn, max int) (*prefs, error) {
	var n int
	if err := db.queryRow(`SELECT count(*) FROM user_preferences`).Scan(&n); err != nil {
		return nil, err
	}
	if n > max {
		return nil, nil
	}
	m := &prefs{users: make(map[string]*herald.Preferences, n), max: max}
	rows, err := db.query(`SELECT ` + preferenceColumns + ` FROM user_preferences`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPreferences(rows)
		if err != nil {
			return nil, err
		}
		m.users[p.UserID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(m.users) > max {
		return nil, nil
	}
	return m, ctx.Err()
}

// on reports whether the mirror answers reads. A nil mirror is off.
func (m *prefs) on() bool { return m != nil && !m.off.Load() }

// of returns the saved preferences of users that have some, as prefsOf
// does; ok is false when the mirror is off and the table must be read.
func (m *prefs) of(users []string) (out map[string]*herald.Preferences, ok bool) {
	if !m.on() {
		return nil, false
	}
	out = make(map[string]*herald.Preferences)
	m.mu.RLock()
	for _, u := range users {
		if p := m.users[u]; p != nil {
			out[u] = p
		}
	}
	m.mu.RUnlock()
	return out, !m.off.Load()
}

// save writes p, committed, as its user's preferences.
func (m *prefs) save(p *herald.Preferences) {
	if !m.on() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users == nil { // turned off meanwhile
		return
	}
	m.users[p.UserID] = p
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
