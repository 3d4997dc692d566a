package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald"
)

var _ herald.AccountStore = (*Store)(nil)

var (
	errNoAccount = herald.Errorf(herald.ENOTFOUND, "account not found")
	errNoToken   = herald.Errorf(herald.ENOTFOUND, "refresh token not found")
	errSpent     = herald.Errorf(herald.ECONFLICT, "refresh token already used or revoked")
)

const codeForeignKey = "23503"

const accountColumns = `username, user_id, password_hash, disabled, created_at, updated_at`

func scanAccount(row pgx.Row) (*herald.Account, error) {
	var a herald.Account
	if err := row.Scan(&a.Username, &a.UserID, &a.PasswordHash, &a.Disabled, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// CreateAccount stores a. See herald.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, a *herald.Account) error {
	if s.closed.Load() {
		return errClosed
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	_, err := s.pool.Exec(ctx, `INSERT INTO accounts (`+accountColumns+`) VALUES ($1, $2, $3, $4, $5, $5)`,
		a.Username, a.UserID, a.PasswordHash, a.Disabled, now)
	if pgCode(err) == codeUniqueViolation {
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
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = $1`, username))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
	rows, err := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY username COLLATE "C"`)
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
	tag, err := s.pool.Exec(ctx, `UPDATE accounts SET disabled = $1, updated_at = $2 WHERE username = $3`,
		disabled, s.now().UTC().Truncate(time.Microsecond), username)
	if err != nil {
		return storeError("disable account", err)
	}
	if tag.RowsAffected() == 0 {
		return errNoAccount
	}
	return nil
}

// DeleteAccount removes username's account; its tokens go with it.
func (s *Store) DeleteAccount(ctx context.Context, username string) error {
	if s.closed.Load() {
		return errClosed
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM accounts WHERE username = $1`, username)
	if err != nil {
		return storeError("delete account", err)
	}
	if tag.RowsAffected() == 0 {
		return errNoAccount
	}
	return nil
}

// tokenExecer is a pool or a transaction.
type tokenExecer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertToken(ctx context.Context, q tokenExecer, t *herald.RefreshToken) error {
	_, err := q.Exec(ctx, `INSERT INTO refresh_tokens (id, family_id, username, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, t.ID, t.FamilyID, t.Username, t.CreatedAt, t.ExpiresAt)
	switch pgCode(err) {
	case codeUniqueViolation:
		return herald.Errorf(herald.ECONFLICT, "refresh token id already used")
	case codeForeignKey:
		return errNoAccount
	}
	return err
}

// CreateRefreshToken stores the first token of a family.
func (s *Store) CreateRefreshToken(ctx context.Context, t *herald.RefreshToken) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := insertToken(ctx, s.pool, t); err != nil {
		return storeError("create refresh token", err)
	}
	return nil
}

// RotateRefreshToken spends id and stores next in one transaction. The row
// lock SELECT ... FOR UPDATE takes makes concurrent rotations of one token
// wait for each other, so only the first finds it unspent.
func (s *Store) RotateRefreshToken(ctx context.Context, id string, next *herald.RefreshToken) (*herald.RefreshToken, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, storeError("rotate refresh token", err)
	}
	defer tx.Rollback(ctx)
	var t herald.RefreshToken
	err = tx.QueryRow(ctx, `SELECT id, family_id, username, created_at, expires_at, spent_at, revoked_at
		FROM refresh_tokens WHERE id = $1 FOR UPDATE`, id).
		Scan(&t.ID, &t.FamilyID, &t.Username, &t.CreatedAt, &t.ExpiresAt, &t.SpentAt, &t.RevokedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, errNoToken
	case err != nil:
		return nil, storeError("rotate refresh token", err)
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	for _, p := range []*time.Time{t.SpentAt, t.RevokedAt} {
		if p != nil {
			*p = p.UTC()
		}
	}
	if t.SpentAt != nil || t.RevokedAt != nil {
		return &t, errSpent
	}
	next.FamilyID, next.Username = t.FamilyID, t.Username
	if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET spent_at = $1 WHERE id = $2`, next.CreatedAt, id); err != nil {
		return nil, storeError("rotate refresh token", err)
	}
	if err := insertToken(ctx, tx, next); err != nil {
		return nil, storeError("rotate refresh token", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, storeError("rotate refresh token", err)
	}
	return &t, nil
}

// RevokeFamily revokes familyID's tokens and denies the family id.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, at, denyUntil time.Time) (int, error) {
	return s.revoke(ctx, `family_id = $1`, familyID, at, denyUntil)
}

// RevokeAccountTokens revokes every family of username.
func (s *Store) RevokeAccountTokens(ctx context.Context, username string, at, denyUntil time.Time) (int, error) {
	return s.revoke(ctx, `username = $1`, username, at, denyUntil)
}

// revoke revokes the tokens where cond (with arg as $1) holds and denies
// their families, in one transaction.
func (s *Store) revoke(ctx context.Context, cond, arg string, at, denyUntil time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, storeError("revoke", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO denied_tokens (id, denied_until)
		SELECT DISTINCT family_id, $2::timestamptz FROM refresh_tokens WHERE `+cond+`
		ON CONFLICT (id) DO UPDATE SET denied_until = greatest(denied_tokens.denied_until, excluded.denied_until)`,
		arg, denyUntil); err != nil {
		return 0, storeError("revoke", err)
	}
	tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE `+cond+` AND revoked_at IS NULL`, arg, at)
	if err != nil {
		return 0, storeError("revoke", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, storeError("revoke", err)
	}
	return int(tag.RowsAffected()), nil
}

// DenyToken denies id until until, or longer if it already was.
func (s *Store) DenyToken(ctx context.Context, id string, until time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO denied_tokens (id, denied_until) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET denied_until = greatest(denied_tokens.denied_until, excluded.denied_until)`, id, until)
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
	if len(ids) == 0 {
		return false, nil
	}
	var denied bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM denied_tokens WHERE id = ANY($1) AND denied_until > $2)`,
		ids, at).Scan(&denied)
	if err != nil {
		return false, storeError("check denylist", err)
	}
	return denied, nil
}

// PurgeTokens drops refresh tokens and denials that expired before before.
func (s *Store) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	var total int64
	for _, q := range []string{
		`DELETE FROM refresh_tokens WHERE expires_at < $1`,
		`DELETE FROM denied_tokens WHERE denied_until < $1`,
	} {
		tag, err := s.pool.Exec(ctx, q, before)
		if err != nil {
			return 0, storeError("purge tokens", err)
		}
		total += tag.RowsAffected()
	}
	return int(total), nil
}
