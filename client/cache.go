package client

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Cache holds the tokens of a token source with a time to live. MemoryCache
// keeps them in the process; RedisCache shares them between the processes
// of a backend, so that they log in once between them. Implementations must
// be safe for concurrent use.
type Cache interface {
	// Get returns the value of key; ok is false when there is none.
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	// CompareAndDelete deletes key if, and only if, it holds value.
	CompareAndDelete(ctx context.Context, key, value string) (deleted bool, err error)
	// Lock takes the lock named key, waiting for it until ctx ends, and
	// returns the function that releases it. A lock not released within
	// ttl is released by itself, so that a crashed holder cannot block
	// the others for ever.
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), err error)
}

// Lifetime says how long a token source caches a token, given the lifetime
// the server gave it: a Fraction of it, or all of it but a Margin. With both
// set, the shorter wins; with neither, the source's default applies. The
// margin is there so that a cached token is never handed out just before
// it expires.
type Lifetime struct {
	Fraction float64
	Margin   time.Duration
}

// of returns the cache lifetime of a token the server gave lifetime d, with
// def as the fraction when l is zero. It is never negative.
func (l Lifetime) of(d time.Duration, def float64) time.Duration {
	if l.Fraction <= 0 && l.Margin <= 0 {
		l.Fraction = def
	}
	ttl := d
	if l.Fraction > 0 {
		ttl = min(ttl, time.Duration(float64(d)*l.Fraction))
	}
	if l.Margin > 0 {
		ttl = min(ttl, d-l.Margin)
	}
	return max(ttl, 0)
}

// MemoryCache is a Cache in the process's memory, the default.
type MemoryCache struct {
	// Now is the clock expiries are measured on (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]memoryEntry
	locks   map[string]chan struct{}
}

type memoryEntry struct {
	value   string
	expires time.Time
}

// NewMemoryCache returns an empty MemoryCache.
func NewMemoryCache() *MemoryCache { return &MemoryCache{} }

func (m *MemoryCache) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Get implements Cache.
func (m *MemoryCache) Get(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !m.now().Before(e.expires) {
		delete(m.entries, key)
		return "", false, nil
	}
	return e.value, true, nil
}

// Set implements Cache. A ttl of zero or less stores nothing.
func (m *MemoryCache) Set(_ context.Context, key, value string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ttl <= 0 {
		delete(m.entries, key)
		return nil
	}
	if m.entries == nil {
		m.entries = make(map[string]memoryEntry)
	}
	m.entries[key] = memoryEntry{value: value, expires: m.now().Add(ttl)}
	return nil
}

// CompareAndDelete implements Cache.
func (m *MemoryCache) CompareAndDelete(_ context.Context, key, value string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && e.value == value {
		delete(m.entries, key)
		return true, nil
	}
	return false, nil
}

// Lock implements Cache. Within one process every holder releases its
// lock, so ttl is not needed and is ignored.
func (m *MemoryCache) Lock(ctx context.Context, key string, _ time.Duration) (func(), error) {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = make(map[string]chan struct{})
	}
	l, ok := m.locks[key]
	if !ok {
		l = make(chan struct{}, 1)
		m.locks[key] = l
	}
	m.mu.Unlock()
	select {
	case l <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-l }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// cachedToken is how token sources store a Token in a Cache.
type cachedToken struct {
	Value     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	UserID    string    `json:"userId,omitempty"`
}

// tokenStore reads and writes Tokens in a Cache. Cache failures are
// reported to warn and otherwise treated as misses: a token source keeps
// working, fetching more often, while its cache is down.
type tokenStore struct {
	cache Cache
	warn  func(msg string, err error)
}

// get returns the token under key and its stored form.
func (s tokenStore) get(ctx context.Context, key string) (Token, string, bool) {
	raw, ok, err := s.cache.Get(ctx, key)
	if err != nil {
		s.warn("token cache read failed", err)
		return Token{}, "", false
	}
	if !ok {
		return Token{}, "", false
	}
	var c cachedToken
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c.Value == "" {
		return Token{}, "", false
	}
	return Token{Value: c.Value, ExpiresAt: c.ExpiresAt, UserID: c.UserID}, raw, true
}

func (s tokenStore) put(ctx context.Context, key string, t Token, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	raw, _ := json.Marshal(cachedToken{Value: t.Value, ExpiresAt: t.ExpiresAt, UserID: t.UserID})
	if err := s.cache.Set(ctx, key, string(raw), ttl); err != nil {
		s.warn("token cache write failed", err)
	}
}

// drop deletes the token under key if its value is value.
func (s tokenStore) drop(ctx context.Context, key, value string) error {
	t, raw, ok := s.get(ctx, key)
	if !ok || t.Value != value {
		return nil
	}
	_, err := s.cache.CompareAndDelete(ctx, key, raw)
	return err
}

// lock takes the cache's lock named key; when the cache cannot, the caller
// goes on without it rather than failing.
func (s tokenStore) lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	unlock, err := s.cache.Lock(ctx, key, ttl)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.warn("token cache lock failed", err)
		return func() {}, nil
	}
	return unlock, nil
}
