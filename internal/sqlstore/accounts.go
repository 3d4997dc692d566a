package sqlstore

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

var (
	errNoAccount = herald.Errorf(herald.ENOTFOUND, "account not found")
	errNoToken   = herald.Errorf(herald.ENOTFOUND, "refresh token not found")
	errSpent     = herald.Errorf(herald.ECONFLICT, "refresh token already used or revoked")
)

const accountColumns = `username, user_id, password_hash, disabled, created_at, updated_at`

func scanAccount(r scanner) (*herald.Account, error) {
	var a herald.Account
	if err := r.Scan(&a.Username, &a.UserID, &a.PasswordHash, &a.Disabled, tm{&a.CreatedAt}, tm{&a.UpdatedAt}); err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateAccount stores a. See herald.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, a *herald.Account) error {
	if err := s.enter(); err != nil {
		return err
	}
	now := utc(s.now())
	_, err := s.write(ctx).exec(`INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		a.Username, a.UserID, a.PasswordHash, a.Disabled, now, now)
	if f, _ := s.d.Classify(err); f == FaultUnique {
		return herald.Errorf(herald.ECONFLICT, "username already taken")
	}
	if err != nil {
		return s.fail("create account", err)
	}
	a.CreatedAt, a.UpdatedAt = now, now
	return nil
}

// FindAccount returns username's account.
func (s *Store) FindAccount(ctx context.Context, username string) (*herald.Account, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	a, err := scanAccount(s.read(ctx).queryRow(`SELECT `+accountColumns+` FROM accounts WHERE username = ?`, username))
	switch {
	case isNoRows(err):
		return nil, errNoAccount
	case err != nil:
		return nil, s.fail("find account", err)
	}
	return a, nil
}

// ListAccounts returns every account, by username.
func (s *Store) ListAccounts(ctx context.Context) ([]*herald.Account, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	rows, err := s.read(ctx).query(`SELECT ` + accountColumns + ` FROM accounts ORDER BY username`)
	if err != nil {
		return nil, s.fail("list accounts", err)
	}
	defer rows.Close()
	out := []*herald.Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, s.fail("list accounts", err)
		}
		out = append(out, a)
	}
	return out, s.fail("list accounts", rows.Err())
}

// SetAccountDisabled disables or enables username's account.
func (s *Store) SetAccountDisabled(ctx context.Context, username string, disabled bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	n, err := s.write(ctx).execN(`UPDATE accounts SET disabled = ?, updated_at = ? WHERE username = ?`, disabled, utc(s.now()), username)
	return s.affectedOne(n, err, "disable account", errNoAccount)
}

// DeleteAccount removes username's account; its tokens go with it.
func (s *Store) DeleteAccount(ctx context.Context, username string) error {
	if err := s.enter(); err != nil {
		return err
	}
	n, err := s.write(ctx).execN(`DELETE FROM accounts WHERE username = ?`, username)
	return s.affectedOne(n, err, "delete account", errNoAccount)
}

func (s *Store) affectedOne(n int64, err error, op string, none error) error {
	switch {
	case err != nil:
		return s.fail(op, err)
	case n == 0:
		return none
	}
	return nil
}

// insertToken stores t through c.
func (s *Store) insertToken(c conn, t *herald.RefreshToken) error {
	_, err := c.exec(`INSERT INTO refresh_tokens (id, family_id, username, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.FamilyID, t.Username, utc(t.CreatedAt), utc(t.ExpiresAt))
	switch f, _ := s.d.Classify(err); f {
	case FaultUnique:
		return herald.Errorf(herald.ECONFLICT, "refresh token id already used")
	case FaultForeignKey:
		return errNoAccount
	}
	return err
}

// CreateRefreshToken stores the first token of a family.
func (s *Store) CreateRefreshToken(ctx context.Context, t *herald.RefreshToken) error {
	if err := s.enter(); err != nil {
		return err
	}
	return s.fail("create refresh token", s.insertToken(s.write(ctx), t))
}

// RotateRefreshToken spends id and stores next in one transaction. The row
// lock (PostgreSQL's FOR UPDATE, SQLite's single writer) makes concurrent
// rotations of one token take turns, so only the first finds it unspent.
func (s *Store) RotateRefreshToken(ctx context.Context, id string, next *herald.RefreshToken) (*herald.RefreshToken, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	var t herald.RefreshToken
	err := s.inTx(ctx, func(c conn) error {
		err := c.queryRow(`SELECT id, family_id, username, created_at, expires_at, spent_at, revoked_at
			FROM refresh_tokens WHERE id = ?`+s.d.ForUpdate, id).
			Scan(&t.ID, &t.FamilyID, &t.Username, tm{&t.CreatedAt}, tm{&t.ExpiresAt}, nullTm{&t.SpentAt}, nullTm{&t.RevokedAt})
		switch {
		case isNoRows(err):
			return errNoToken
		case err != nil:
			return err
		case t.SpentAt != nil || t.RevokedAt != nil:
			return errSpent
		}
		next.FamilyID, next.Username = t.FamilyID, t.Username
		if _, err := c.exec(`UPDATE refresh_tokens SET spent_at = ? WHERE id = ?`, utc(next.CreatedAt), id); err != nil {
			return err
		}
		return s.insertToken(c, next)
	})
	switch {
	case err == errSpent:
		return &t, errSpent
	case err != nil:
		return nil, s.fail("rotate refresh token", err)
	}
	return &t, nil
}

// RevokeFamily revokes familyID's tokens and denies the family id.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, at, denyUntil time.Time) (int, error) {
	return s.revoke(ctx, `family_id = ?`, familyID, at, denyUntil)
}

// RevokeAccountTokens revokes every family of username.
func (s *Store) RevokeAccountTokens(ctx context.Context, username string, at, denyUntil time.Time) (int, error) {
	return s.revoke(ctx, `username = ?`, username, at, denyUntil)
}

// denyLonger keeps the later of two denials of one id.
const denyLonger = `ON CONFLICT (id) DO UPDATE SET denied_until = CASE WHEN excluded.denied_until > denied_tokens.denied_until
	THEN excluded.denied_until ELSE denied_tokens.denied_until END`

// revoke revokes the tokens where cond (with arg) holds and denies their
// families, in one transaction.
func (s *Store) revoke(ctx context.Context, cond, arg string, at, denyUntil time.Time) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	var n int64
	err := s.inTx(ctx, func(c conn) error {
		// "AND true" keeps SQLite from reading ON CONFLICT as a join clause;
		// the CAST types the parameter for PostgreSQL, and leaves SQLite's
		// integer as it is.
		if _, err := c.exec(`INSERT INTO denied_tokens (id, denied_until)
			SELECT DISTINCT family_id, CAST(? AS timestamptz) FROM refresh_tokens WHERE `+cond+` AND true `+denyLonger,
			utc(denyUntil), arg); err != nil {
			return err
		}
		var err error
		n, err = c.execN(`UPDATE refresh_tokens SET revoked_at = ? WHERE `+cond+` AND revoked_at IS NULL`, utc(at), arg)
		return err
	})
	if err != nil {
		return 0, s.fail("revoke", err)
	}
	return int(n), nil
}

// DenyToken denies id until until, or longer if it already was.
func (s *Store) DenyToken(ctx context.Context, id string, until time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	_, err := s.write(ctx).exec(`INSERT INTO denied_tokens (id, denied_until) VALUES (?, ?) `+denyLonger, id, utc(until))
	return s.fail("deny token", err)
}

// TokenDenied reports whether one of ids is denied at at.
func (s *Store) TokenDenied(ctx context.Context, at time.Time, ids ...string) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	var rows [][]any
	for _, id := range ids {
		if id != "" {
			rows = append(rows, []any{id})
		}
	}
	denied := false
	_, err := s.read(ctx).bulk(`SELECT 1 FROM denied_tokens WHERE denied_until > ? AND id IN (%s)`,
		[]Col{{"id", "text"}}, rows, []any{s.d.arg(utc(at))}, nil, func(scanner) error { denied = true; return nil })
	if err != nil {
		return false, s.fail("check denylist", err)
	}
	return denied, nil
}

// PurgeTokens drops refresh tokens and denials that expired before before.
func (s *Store) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	var total int64
	for _, q := range []string{
		`DELETE FROM refresh_tokens WHERE expires_at < ?`,
		`DELETE FROM denied_tokens WHERE denied_until < ?`,
	} {
		n, err := s.write(ctx).execN(q, utc(before))
		if err != nil {
			return 0, s.fail("purge tokens", err)
		}
		total += n
	}
	return int(total), nil
}
