package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// Accounts is a herald.AccountStore kept in memory behind one mutex, for tests
// and for running without a database. It behaves as the database stores do,
// including one winner among concurrent rotations of a refresh token.
type Accounts struct {
	now func() time.Time

	mu       sync.Mutex
	accounts map[string]*herald.Account
	tokens   map[string]*herald.RefreshToken
	denied   map[string]time.Time
}

var _ herald.AccountStore = (*Accounts)(nil)

// NewAccounts returns an empty Accounts; c.Now stamps CreatedAt and UpdatedAt.
func NewAccounts(c Config) *Accounts {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Accounts{now: now, accounts: make(map[string]*herald.Account),
		tokens: make(map[string]*herald.RefreshToken), denied: make(map[string]time.Time)}
}

var (
	errNoAccount = herald.Errorf(herald.ENOTFOUND, "account not found")
	errNoToken   = herald.Errorf(herald.ENOTFOUND, "refresh token not found")
	errSpent     = herald.Errorf(herald.ECONFLICT, "refresh token already used or revoked")
)

func (s *Accounts) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// CreateAccount stores a copy of a. See herald.AccountStore.
func (s *Accounts) CreateAccount(ctx context.Context, a *herald.Account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[a.Username]; ok {
		return herald.Errorf(herald.ECONFLICT, "username already taken")
	}
	a.CreatedAt = s.stamp()
	a.UpdatedAt = a.CreatedAt
	c := *a
	s.accounts[a.Username] = &c
	return nil
}

// FindAccount returns a copy of username's account.
func (s *Accounts) FindAccount(ctx context.Context, username string) (*herald.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[username]
	if !ok {
		return nil, errNoAccount
	}
	c := *a
	return &c, nil
}

// ListAccounts returns copies of every account, by username.
func (s *Accounts) ListAccounts(ctx context.Context) ([]*herald.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*herald.Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		c := *a
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// SetAccountDisabled disables or enables username's account.
func (s *Accounts) SetAccountDisabled(ctx context.Context, username string, disabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[username]
	if !ok {
		return errNoAccount
	}
	a.Disabled = disabled
	a.UpdatedAt = s.stamp()
	return nil
}

// DeleteAccount removes username's account and refresh tokens.
func (s *Accounts) DeleteAccount(ctx context.Context, username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[username]; !ok {
		return errNoAccount
	}
	delete(s.accounts, username)
	for id, t := range s.tokens {
		if t.Username == username {
			delete(s.tokens, id)
		}
	}
	return nil
}

// CreateRefreshToken stores a copy of t.
func (s *Accounts) CreateRefreshToken(ctx context.Context, t *herald.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insert(t)
}

func (s *Accounts) insert(t *herald.RefreshToken) error {
	if _, ok := s.tokens[t.ID]; ok {
		return herald.Errorf(herald.ECONFLICT, "refresh token id already used")
	}
	c := *t
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	c.ExpiresAt = c.ExpiresAt.UTC().Truncate(time.Microsecond)
	c.SpentAt, c.RevokedAt = nil, nil
	s.tokens[t.ID] = &c
	return nil
}

// RotateRefreshToken spends id and stores next. See herald.AccountStore.
func (s *Accounts) RotateRefreshToken(ctx context.Context, id string, next *herald.RefreshToken) (*herald.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return nil, errNoToken
	}
	before := copyToken(t)
	if t.SpentAt != nil || t.RevokedAt != nil {
		return before, errSpent
	}
	next.FamilyID, next.Username = t.FamilyID, t.Username
	if err := s.insert(next); err != nil {
		return nil, err
	}
	at := next.CreatedAt.UTC().Truncate(time.Microsecond)
	t.SpentAt = &at
	return before, nil
}

func copyToken(t *herald.RefreshToken) *herald.RefreshToken {
	c := *t
	if t.SpentAt != nil {
		v := *t.SpentAt
		c.SpentAt = &v
	}
	if t.RevokedAt != nil {
		v := *t.RevokedAt
		c.RevokedAt = &v
	}
	return &c
}

// RevokeFamily revokes familyID's tokens and denies the family id.
func (s *Accounts) RevokeFamily(ctx context.Context, familyID string, at, denyUntil time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoke(func(t *herald.RefreshToken) bool { return t.FamilyID == familyID }, at, denyUntil), nil
}

// RevokeAccountTokens revokes every family of username.
func (s *Accounts) RevokeAccountTokens(ctx context.Context, username string, at, denyUntil time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoke(func(t *herald.RefreshToken) bool { return t.Username == username }, at, denyUntil), nil
}

func (s *Accounts) revoke(match func(*herald.RefreshToken) bool, at, denyUntil time.Time) int {
	at = at.UTC().Truncate(time.Microsecond)
	n := 0
	for _, t := range s.tokens {
		if !match(t) {
			continue
		}
		s.deny(t.FamilyID, denyUntil)
		if t.RevokedAt == nil {
			t.RevokedAt = &at
			n++
		}
	}
	return n
}

// DenyToken denies id until until (or later, if it was denied longer).
func (s *Accounts) DenyToken(ctx context.Context, id string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny(id, until)
	return nil
}

func (s *Accounts) deny(id string, until time.Time) {
	if until.After(s.denied[id]) {
		s.denied[id] = until
	}
}

// TokenDenied reports whether one of ids is denied at at.
func (s *Accounts) TokenDenied(ctx context.Context, at time.Time, ids ...string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if until, ok := s.denied[id]; ok && id != "" && until.After(at) {
			return true, nil
		}
	}
	return false, nil
}

// PurgeTokens drops what expired before before.
func (s *Accounts) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, t := range s.tokens {
		if t.ExpiresAt.Before(before) {
			delete(s.tokens, id)
			n++
		}
	}
	for id, until := range s.denied {
		if until.Before(before) {
			delete(s.denied, id)
			n++
		}
	}
	return n, nil
}
