package auth

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

// CreateAccount validates and stores a new account with the argon2id hash
// of password. userID defaults to username.
func CreateAccount(ctx context.Context, store herald.AccountStore, username, userID, password string, p Params) (*herald.Account, error) {
	if userID == "" {
		userID = username
	}
	if err := CheckUsername(username); err != nil {
		return nil, err
	}
	if err := herald.CheckUserID("user id", userID); err != nil {
		return nil, err
	}
	if err := CheckNewPassword(password); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password, p)
	if err != nil {
		return nil, err
	}
	a := &herald.Account{Username: username, UserID: userID, PasswordHash: hash}
	if err := store.CreateAccount(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// DisableAccount disables (or enables) an account. Disabling revokes its
// sessions at once and denies their access tokens for accessTTL; the running
// servers close its sockets at their next poll.
func DisableAccount(ctx context.Context, store herald.AccountStore, username string, disabled bool, accessTTL time.Duration) error {
	if err := store.SetAccountDisabled(ctx, username, disabled); err != nil {
		return err
	}
	if !disabled {
		return nil
	}
	now := time.Now()
	_, err := store.RevokeAccountTokens(ctx, username, now, now.Add(accessTTL+time.Minute))
	return err
}

// RemoveAccount revokes an account's sessions, denying their access tokens
// for accessTTL, and then deletes it.
func RemoveAccount(ctx context.Context, store herald.AccountStore, username string, accessTTL time.Duration) error {
	if _, err := store.FindAccount(ctx, username); err != nil {
		return err
	}
	now := time.Now()
	if _, err := store.RevokeAccountTokens(ctx, username, now, now.Add(accessTTL+time.Minute)); err != nil {
		return err
	}
	return store.DeleteAccount(ctx, username)
}
