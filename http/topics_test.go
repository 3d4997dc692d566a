package http_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/memory"
)

// topicEnv is a Server whose topic routes run on a real inbox and store.
func topicEnv(t *testing.T) *env {
	t.Helper()
	svc, err := inbox.New(inbox.Config{Store: memory.NewStore(memory.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, func(c *heraldhttp.Config) { c.Topics = svc })
}

func TestTopicMembersRoutes(t *testing.T) {
	e := topicEnv(t)
	r := e.backend("PUT", "/api/topics/team.sales/members", `["ana","bo","cy"]`)
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"added":3}` {
		t.Fatalf("PUT members = %d %s", r.status, r.body)
	}
	r = e.backend("PUT", "/api/topics/team.sales/members", `{"userIds":["bo","dee"]}`)
	if strings.TrimSpace(string(r.body)) != `{"added":1}` {
		t.Fatalf("PUT members again = %d %s", r.status, r.body)
	}
	r = e.backend("DELETE", "/api/topics/team.sales/members", `["cy","zed"]`)
	if strings.TrimSpace(string(r.body)) != `{"removed":1}` {
		t.Fatalf("DELETE members = %d %s", r.status, r.body)
	}
	r = e.backend("GET", "/api/topics/team.sales/members?limit=2", "")
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"userIds":["ana","bo"],"nextCursor":"bo"}` {
		t.Fatalf("first page = %d %s", r.status, r.body)
	}
	r = e.backend("GET", "/api/topics/team.sales/members?limit=2&after=bo", "")
	if strings.TrimSpace(string(r.body)) != `{"userIds":["dee"],"nextCursor":null}` {
		t.Fatalf("second page = %d %s", r.status, r.body)
	}
	// A full call, MaxTopicMembersPerCall ids, is larger than the default
	// body limit of other routes and still taken.
	full := make([]string, herald.MaxTopicMembersPerCall)
	for i := range full {
		full[i] = fmt.Sprintf("member-%05d", i)
	}
	body, _ := json.Marshal(full)
	if len(body) <= heraldhttp.DefaultMaxBodyBytes {
		t.Fatalf("a full call is %d bytes, not above the default body limit", len(body))
	}
	r = e.backend("PUT", "/api/topics/big/members", string(body))
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != fmt.Sprintf(`{"added":%d}`, len(full)) {
		t.Fatalf("PUT %d members = %d %.200s", len(full), r.status, r.body)
	}
	r = e.backend("DELETE", "/api/topics/big/members", string(body))
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != fmt.Sprintf(`{"removed":%d}`, len(full)) {
		t.Fatalf("DELETE %d members = %d %.200s", len(full), r.status, r.body)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		code               herald.ErrorCode
	}{
		{"PUT", "/api/topics/-bad/members", `["a"]`, 400, herald.EINVALID},
		{"PUT", "/api/topics/team/members", `["a", 7]`, 400, herald.EINVALID},
		{"PUT", "/api/topics/team/members", `{"users":["a"]}`, 400, herald.EINVALID},
		{"PUT", "/api/topics/team/members", `["new\nline"]`, 400, herald.EINVALID},
		{"PUT", "/api/topics/team/members", `[` + strings.Repeat(`"u",`, herald.MaxTopicMembersPerCall) + `"u"]`, 413, herald.ETOOLARGE},
		{"GET", "/api/topics/team/members?limit=0", "", 400, herald.EINVALID},
		{"GET", "/api/topics/team/members?after=%00", "", 400, herald.EINVALID},
		{"POST", "/api/topics/team/notifications", `{"userId":"ana","type":"t","title":"x"}`, 400, herald.EINVALID},
		{"POST", "/api/topics/team/notifications", `{"type":"t"}`, 400, herald.EINVALID},
		{"POST", "/api/topics/team/notifications", `{"type":"t","title":"x","data":"text"}`, 400, herald.EINVALID},
		{"GET", "/api/topics/team/notifications/0190c1f2-7a3b-7000-8000-00000000c0de", "", 404, herald.ENOTFOUND},
	} {
		expectError(t, e.backend(c.method, c.path, c.body), c.status, c.code)
	}
	// The routes are the server API's: a user's token does not open them.
	expectError(t, e.as("ana", "GET", "/api/topics/team.sales/members"), 401, herald.ETOKEN)
}

func TestSendToTopicRoute(t *testing.T) {
	e := topicEnv(t)
	e.backend("PUT", "/api/topics/trip:1/members", `["ana","bo"]`)
	send := func(key string) (int, map[string]any) {
		r := e.do(req{method: "POST", path: "/api/topics/trip:1/notifications", auth: "Bearer " + apiKey,
			body: `{"type":"trip","title":"Boarding","data":{ "gate" : 4 }}`, header: map[string]string{"Idempotency-Key": key}})
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		return r.status, m
	}
	status, first := send("boarding-1")
	if status != http.StatusAccepted || first["members"] != 2.0 || first["status"] != "pending" || first["topic"] != "trip:1" {
		t.Fatalf("send = %d %v", status, first)
	}
	status, again := send("boarding-1")
	if status != http.StatusOK || again["id"] != first["id"] {
		t.Fatalf("retry = %d %v, want 200 with %v", status, again, first["id"])
	}
	r := e.backend("GET", "/api/topics/trip:1/notifications/"+first["id"].(string), "")
	if r.status != 200 || !strings.Contains(string(r.body), `"members":2`) {
		t.Fatalf("progress = %d %s", r.status, r.body)
	}
	expectError(t, e.backend("GET", "/api/topics/trip:2/notifications/"+first["id"].(string), ""), 404, herald.ENOTFOUND)
}
