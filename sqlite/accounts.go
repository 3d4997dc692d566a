package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

var _ herald.AccountStore = (*Store)(nil)

var (
	errNoAccount = herald.Errorf(herald.ENOTFOUND, "account not found")
	errNoToken   = herald.Errorf(herald.ENOTFOUND, "refresh token not found")
	errSpent     = herald.Errorf(herald.ECONFLICT, "refresh token already used or revoked")
)

const accountColumns = `username, user_id, password_hash, disabled, created_at, updated_at`

func scanAccount(row scanner) (*herald.Account, error) {
	var a herald.Account
	var created, updated int64
	if err := row.Scan(&a.Username, &a.UserID, &a.PasswordHash, &a.Disabled, &created, &updated); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// CreateAccount stores a. See herald.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, a *herald.Account) error {
	if s.closed.Load() {
		return errClosed
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	_, err := s.writer.ExecContext(ctx, `INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		a.Username, a.UserID, a.PasswordHash, a.Disabled, micros(now), micros(now))
	if isUnique(err) {
		return herald.Errorf(herald.ECONFLICT, "username already taken")
	}
	if err != nil {
		return storeError("create account", err)
	}
	a.CreatedAt, a.UpdatedAt = now, now
	return nil
}

// FindAccount returns username's account.
func (s *Store) FindAccount(ctx context.Context, username string) (*herald.Account, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	a, err := scanAccount(s.readers.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = ?`, username))
	switch {
	case isNoRows(err):
		return nil, errNoAccount
	case err != nil:
		return nil, storeError("find account", err)
	}
	return a, nil
}

// ListAccounts returns every account, by username.
func (s *Store) ListAccounts(ctx context.Context) ([]*herald.Account, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	rows, err := s.readers.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY username`)
	if err != nil {
		return nil, storeError("list accounts", err)
	}
	defer rows.Close()
	out := []*herald.Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, storeError("list accounts", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("list accounts", err)
	}
	return out, nil
}

// SetAccountDisabled disables or enables username's account.
func (s *Store) SetAccountDisabled(ctx context.Context, username string, disabled bool) error {
	if s.closed.Load() {
		return errClosed
	}
	res, err := s.writer.ExecContext(ctx, `UPDATE accounts SET disabled = ?, updated_at = ? WHERE username = ?`,
		disabled, micros(s.now()), username)
	return affectedOne(res, err, "disable account", errNoAccount)
}

// DeleteAccount removes username's account; its tokens go with it.
func (s *Store) DeleteAccount(ctx context.Context, username string) error {
	if s.closed.Load() {
		return errClosed
	}
	res, err := s.writer.ExecContext(ctx, `DELETE FROM accounts WHERE username = ?`, username)
	return affectedOne(res, err, "delete account", errNoAccount)
}

func affectedOne(res sql.Result, err error, op string, none error) error {
	if err != nil {
		return storeError(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return storeError(op, err)
	}
	if n == 0 {
		return none
	}
	return nil
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertToken(ctx context.Context, db execer, t *herald.RefreshToken) error {
	_, err := db.ExecContext(ctx, `INSERT INTO refresh_tokens (id, family_id, username, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, t.ID, t.FamilyID, t.Username, micros(t.CreatedAt), micros(t.ExpiresAt))
	if isUnique(err) {
		return herald.Errorf(herald.ECONFLICT, "refresh token id already used")
	}
	if err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
		return errNoAccount
	}
	return err
}

// CreateRefreshToken stores the first token of a family.
func (s *Store) CreateRefreshToken(ctx context.Context, t *herald.RefreshToken) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := insertToken(ctx, s.writer, t); err != nil {
		return storeError("create refresh token", err)
	}
	return nil
}

// RotateRefreshToken spends id and stores next in one transaction; the
// writer's single connection makes concurrent rotations take turns, and the
// spent_at check makes all but the first a conflict.
func (s *Store) RotateRefreshToken(ctx context.Context, id string, next *herald.RefreshToken) (*herald.RefreshToken, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeError("rotate refresh token", err)
	}
	defer tx.Rollback()
	var (
		t              herald.RefreshToken
		created, exp   int64
		spent, revoked sql.NullInt64
	)
	err = tx.QueryRowContext(ctx, `SELECT id, family_id, username, created_at, expires_at, spent_at, revoked_at
		FROM refresh_tokens WHERE id = ?`, id).Scan(&t.ID, &t.FamilyID, &t.Username, &created, &exp, &spent, &revoked)
	switch {
	case isNoRows(err):
		return nil, errNoToken
	case err != nil:
		return nil, storeError("rotate refresh token", err)
	}
	t.CreatedAt, t.ExpiresAt = fromMicros(created), fromMicros(exp)
	if spent.Valid {
		v := fromMicros(spent.Int64)
		t.SpentAt = &v
	}
	if revoked.Valid {
		v := fromMicros(revoked.Int64)
		t.RevokedAt = &v
	}
	if spent.Valid || revoked.Valid {
		return &t, errSpent
	}
	next.FamilyID, next.Username = t.FamilyID, t.Username
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET spent_at = ? WHERE id = ?`, micros(next.CreatedAt), id); err != nil {
		return nil, storeError("rotate refresh token", err)
	}
	if err := insertToken(ctx, tx, next); err != nil {
		return nil, storeError("rotate refresh token", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, storeError("rotate refresh token", err)
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

// revoke revokes the tokens where cond (with arg) holds and denies their
// families, in one transaction.
func (s *Store) revoke(ctx context.Context, cond, arg string, at, denyUntil time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, storeError("revoke", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO denied_tokens (id, denied_until)
		SELECT DISTINCT family_id, ? FROM refresh_tokens WHERE `+cond+` AND true
		ON CONFLICT (id) DO UPDATE SET denied_until = max(denied_until, excluded.denied_until)`,
		micros(denyUntil), arg); err != nil {
		return 0, storeError("revoke", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE `+cond+` AND revoked_at IS NULL`, micros(at), arg)
	if err != nil {
		return 0, storeError("revoke", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, storeError("revoke", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, storeError("revoke", err)
	}
	return int(n), nil
}

// DenyToken denies id until until, or longer if it already was.
func (s *Store) DenyToken(ctx context.Context, id string, until time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO denied_tokens (id, denied_until) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET denied_until = max(denied_until, excluded.denied_until)`, id, micros(until))
	if err != nil {
		return storeError("deny token", err)
	}
	return nil
}

// TokenDenied reports whether one of ids is denied at at.
func (s *Store) TokenDenied(ctx context.Context, at time.Time, ids ...string) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		var one int
		err := s.readers.QueryRowContext(ctx, `SELECT 1 FROM denied_tokens WHERE id = ? AND denied_until > ?`, id, micros(at)).Scan(&one)
		switch {
		case err == nil:
			return true, nil
		case !isNoRows(err):
			return false, storeError("check denylist", err)
		}
	}
	return false, nil
}

// PurgeTokens drops refresh tokens and denials that expired before before.
func (s *Store) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	var total int64
	for _, q := range []string{
		`DELETE FROM refresh_tokens WHERE expires_at < ?`,
		`DELETE FROM denied_tokens WHERE denied_until < ?`,
	} {
		res, err := s.writer.ExecContext(ctx, q, micros(before))
		if err != nil {
			return 0, storeError("purge tokens", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return int(total), nil
}
