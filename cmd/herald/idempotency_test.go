package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// lossyProxy forwards requests to a real node and, for the first POST,
// drops the answer after the node committed it: the connection is cut, as
// when a client's timeout fires or a proxy dies. It records the
// Idempotency-Key of each POST.
type lossyProxy struct {
	mu     sync.Mutex
	target string
	keys   []string
	posts  int
}

func (p *lossyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	p.mu.Lock()
	first := false
	if r.Method == "POST" {
		p.keys = append(p.keys, r.Header.Get("Idempotency-Key"))
		p.posts++
		first = p.posts == 1
	}
	p.mu.Unlock()
	if first {
		panic(http.ErrAbortHandler) // committed upstream; the client sees the connection drop
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// TestCreateRetriesWithOneKey: a create whose answer is lost after the
// commit is retried by the Go SDK and by `herald send` with the key of the
// first attempt, so the user gets one notification, not two.
func TestCreateRetriesWithOneKey(t *testing.T) {
	s := startApp(t, nil)
	for _, via := range []string{"sdk", "cli"} {
		p := &lossyProxy{target: s.addr}
		proxy := httptest.NewServer(p)
		user := "once-" + via
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var id string
		switch via {
		case "sdk":
			api, err := client.NewAPI(client.APIConfig{URL: proxy.URL, Auth: client.StaticToken(s.apiKey)})
			if err != nil {
				t.Fatal(err)
			}
			n, err := api.CreateNotification(ctx, client.NewNotification{UserID: user, Type: "t", Title: "once"})
			if err != nil {
				t.Fatalf("sdk: %v", err)
			}
			id = n.ID
		case "cli":
			var out, errOut syncBuffer
			err := run(ctx, []string{"send", "--user", user, "--title", "once", "--url", proxy.URL},
				mapEnv(map[string]string{"HERALD_API_KEY": s.apiKey}), &out, &errOut)
			if err != nil {
				t.Fatalf("cli: %v %s", err, errOut.String())
			}
			id = out.String()
		}
		cancel()
		proxy.Close()
		if len(p.keys) != 2 || p.keys[0] == "" || p.keys[0] != p.keys[1] {
			t.Errorf("%s: the POSTs carried keys %q, want two of one key", via, p.keys)
		}
		_, body := s.do("GET", "/api/notifications", token(t, s.secret, user), nil)
		if n := strings.Count(string(body), `"title":"once"`); n != 1 {
			t.Errorf("%s: the inbox holds %d notifications, want 1: %s", via, n, body)
		}
		if !strings.Contains(string(body), firstID(id)) {
			t.Errorf("%s: the retry answered %q, not the stored notification: %s", via, id, body)
		}
	}
}

// firstID returns the "id" of the JSON in s, or s itself.
func firstID(s string) string {
	if _, rest, ok := strings.Cut(s, `"id":"`); ok {
		id, _, _ := strings.Cut(rest, `"`)
		return id
	}
	return s
}
