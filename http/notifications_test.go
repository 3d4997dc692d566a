package http_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

func TestCreateNotification(t *testing.T) {
	e := newEnv(t, nil)
	r := e.backend("POST", "/api/notifications", `{"userId":"alice","type":"payment_due","title":"Payment Due",
		"message":"You owe $5.","link":"/pay/1","data":{ "payment_id" : 7 },"unknownField":true}`)
	if r.status != http.StatusCreated {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	var n map[string]any
	if err := json.Unmarshal(r.body, &n); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "n1", "seq": 1.0, "userId": "alice", "type": "payment_due", "title": "Payment Due",
		"message": "You owe $5.", "link": "/pay/1", "data": map[string]any{"payment_id": 7.0}, "read": false,
		"createdAt": "2025-11-10T08:15:30.123Z", "timestamp": "2025-11-10T08:15:30.123Z", // the one wire format
	}
	if fmt.Sprint(n) != fmt.Sprint(want) {
		t.Errorf("notification = %v\nwant %v", n, want)
	}
	e.inbox.mu.Lock()
	stored := e.inbox.all[0]
	e.inbox.mu.Unlock()
	if string(stored.Data) != `{"payment_id":7}` {
		t.Errorf("stored data = %s, want it compacted", stored.Data)
	}

	// null data is no data; a given id is kept.
	const custom = "0190c1f2-7a3b-7000-8000-00000000c0de"
	r = e.backend("POST", "/api/notifications", `{"id":"`+custom+`","userId":"bob","type":"t","title":"T","data":null}`)
	if r.status != http.StatusCreated {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	if m := r.json(t); m["id"] != custom || m["data"] != nil {
		t.Errorf("notification = %v", m)
	}
}

func TestCreateNotificationIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	send := func(key, title string) response {
		return e.do(req{method: "POST", path: "/api/notifications", auth: "Bearer " + apiKey,
			body:   `{"userId":"alice","type":"t","title":"` + title + `"}`,
			header: map[string]string{"Idempotency-Key": key}})
	}
	first := send("order-17", "First")
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	retry := send("order-17", "Retried")
	if retry.status != http.StatusOK {
		t.Fatalf("retry: %d %s, want 200", retry.status, retry.body)
	}
	if string(retry.body) != string(first.body) {
		t.Errorf("retry answered %s, want the first notification %s", retry.body, first.body)
	}
	if other := send("order-18", "Other"); other.status != http.StatusCreated {
		t.Errorf("new key: %d", other.status)
	}
	if n := e.inbox.stored(); n != 2 {
		t.Errorf("%d notifications stored, want 2", n)
	}
	msg := expectError(t, send(strings.Repeat("k", herald.MaxKeyLen+1), "Long"), 400, herald.EINVALID)
	if !strings.Contains(msg, "idempotency key") {
		t.Errorf("message = %q", msg)
	}
}

// TestLargeBatchBody sends a batch whose declared length is past what the
// server allocates before the bytes arrive: it is read as it comes, whole.
func TestLargeBatchBody(t *testing.T) {
	e := newEnv(t, nil)
	var items []string
	message := strings.Repeat("m", 900)
	for i := range 100 {
		items = append(items, fmt.Sprintf(`{"userId":"u%d","type":"t","title":"n%d","message":%q}`, i, i, message))
	}
	body := `{"notifications":[` + strings.Join(items, ",") + `]}`
	if len(body) <= 64<<10 {
		t.Fatalf("body of %d bytes, want one past 64 KiB", len(body))
	}
	r := e.backend("POST", "/api/notifications", body)
	if r.status != http.StatusCreated {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	var got struct{ Notifications []herald.Notification }
	if err := json.Unmarshal(r.body, &got); err != nil || len(got.Notifications) != 100 || got.Notifications[99].Message != message {
		t.Fatalf("%d notifications back (%v)", len(got.Notifications), err)
	}
}

func TestCreateNotificationBatch(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"notifications":[
		{"userId":"alice","type":"t","title":"One","idempotencyKey":"k1"},
		{"userId":"bob","type":"t","title":"Two","idempotencyKey":"k1"},
		{"userId":"alice","type":"t","title":"Three"}]}`
	r := e.backend("POST", "/api/notifications", body)
	if r.status != http.StatusCreated {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	var got struct{ Notifications []herald.Notification }
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Notifications) != 3 || got.Notifications[0].Title != "One" || got.Notifications[2].Seq != 3 ||
		got.Notifications[1].UserID != "bob" {
		t.Fatalf("notifications = %+v", got.Notifications)
	}

	// Replaying the keyed items alone creates nothing and answers 200.
	r = e.backend("POST", "/api/notifications", `{"notifications":[
		{"userId":"alice","type":"t","title":"One again","idempotencyKey":"k1"},
		{"userId":"bob","type":"t","title":"Two again","idempotencyKey":"k1"}]}`)
	if r.status != http.StatusOK {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	if !strings.Contains(string(r.body), `"title":"One"`) || e.inbox.stored() != 3 {
		t.Errorf("replay answered %s with %d stored", r.body, e.inbox.stored())
	}

	// One new item among replays makes it a 201.
	r = e.backend("POST", "/api/notifications", `{"notifications":[
		{"userId":"alice","type":"t","title":"One","idempotencyKey":"k1"},
		{"userId":"carol","type":"t","title":"New"}]}`)
	if r.status != http.StatusCreated || e.inbox.stored() != 4 {
		t.Errorf("mixed: %d with %d stored", r.status, e.inbox.stored())
	}

	// The largest batch passes.
	items := make([]string, heraldhttp.MaxBatch)
	for i := range items {
		items[i] = `{"userId":"u","type":"t","title":"x"}`
	}
	r = e.backend("POST", "/api/notifications", `{"notifications":[`+strings.Join(items, ",")+`]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("batch of %d: %d %s", len(items), r.status, r.body)
	}
}

func TestCreateNotificationValidation(t *testing.T) {
	e := newEnv(t, nil)
	maxBatch := make([]string, heraldhttp.MaxBatch+1)
	for i := range maxBatch {
		maxBatch[i] = `{}`
	}
	tests := []struct {
		name, body string
		status     int
		code       herald.ErrorCode
		want       string
	}{
		{"no userId", `{"type":"t","title":"T"}`, 400, herald.EINVALID, "userId is required"},
		{"no type", `{"userId":"u","title":"T"}`, 400, herald.EINVALID, "type is required"},
		{"no title", `{"userId":"u","type":"t"}`, 400, herald.EINVALID, "title is required"},
		{"long title", `{"userId":"u","type":"t","title":"` + strings.Repeat("x", herald.MaxTitleLen+1) + `"}`, 400, herald.EINVALID, "title"},
		{"long link", `{"userId":"u","type":"t","title":"T","link":"` + strings.Repeat("x", herald.MaxLinkLen+1) + `"}`, 400, herald.EINVALID, "link"},
		{"data array", `{"userId":"u","type":"t","title":"T","data":[1]}`, 400, herald.EINVALID, "data must be a JSON object"},
		{"data string", `{"userId":"u","type":"t","title":"T","data":"x"}`, 400, herald.EINVALID, "data must be a JSON object"},
		{"data too large", `{"userId":"u","type":"t","title":"T","data":{"x":"` + strings.Repeat("x", herald.MaxDataLen) + `"}}`, 413, herald.ETOOLARGE, "data"},
		{"userId number", `{"userId":7,"type":"t","title":"T"}`, 400, herald.EINVALID, "userId must be a string"},
		{"title object", `{"userId":"u","type":"t","title":{}}`, 400, herald.EINVALID, "title must be a string"},
		{"id too long", `{"id":"` + strings.Repeat("i", 129) + `","userId":"u","type":"t","title":"T"}`, 400, herald.EINVALID, "id must be"},
		{"array body", `[{"userId":"u"}]`, 400, herald.EINVALID, "JSON object"},
		{"bad JSON", `{"userId":"u",}`, 400, herald.EINVALID, "not valid JSON"},
		{"single over 64 KiB", `{"userId":"u","type":"t","title":"T","pad":"` + strings.Repeat("p", 64<<10) + `"}`, 413, herald.ETOOLARGE, "65536"},
		{"batch not array", `{"notifications":{"userId":"u"}}`, 400, herald.EINVALID, "notifications must be an array"},
		{"batch item wrong type", `{"notifications":[{"userId":"u","type":"t","title":1}]}`, 400, herald.EINVALID, "title must be a string"},
		{"batch empty", `{"notifications":[]}`, 400, herald.EINVALID, "must not be empty"},
		{"batch item invalid", `{"notifications":[{"userId":"u","type":"t","title":"T"},{"userId":"u","type":"t"}]}`, 400, herald.EINVALID, "notifications[1]: title is required"},
		{"batch too long", `{"notifications":[` + strings.Join(maxBatch, ",") + `]}`, 413, herald.ETOOLARGE, "1000"},
		{"batch over 1 MiB", `{"notifications":[{"userId":"u","type":"t","title":"T","pad":"` + strings.Repeat("p", 1<<20) + `"}]}`, 413, herald.ETOOLARGE, "1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := expectError(t, e.backend("POST", "/api/notifications", tt.body), tt.status, tt.code)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not mention %q", msg, tt.want)
			}
		})
	}
	// A batch takes per-item keys, not the header.
	r := e.do(req{method: "POST", path: "/api/notifications", auth: "Bearer " + apiKey,
		body:   `{"notifications":[{"userId":"u","type":"t","title":"T"}]}`,
		header: map[string]string{"Idempotency-Key": "k"}})
	if msg := expectError(t, r, 400, herald.EINVALID); !strings.Contains(msg, "idempotencyKey") {
		t.Errorf("message = %q", msg)
	}
	if e.inbox.stored() != 0 {
		t.Errorf("refused requests stored %d notifications", e.inbox.stored())
	}
}

func TestCreateNotificationInboxErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.inbox.failWith(herald.Errorf(herald.EUNAVAILABLE, "store busy"), false)
	body := `{"userId":"u","type":"t","title":"T"}`
	if msg := expectError(t, e.backend("POST", "/api/notifications", body), 503, herald.EUNAVAILABLE); msg != "store busy" {
		t.Errorf("message = %q", msg)
	}
	e.inbox.failWith(fmt.Errorf("pq: password authentication failed for user herald"), false)
	r := e.backend("POST", "/api/notifications", body)
	expectError(t, r, 500, herald.EINTERNAL)
	if strings.Contains(string(r.body), "password") {
		t.Errorf("internal detail leaked: %s", r.body)
	}
}

// seed stores n notifications for user through the API, oldest first.
func seed(t *testing.T, e *env, user string, n int) {
	t.Helper()
	for i := range n {
		r := e.backend("POST", "/api/notifications", fmt.Sprintf(`{"userId":%q,"type":"t","title":"N%d"}`, user, i))
		if r.status != http.StatusCreated {
			t.Fatalf("seed: %d %s", r.status, r.body)
		}
	}
}

type page struct {
	Notifications []herald.Notification
	NextCursor    *string
	UnreadCount   int
}

func listPage(t *testing.T, e *env, user, query string) page {
	t.Helper()
	r := e.as(user, "GET", "/api/notifications"+query)
	if r.status != http.StatusOK {
		t.Fatalf("list%s: %d %s", query, r.status, r.body)
	}
	var p page
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListNotifications(t *testing.T) {
	e := newEnv(t, nil)
	seed(t, e, "alice", 25)
	seed(t, e, "bob", 2)

	p := listPage(t, e, "alice", "")
	if len(p.Notifications) != heraldhttp.DefaultPageSize || p.Notifications[0].Title != "N24" || p.UnreadCount != 25 {
		t.Fatalf("first page: %d items, first %q, unread %d", len(p.Notifications), p.Notifications[0].Title, p.UnreadCount)
	}
	if p.NextCursor == nil || *p.NextCursor != fmt.Sprint(p.Notifications[19].Seq) {
		t.Fatalf("nextCursor = %v, want the last seq %d", p.NextCursor, p.Notifications[19].Seq)
	}
	p2 := listPage(t, e, "alice", "?before="+*p.NextCursor)
	if len(p2.Notifications) != 5 || p2.Notifications[0].Title != "N4" || p2.NextCursor != nil {
		t.Fatalf("second page: %d items, next %v", len(p2.Notifications), p2.NextCursor)
	}
	// nextCursor is null, not absent, on the last page.
	r := e.as("alice", "GET", "/api/notifications?before="+*p.NextCursor)
	if !strings.Contains(string(r.body), `"nextCursor":null`) {
		t.Errorf("last page %s lacks nextCursor:null", r.body)
	}

	// An exact page has no next page.
	if p := listPage(t, e, "bob", "?limit=2"); len(p.Notifications) != 2 || p.NextCursor != nil {
		t.Errorf("exact page: %d items, next %v", len(p.Notifications), p.NextCursor)
	}
	if p := listPage(t, e, "alice", "?limit=100"); len(p.Notifications) != 25 {
		t.Errorf("limit=100: %d items", len(p.Notifications))
	}
	// No one sees another user's notifications.
	for _, n := range listPage(t, e, "bob", "?limit=100").Notifications {
		if n.UserID != "bob" {
			t.Errorf("bob sees %+v", n)
		}
	}
	// An empty inbox is an empty array.
	r = e.as("nobody", "GET", "/api/notifications")
	if !strings.Contains(string(r.body), `"notifications":[]`) {
		t.Errorf("empty inbox: %s", r.body)
	}

	// Unread only.
	id := p.Notifications[0].ID
	if r := e.as("alice", "POST", "/api/notifications/"+id+"/read"); r.status != http.StatusOK {
		t.Fatalf("mark read: %d %s", r.status, r.body)
	}
	p = listPage(t, e, "alice", "?unread=true&limit=100")
	if len(p.Notifications) != 24 || p.UnreadCount != 24 {
		t.Errorf("unread: %d items, count %d", len(p.Notifications), p.UnreadCount)
	}
	for _, n := range p.Notifications {
		if n.ID == id {
			t.Errorf("read notification listed as unread")
		}
	}
	if p := listPage(t, e, "alice", "?unread=false&limit=100"); len(p.Notifications) != 25 {
		t.Errorf("unread=false: %d items", len(p.Notifications))
	}

	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?limit=-1", "?before=0", "?before=-5",
		"?before=abc", "?unread=maybe"} {
		r := e.as("alice", "GET", "/api/notifications"+q)
		expectError(t, r, 400, herald.EINVALID)
	}
}

func TestInboxActions(t *testing.T) {
	e := newEnv(t, nil)
	seed(t, e, "alice", 3)
	seed(t, e, "bob", 1)
	var version int64
	count := func(user string) string {
		r := e.as(user, "GET", "/api/notifications/unread-count")
		if r.status != http.StatusOK {
			t.Fatalf("unread-count: %d %s", r.status, r.body)
		}
		var body struct {
			Count   *int   `json:"count"`
			Version *int64 `json:"version"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || body.Count == nil || body.Version == nil {
			t.Fatalf("unread-count body %s", r.body)
		}
		if user == "alice" {
			if *body.Version < version {
				t.Fatalf("unread-count version went back from %d: %s", version, r.body)
			}
			version = *body.Version
		}
		return fmt.Sprintf(`{"count":%d}`, *body.Count)
	}
	if c := count("alice"); c != `{"count":3}` {
		t.Errorf("count = %s", c)
	}

	// n4 is bob's: alice can neither read nor delete it.
	expectError(t, e.as("alice", "POST", "/api/notifications/n4/read"), 404, herald.ENOTFOUND)
	expectError(t, e.as("alice", "DELETE", "/api/notifications/n4"), 404, herald.ENOTFOUND)
	expectError(t, e.as("alice", "POST", "/api/notifications/missing/read"), 404, herald.ENOTFOUND)

	r := e.as("alice", "POST", "/api/notifications/n1/read")
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"id":"n1","read":true}` {
		t.Fatalf("mark read: %d %s", r.status, r.body)
	}
	if c := count("alice"); c != `{"count":2}` {
		t.Errorf("count after read = %s", c)
	}

	r = e.as("alice", "DELETE", "/api/notifications/n2")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %q", r.status, r.body)
	}
	expectError(t, e.as("alice", "DELETE", "/api/notifications/n2"), 404, herald.ENOTFOUND)

	r = e.as("alice", "POST", "/api/notifications/read-all")
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"updated":1}` {
		t.Fatalf("read-all: %d %s", r.status, r.body)
	}
	if c := count("alice"); c != `{"count":0}` {
		t.Errorf("count after read-all = %s", c)
	}
	if c := count("bob"); c != `{"count":1}` {
		t.Errorf("bob's count = %s, untouched by alice", c)
	}

	long := strings.Repeat("i", herald.MaxKeyLen+1)
	expectError(t, e.as("alice", "POST", "/api/notifications/"+long+"/read"), 400, herald.EINVALID)
	expectError(t, e.as("alice", "DELETE", "/api/notifications/a%00b"), 400, herald.EINVALID)
}

// TestCreateAnswersWithTheInboxEncoding: when the inbox has encoded a new
// notification (for its socket message), the answer is those bytes, not a
// second encoding; in a batch too. A batch with a replay in it, which has no
// such bytes, is encoded whole.
func TestCreateAnswersWithTheInboxEncoding(t *testing.T) {
	e := newEnv(t, nil)
	e.inbox.encode = func(n *herald.Notification) json.RawMessage {
		return json.RawMessage(`{"id":"` + n.ID + `","encodedBy":"inbox"}`)
	}
	r := e.backend("POST", "/api/notifications", `{"userId":"alice","type":"t","title":"One"}`)
	if r.status != http.StatusCreated || string(r.body) != `{"id":"n1","encodedBy":"inbox"}`+"\n" {
		t.Fatalf("single: %d %s", r.status, r.body)
	}
	if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(r.body)) {
		t.Errorf("Content-Length %s for %d bytes", got, len(r.body))
	}
	r = e.backend("POST", "/api/notifications", `{"notifications":[{"userId":"a","type":"t","title":"x"},{"userId":"b","type":"t","title":"y"}]}`)
	if want := `{"notifications":[{"id":"n2","encodedBy":"inbox"},{"id":"n3","encodedBy":"inbox"}]}` + "\n"; r.status != http.StatusCreated || string(r.body) != want {
		t.Fatalf("batch: %d %s, want %s", r.status, r.body, want)
	}
	r = e.backend("POST", "/api/notifications", `{"notifications":[{"userId":"a","type":"t","title":"z","idempotencyKey":"k"},{"userId":"a","type":"t","title":"z","idempotencyKey":"k"}]}`)
	if r.status != http.StatusCreated || strings.Contains(string(r.body), "encodedBy") || !strings.Contains(string(r.body), `"title":"z"`) {
		t.Fatalf("batch with a replay: %d %s, want both encoded whole", r.status, r.body)
	}
}
