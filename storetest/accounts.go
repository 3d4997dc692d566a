package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// RunAccounts runs the herald.AccountStore suite, each case in its own
// subtest with a fresh store from open, which closes it when the test ends.
func RunAccounts(t *testing.T, open func(t *testing.T) herald.AccountStore) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s herald.AccountStore)
	}{
		{"CreateAndFind", testAccountCreateFind},
		{"List", testAccountList},
		{"Disable", testAccountDisable},
		{"Delete", testAccountDelete},
		{"Rotate", testRefreshRotate},
		{"RotateRevoked", testRefreshRotateRevoked},
		{"RevokeFamily", testRevokeFamily},
		{"RevokeAccountTokens", testRevokeAccountTokens},
		{"Denylist", testDenylist},
		{"Purge", testPurge},
		{"ConcurrentRotate", testConcurrentRotate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// base is the suite's reference time: stores keep microseconds.
var base = time.Date(2025, 11, 10, 8, 0, 0, 0, time.UTC)

func newAccount(name string) *herald.Account {
	return &herald.Account{Username: name, UserID: "uid-" + name, PasswordHash: "$argon2id$hash-of-" + name}
}

func mustCreateAccount(t *testing.T, s herald.AccountStore, a *herald.Account) {
	t.Helper()
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount(%s): %v", a.Username, err)
	}
}

// newRefresh returns a token of family fam for user, created at base+at and
// living a week.
func newRefresh(id, fam, user string, at time.Duration) *herald.RefreshToken {
	return &herald.RefreshToken{ID: id, FamilyID: fam, Username: user,
		CreatedAt: base.Add(at), ExpiresAt: base.Add(at + 7*24*time.Hour)}
}

func mustRotate(t *testing.T, s herald.AccountStore, id string, next *herald.RefreshToken) *herald.RefreshToken {
	t.Helper()
	old, err := s.RotateRefreshToken(ctx, id, next)
	if err != nil {
		t.Fatalf("RotateRefreshToken(%s -> %s): %v", id, next.ID, err)
	}
	return old
}

func wantDenied(t *testing.T, s herald.AccountStore, at time.Time, want bool, ids ...string) {
	t.Helper()
	got, err := s.TokenDenied(ctx, at, ids...)
	if err != nil {
		t.Fatalf("TokenDenied: %v", err)
	}
	if got != want {
		t.Fatalf("TokenDenied(%v at %v) = %v, want %v", ids, at, got, want)
	}
}

func testAccountCreateFind(t *testing.T, s herald.AccountStore) {
	a := newAccount("alice")
	mustCreateAccount(t, s, a)
	if a.CreatedAt.IsZero() || !a.UpdatedAt.Equal(a.CreatedAt) {
		t.Fatalf("CreateAccount set CreatedAt %v, UpdatedAt %v", a.CreatedAt, a.UpdatedAt)
	}
	got, err := s.FindAccount(ctx, "alice")
	if err != nil {
		t.Fatalf("FindAccount: %v", err)
	}
	if got.Username != "alice" || got.UserID != "uid-alice" || got.PasswordHash != a.PasswordHash || got.Disabled {
		t.Fatalf("FindAccount = %+v", got)
	}
	if !got.CreatedAt.Equal(a.CreatedAt.Truncate(time.Microsecond)) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want %v in UTC", got.CreatedAt, a.CreatedAt)
	}
	wantCode(t, "a second alice", s.CreateAccount(ctx, newAccount("alice")), herald.ECONFLICT)
	_, err = s.FindAccount(ctx, "bob")
	wantCode(t, "FindAccount(bob)", err, herald.ENOTFOUND)
	// Usernames are matched exactly.
	_, err = s.FindAccount(ctx, "Alice")
	wantCode(t, "FindAccount(Alice)", err, herald.ENOTFOUND)
	// The result is the caller's: changing it changes nothing stored.
	got.PasswordHash = "changed"
	again, _ := s.FindAccount(ctx, "alice")
	if again.PasswordHash != a.PasswordHash {
		t.Fatal("FindAccount returned the store's own record")
	}
}

func testAccountList(t *testing.T, s herald.AccountStore) {
	list, err := s.ListAccounts(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("ListAccounts on an empty store = %v, %v", list, err)
	}
	for _, n := range []string{"carol", "alice", "bob"} {
		mustCreateAccount(t, s, newAccount(n))
	}
	list, err = s.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.Username)
	}
	if !slices.Equal(names, []string{"alice", "bob", "carol"}) {
		t.Fatalf("ListAccounts = %v, want alice, bob, carol", names)
	}
}

func testAccountDisable(t *testing.T, s herald.AccountStore) {
	mustCreateAccount(t, s, newAccount("alice"))
	mustCreateAccount(t, s, newAccount("bob"))
	if err := s.SetAccountDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	a, _ := s.FindAccount(ctx, "alice")
	b, _ := s.FindAccount(ctx, "bob")
	if !a.Disabled || b.Disabled {
		t.Fatalf("after disabling alice: alice %v, bob %v", a.Disabled, b.Disabled)
	}
	if err := s.SetAccountDisabled(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if a, _ = s.FindAccount(ctx, "alice"); a.Disabled {
		t.Fatal("alice still disabled after enabling")
	}
	wantCode(t, "disabling nobody", s.SetAccountDisabled(ctx, "nobody", true), herald.ENOTFOUND)
}

func testAccountDelete(t *testing.T, s herald.AccountStore) {
	mustCreateAccount(t, s, newAccount("alice"))
	mustCreateAccount(t, s, newAccount("bob"))
	if err := s.CreateRefreshToken(ctx, newRefresh("a1", "fa", "alice", 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshToken(ctx, newRefresh("b1", "fb", "bob", 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err := s.FindAccount(ctx, "alice")
	wantCode(t, "FindAccount after delete", err, herald.ENOTFOUND)
	_, err = s.RotateRefreshToken(ctx, "a1", newRefresh("a2", "fa", "alice", time.Minute))
	wantCode(t, "rotating a deleted account's token", err, herald.ENOTFOUND)
	wantCode(t, "deleting twice", s.DeleteAccount(ctx, "alice"), herald.ENOTFOUND)
	mustRotate(t, s, "b1", newRefresh("b2", "fb", "bob", time.Minute))
}

func testRefreshRotate(t *testing.T, s herald.AccountStore) {
	mustCreateAccount(t, s, newAccount("alice"))
	if err := s.CreateRefreshToken(ctx, newRefresh("t1", "fam", "alice", 0)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "a duplicate id", s.CreateRefreshToken(ctx, newRefresh("t1", "other", "alice", 0)), herald.ECONFLICT)

	old := mustRotate(t, s, "t1", newRefresh("t2", "fam", "alice", time.Minute))
	if old.ID != "t1" || old.FamilyID != "fam" || old.Username != "alice" || old.SpentAt != nil || old.RevokedAt != nil {
		t.Fatalf("rotation returned %+v, want t1 as it was before", old)
	}
	if !old.ExpiresAt.Equal(base.Add(7*24*time.Hour)) || !old.CreatedAt.Equal(base) {
		t.Fatalf("rotation returned times %v, %v", old.CreatedAt, old.ExpiresAt)
	}
	// t1 is spent: presenting it again is a conflict, and tells its family.
	again, err := s.RotateRefreshToken(ctx, "t1", newRefresh("t2b", "fam", "alice", 2*time.Minute))
	wantCode(t, "rotating a spent token", err, herald.ECONFLICT)
	if again == nil || again.FamilyID != "fam" || again.SpentAt == nil || !again.SpentAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("the spent token came back as %+v, want its family and SpentAt", again)
	}
	// t2b was not stored.
	_, err = s.RotateRefreshToken(ctx, "t2b", newRefresh("t3b", "fam", "alice", 3*time.Minute))
	wantCode(t, "rotating a token a refused rotation offered", err, herald.ENOTFOUND)
	// The successor rotates, and its successor joins the family whatever
	// family and account it was offered with.
	mustRotate(t, s, "t2", newRefresh("t3", "", "", 3*time.Minute))
	if old := mustRotate(t, s, "t3", newRefresh("t4", "", "", 4*time.Minute)); old.FamilyID != "fam" || old.Username != "alice" {
		t.Fatalf("t3 = %+v, want it in alice's family fam", old)
	}
	if n, err := s.RevokeFamily(ctx, "fam", base.Add(5*time.Minute), base.Add(time.Hour)); err != nil || n != 4 {
		t.Fatalf("RevokeFamily = %d, %v, want t1 to t4 revoked", n, err)
	}
	_, err = s.RotateRefreshToken(ctx, "nope", newRefresh("x", "fam", "alice", 0))
	wantCode(t, "rotating an unknown token", err, herald.ENOTFOUND)
}

func testRefreshRotateRevoked(t *testing.T, s herald.AccountStore) {
	mustCreateAccount(t, s, newAccount("alice"))
	if err := s.CreateRefreshToken(ctx, newRefresh("t1", "fam", "alice", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeFamily(ctx, "fam", base.Add(time.Minute), base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.RotateRefreshToken(ctx, "t1", newRefresh("t2", "fam", "alice", 2*time.Minute))
	wantCode(t, "rotating a revoked token", err, herald.ECONFLICT)
	if got == nil || got.RevokedAt == nil || !got.RevokedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("the revoked token came back as %+v", got)
	}
}

func testRevokeFamily(t *testing.T, s herald.AccountStore) {
	mustCreateAccount(t, s, newAccount("alice"))
	for _, tok := range []*herald.RefreshToken{newRefresh("a1", "fa", "alice", 0), newRefresh("b1", "fb", "alice", 0)} {
		if err := s.CreateRefreshToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	mustRotate(t, s, "a1", newRefresh("a2", "fa", "alice", time.Minute))
	at, until := base.Add(2*time.Minute), base.Add(20*time.Minute)
	n, err := s.RevokeFamily(ctx, "fa", at, until)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("RevokeFamily revoked %d tokens, want 2 (the spent one and its successor)", n)
	}
	_, err = s.RotateRefreshToken(ctx, "a2", newRefresh("a3", "fa", "alice", 3*time.Minute))
	wantCode(t, "rotating in a revoked family", err, herald.ECONFLICT)
	// The other family lives; the revoked family's id is denied until until.
	mustRotate(t, s, "b1", newRefresh("b2", "fb", "alice", 3*time.Minute))
	wantDenied(t, s, at, true, "fa")
	wantDenied(t, s, until.Add(-time.Second), true, "x", "fa")
	wantDenied(t, s, until.Add(time.Second), false, "fa")
	wantDenied(t, s, at, false, "fb")
	// Revoking again revokes nothing more, and is no error.
	if n, err := s.RevokeFamily(ctx, "fa", at, until); err != nil || n != 0 {
		t.Fatalf("revoking twice = %d, %v", n, err)
	}
	if n, err := s.RevokeFamily(ctx, "unknown", at, until); err != nil || n != 0 {
		t.Fatalf("revoking an unknown family = %d, %v", n, err)
	}
}

func testRevokeAccountTokens(t *testing.T, s herald.AccountStore) {
	mustCreateAccount(t, s, newAccount("alice"))
	mustCreateAccount(t, s, newAccount("bob"))
	for _, tok := range []*herald.RefreshToken{
		newRefresh("a1", "fa1", "alice", 0), newRefresh("a2", "fa2", "alice", 0), newRefresh("b1", "fb", "bob", 0),
	} {
		if err := s.CreateRefreshToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	at, until := base.Add(time.Minute), base.Add(time.Hour)
	n, err := s.RevokeAccountTokens(ctx, "alice", at, until)
	if err != nil || n != 2 {
		t.Fatalf("RevokeAccountTokens = %d, %v, want 2", n, err)
	}
	for _, id := range []string{"a1", "a2"} {
		_, err := s.RotateRefreshToken(ctx, id, newRefresh(id+"x", "f", "alice", 2*time.Minute))
		wantCode(t, "rotating "+id, err, herald.ECONFLICT)
	}
	wantDenied(t, s, at, true, "fa1")
	wantDenied(t, s, at, true, "fa2")
	wantDenied(t, s, at, false, "fb")
	mustRotate(t, s, "b1", newRefresh("b2", "fb", "bob", 2*time.Minute))
}

func testDenylist(t *testing.T, s herald.AccountStore) {
	wantDenied(t, s, base, false, "j1")
	wantDenied(t, s, base, false) // no ids at all
	if err := s.DenyToken(ctx, "j1", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, s, base, true, "j1")
	wantDenied(t, s, base, true, "other", "j1")
	wantDenied(t, s, base, false, "other", "")
	wantDenied(t, s, base.Add(2*time.Minute), false, "j1")
	// Denying again extends, never shortens.
	if err := s.DenyToken(ctx, "j1", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.DenyToken(ctx, "j1", base.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, s, base.Add(30*time.Minute), true, "j1")
}

func testPurge(t *testing.T, s herald.AccountStore) {
	mustCreateAccount(t, s, newAccount("alice"))
	old := newRefresh("old", "f1", "alice", 0)
	old.ExpiresAt = base.Add(time.Hour)
	if err := s.CreateRefreshToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshToken(ctx, newRefresh("live", "f2", "alice", 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.DenyToken(ctx, "gone", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.DenyToken(ctx, "kept", base.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeTokens(ctx, base.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PurgeTokens = %d, %v, want 2 rows", n, err)
	}
	_, err = s.RotateRefreshToken(ctx, "old", newRefresh("x", "f1", "alice", 3*time.Hour))
	wantCode(t, "rotating a purged token", err, herald.ENOTFOUND)
	mustRotate(t, s, "live", newRefresh("live2", "f2", "alice", 3*time.Hour))
	wantDenied(t, s, base, true, "kept")
	wantDenied(t, s, base, false, "gone")
}

func testConcurrentRotate(t *testing.T, s herald.AccountStore) {
	mustCreateAccount(t, s, newAccount("alice"))
	if err := s.CreateRefreshToken(ctx, newRefresh("t0", "fam", "alice", 0)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RotateRefreshToken(ctx, "t0", newRefresh(fmt.Sprintf("t1-%d", i), "fam", "alice", time.Minute))
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch herald.CodeOf(err) {
		case "":
			won++
		case herald.ECONFLICT:
		default:
			t.Errorf("rotation %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent rotations of one token won, want exactly 1", won, n)
	}
}
