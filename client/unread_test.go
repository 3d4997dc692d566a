package client_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// TestUnreadCountFollowsTheServer: two clients of one user follow the
// count through concurrent creates, reads and deletes, and both end on the
// server's count and version; a client greeted later starts from it.
func TestUnreadCountFollowsTheServer(t *testing.T) {
	h := startHerald(t, nil)
	api := h.api()
	ctx := ctxT(t, 60*time.Second)
	var tabs []*client.Client
	for range 2 {
		c, _ := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken(h.token("ivy", time.Hour))})
		if err := c.ConnectWithRetry(ctx); err != nil {
			t.Fatal(err)
		}
		if u, known := c.Unread(); !known || u.Count != 0 {
			t.Fatalf("a fresh user's greeting gave Unread %+v, %v", u, known)
		}
		tabs = append(tabs, c)
	}
	var mu sync.Mutex
	var seen []int
	tabs[0].OnUnreadCount(func(n int) { mu.Lock(); seen = append(seen, n); mu.Unlock() })

	var wg sync.WaitGroup
	ids := make(chan string, 64)
	for w := range 4 {
		wg.Go(func() {
			for i := range 8 {
				n, err := api.CreateNotification(ctx, client.NewNotification{UserID: "ivy", Type: "t", Title: fmt.Sprintf("%d-%d", w, i)})
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					ids <- n.ID
				}
			}
		})
	}
	wg.Go(func() {
		for range 12 {
			id := <-ids
			var err error
			if len(id)%2 == 0 {
				err = tabs[1].MarkRead(ctx, id)
			} else {
				err = tabs[0].Delete(ctx, id)
			}
			if err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want, err := tabs[0].UnreadCount(ctx)
	if err != nil || want != 20 {
		t.Fatalf("server count = %d, %v; want 32 - 12 = 20", want, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range tabs {
		for {
			if u, _ := c.Unread(); u.Count == want {
				break
			}
			if time.Now().After(deadline) {
				u, _ := c.Unread()
				t.Fatalf("a tab stayed on %+v, the server has %d", u, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	u0, _ := tabs[0].Unread()
	u1, _ := tabs[1].Unread()
	if u0 != u1 {
		t.Fatalf("the tabs hold %+v and %+v", u0, u1)
	}
	late, _ := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken(h.token("ivy", time.Hour))})
	if err := late.ConnectWithRetry(ctx); err != nil {
		t.Fatal(err)
	}
	if u, known := late.Unread(); !known || u != u0 {
		t.Fatalf("a later client was greeted with %+v, %v; the tabs hold %+v", u, known, u0)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[len(seen)-1] != want {
		t.Fatalf("OnUnreadCount saw %v, want it to end on %d", seen, want)
	}
}
