package storetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/storetest"
)

// TestMemory runs the suite against the reference in-memory store.
func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) herald.Store { return memory.NewStore(memory.Config{}) })
}

// mutants are stores with one deliberate bug each; the suite must catch every one.
var mutants = map[string]func(*mutant){
	"MarkReadIgnoresOwner":  func(m *mutant) { m.ignoreOwner = true },
	"CreatedAlwaysTrue":     func(m *mutant) { m.allCreated = true },
	"KeysIgnored":           func(m *mutant) { m.dropKeys = true },
	"UnreadOnlyIgnored":     func(m *mutant) { m.dropUnreadOnly = true },
	"SinceNewestFirst":      func(m *mutant) { m.sinceReversed = true },
	"DataReformatted":       func(m *mutant) { m.reformatData = true },
	"MarkReadAlwaysChanged": func(m *mutant) { m.alwaysChanged = true },
	"CountMissesDeletes":    func(m *mutant) { m.countDeleted = true },
	"CountAddsReplays":      func(m *mutant) { m.countReplays = true },
	"LimitOffByOne":         func(m *mutant) { m.limitPlusOne = true },
	"ReadReturnsOldCount":   func(m *mutant) { m.staleRead = true },
	"DeleteKeepsVersion":    func(m *mutant) { m.flatVersion = true },
}

// TestSuiteCatchesMutants runs the suite against each mutant in a child
// process and expects it to fail.
func TestSuiteCatchesMutants(t *testing.T) {
	if os.Getenv("STORETEST_MUTANT") != "" {
		t.Skip("inside a mutant run")
	}
	names := make([]string, 0, len(mutants))
	for name := range mutants {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutantSuite$", "-test.count=1")
			cmd.Env = append(os.Environ(), "STORETEST_MUTANT="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with bug %s:\n%s", name, out)
			}
			if !bytes.Contains(out, []byte("--- FAIL: TestMutantSuite")) {
				t.Fatalf("the mutant run failed without a suite failure:\n%s", out)
			}
		})
	}
}

// TestMutantSuite is the child process of TestSuiteCatchesMutants.
func TestMutantSuite(t *testing.T) {
	name := os.Getenv("STORETEST_MUTANT")
	if name == "" {
		t.Skip("run by TestSuiteCatchesMutants")
	}
	set, ok := mutants[name]
	if !ok {
		t.Fatalf("no mutant %q", name)
	}
	storetest.Run(t, func(t *testing.T) herald.Store {
		m := &mutant{Store: memory.NewStore(memory.Config{}), owners: map[string]string{}}
		set(m)
		return m
	})
}

// mutant wraps the memory store and breaks it as its flags say.
type mutant struct {
	*memory.Store
	ignoreOwner, allCreated, dropKeys, dropUnreadOnly, sinceReversed bool
	reformatData, alwaysChanged, countDeleted, limitPlusOne          bool
	countReplays, staleRead, flatVersion                             bool

	mu     sync.Mutex
	owners map[string]string // id -> user
	extra  map[string]int    // user -> notifications the count wrongly includes
}

func (m *mutant) CreateNotifications(ctx context.Context, ns []*herald.NewNotification, opts herald.CreateOptions) ([]herald.Created, error) {
	for _, n := range ns {
		if m.dropKeys {
			n.IdempotencyKey = ""
		}
		if m.reformatData && len(n.Data) > 0 {
			var buf bytes.Buffer
			if json.Compact(&buf, n.Data) == nil {
				n.Data = buf.Bytes()
			}
		}
	}
	res, err := m.Store.CreateNotifications(ctx, ns, opts)
	m.mu.Lock()
	for i := range res {
		n := res[i].Notification
		m.owners[n.ID] = n.UserID
		if m.countReplays && err == nil && res[i].Replayed {
			m.count(n.UserID)
		}
		if m.allCreated && err == nil {
			res[i].Replayed = false
		}
	}
	m.mu.Unlock()
	return res, err
}

func (m *mutant) MarkRead(ctx context.Context, userID, id string, at time.Time) (herald.Unread, bool, error) {
	if m.ignoreOwner {
		m.mu.Lock()
		if owner, ok := m.owners[id]; ok {
			userID = owner
		}
		m.mu.Unlock()
	}
	u, changed, err := m.Store.MarkRead(ctx, userID, id, at)
	if m.alwaysChanged && err == nil {
		changed = true
	}
	if m.staleRead && changed {
		u.Count++ // the count before the change
	}
	return u, changed, err
}

func (m *mutant) DeleteNotification(ctx context.Context, userID, id string) (herald.Unread, bool, error) {
	u, wasUnread, err := m.Store.DeleteNotification(ctx, userID, id)
	if m.countDeleted && wasUnread {
		m.mu.Lock()
		m.count(userID)
		m.mu.Unlock()
	}
	if m.flatVersion && wasUnread {
		u.Version-- // the version of the change before
	}
	return u, wasUnread, err
}

// count makes UnreadCount of userID one too high. m.mu must be held.
func (m *mutant) count(userID string) {
	if m.extra == nil {
		m.extra = map[string]int{}
	}
	m.extra[userID]++
}

func (m *mutant) UnreadCount(ctx context.Context, userID string) (herald.Unread, error) {
	u, err := m.Store.UnreadCount(ctx, userID)
	m.mu.Lock()
	u.Count += m.extra[userID]
	m.mu.Unlock()
	return u, err
}

func (m *mutant) FindNotifications(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	if m.dropUnreadOnly {
		f.UnreadOnly = false
	}
	if m.limitPlusOne && f.Limit > 0 {
		f.Limit++
	}
	page, err := m.Store.FindNotifications(ctx, f)
	if m.sinceReversed && f.Since > 0 {
		slices.Reverse(page)
	}
	return page, err
}
