package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/memory"
)

// newDeliveryEnv is an env whose preference and delivery routes are served
// by the memory store.
func newDeliveryEnv(t *testing.T) (*env, *memory.Store) {
	st := memory.NewStore(memory.Config{})
	e := newEnv(t, func(c *heraldhttp.Config) {
		c.Preferences, c.Deliveries, c.VAPIDPublicKey = st, st, "BPublicKey"
	})
	return e, st
}

func (e *env) asJSON(user, method, path, body string) response {
	e.t.Helper()
	return e.do(req{method: method, path: path, auth: "Bearer " + e.token(user), body: body})
}

func TestPreferencesRoutes(t *testing.T) {
	e, st := newDeliveryEnv(t)

	r := e.as("ana", "GET", "/api/preferences")
	if r.status != 200 || r.json(t)["userId"] != "ana" || r.json(t)["updatedAt"] != nil {
		t.Fatalf("GET before any save: %d %s", r.status, r.body)
	}
	r = e.asJSON("ana", "PUT", "/api/preferences", `{"types":{"payment_due":{"email":true,"sms":false}},
		"timeZone":"Europe/Paris","quietHours":{"start":"22:00","end":"07:00"},"email":"ana@example.com",
		"phone":"+33612345678","webhookUrl":"https://hooks.example/ana","webhookSecret":"super-secret-value-123"}`)
	if r.status != 200 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "super-secret") || r.json(t)["webhookSecretSet"] != true {
		t.Fatalf("the answer shows the secret or hides that it is set: %s", r.body)
	}
	// A client that PUTs back what it read keeps the secret.
	got := e.as("ana", "GET", "/api/preferences")
	if r := e.asJSON("ana", "PUT", "/api/preferences", string(got.body)); r.status != 200 {
		t.Fatalf("PUT of what GET answered: %d %s", r.status, r.body)
	}
	p, _ := st.FindPreferences(context.Background(), "ana")
	if p.WebhookSecret != "super-secret-value-123" || p.TimeZone != "Europe/Paris" || !p.Types["payment_due"][herald.ChannelEmail] {
		t.Fatalf("stored after the round trip: %+v", p)
	}

	// PATCH changes what it names: a channel set to null is unset.
	r = e.asJSON("ana", "PATCH", "/api/preferences", `{"types":{"payment_due":{"sms":null},"*":{"push":true}},"quietHours":null}`)
	if r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	p, _ = st.FindPreferences(context.Background(), "ana")
	if _, set := p.Types["payment_due"][herald.ChannelSMS]; set || !p.Types["payment_due"][herald.ChannelEmail] ||
		!p.Types["*"][herald.ChannelPush] || p.QuietHours != nil || p.Email != "ana@example.com" {
		t.Fatalf("after PATCH: %+v", p)
	}

	for body, want := range map[string]string{
		`{"timeZone":"Mars/Base"}`:                                  "timeZone",
		`{"types":{"x":{"pigeon":true}}}`:                           "channel",
		`{"email":"nope"}`:                                          "email",
		`{"colour":"red"}`:                                          "colour",
		`{"quietHours":{"start":"9","end":"10"}}`:                   "quietHours",
		`{"webhookUrl":"https://x.example/h","webhookSecret":null}`: "webhookSecret",
	} {
		r := e.asJSON("ana", "PATCH", "/api/preferences", body)
		if msg := expectError(t, r, 400, herald.EINVALID); !strings.Contains(msg, want) {
			t.Fatalf("PATCH %s: message %q does not name %q", body, msg, want)
		}
	}

	// Backends read and change any user's preferences with the API key.
	r = e.do(req{method: "PATCH", path: "/api/users/bo/preferences", auth: "Bearer " + apiKey, body: `{"email":"bo@example.com"}`})
	if r.status != 200 || r.json(t)["email"] != "bo@example.com" {
		t.Fatalf("backend PATCH: %d %s", r.status, r.body)
	}
	if r := e.backend("GET", "/api/users/bo/preferences", ""); r.status != 200 || r.json(t)["email"] != "bo@example.com" {
		t.Fatalf("backend GET: %d %s", r.status, r.body)
	}
	expectError(t, e.as("ana", "GET", "/api/users/bo/preferences"), 401, herald.ETOKEN)
	expectError(t, e.backend("GET", "/api/preferences", ""), 401, herald.ETOKEN)
	expectError(t, e.do(req{method: "GET", path: "/api/preferences"}), 401, herald.ECREDENTIALS)
}

func TestPushSubscriptionRoutes(t *testing.T) {
	e, _ := newDeliveryEnv(t)
	if r := e.as("ana", "GET", "/api/push/key"); r.status != 200 || r.json(t)["publicKey"] != "BPublicKey" {
		t.Fatalf("GET /api/push/key: %d %s", r.status, r.body)
	}
	body := `{"endpoint":"https://push.example/send/abc","expirationTime":null,"keys":{"p256dh":"B` + strings.Repeat("A", 86) + `","auth":"` + strings.Repeat("Q", 22) + `"}}`
	r := e.asJSON("ana", "POST", "/api/push/subscriptions", body)
	if r.status != 201 {
		t.Fatalf("POST subscription: %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["id"].(string)
	var list struct{ Subscriptions []herald.PushSubscription }
	if err := json.Unmarshal(e.as("ana", "GET", "/api/push/subscriptions").body, &list); err != nil || len(list.Subscriptions) != 1 || list.Subscriptions[0].ID != id {
		t.Fatalf("list: %+v, %v", list, err)
	}
	expectError(t, e.as("bo", "DELETE", "/api/push/subscriptions/"+id), 404, herald.ENOTFOUND)

	// Bo posting ana's endpoint (with his own keys) must not take it over:
	// 409, and ana keeps her subscription with her keys.
	stolen := strings.Replace(body, strings.Repeat("Q", 22), strings.Repeat("R", 22), 1)
	expectError(t, e.asJSON("bo", "POST", "/api/push/subscriptions", stolen), 409, herald.ECONFLICT)
	if err := json.Unmarshal(e.as("ana", "GET", "/api/push/subscriptions").body, &list); err != nil || len(list.Subscriptions) != 1 ||
		list.Subscriptions[0].ID != id || list.Subscriptions[0].Auth != strings.Repeat("Q", 22) {
		t.Fatalf("ana's subscriptions after bo's attempt: %+v, %v", list, err)
	}
	if err := json.Unmarshal(e.as("bo", "GET", "/api/push/subscriptions").body, &list); err != nil || len(list.Subscriptions) != 0 {
		t.Fatalf("bo's subscriptions after a refused registration: %+v, %v", list, err)
	}

	if r := e.as("ana", "DELETE", "/api/push/subscriptions/"+id); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	expectError(t, e.asJSON("ana", "POST", "/api/push/subscriptions", `{"endpoint":"http://push.example/x","keys":{"p256dh":"x","auth":"y"}}`), 400, herald.EINVALID)
}

func TestDeliveryRoutes(t *testing.T) {
	e, st := newDeliveryEnv(t)
	ctx := context.Background()
	var ns []*herald.Notification
	for i := range 3 {
		n := &herald.NewNotification{UserID: "ana", Type: "t", Title: "n"}
		if i == 2 {
			n.UserID = "bo"
		}
		res, err := st.CreateNotifications(ctx, []*herald.NewNotification{n}, herald.CreateOptions{Planner: emailNow{}})
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, res[0].Notification)
		time.Sleep(2 * time.Millisecond)
	}
	claimed, err := st.ClaimDeliveries(ctx, time.Now().Add(time.Second), time.Minute, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	if err := st.FinishDelivery(ctx, claimed[0].ID, 1, herald.DeliveryResult{Status: herald.DeliveryDead, Error: "refused", At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	var page struct {
		Deliveries []herald.Delivery
		NextCursor *string
	}
	decode := func(r response) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		page.Deliveries, page.NextCursor = nil, nil
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
	}
	decode(e.as("ana", "GET", "/api/deliveries?limit=1"))
	if len(page.Deliveries) != 1 || page.NextCursor == nil || page.Deliveries[0].NotificationID != ns[1].ID {
		t.Fatalf("first page: %+v", page)
	}
	decode(e.as("ana", "GET", "/api/deliveries?limit=1&before="+*page.NextCursor))
	if len(page.Deliveries) != 1 || page.NextCursor != nil || page.Deliveries[0].NotificationID != ns[0].ID {
		t.Fatalf("second page: %+v", page)
	}
	decode(e.as("ana", "GET", "/api/deliveries?status=dead"))
	if len(page.Deliveries) != 1 || page.Deliveries[0].Status != herald.DeliveryDead || page.Deliveries[0].LastError != "refused" {
		t.Fatalf("dead: %+v", page)
	}
	decode(e.as("ana", "GET", "/api/notifications/"+ns[2].ID+"/deliveries"))
	if len(page.Deliveries) != 0 {
		t.Fatalf("ana sees bo's deliveries: %+v", page)
	}
	decode(e.backend("GET", "/api/users/bo/deliveries", ""))
	if len(page.Deliveries) != 1 || page.Deliveries[0].UserID != "bo" {
		t.Fatalf("backend view of bo: %+v", page)
	}
	expectError(t, e.as("ana", "GET", "/api/deliveries?status=lost"), 400, herald.EINVALID)
	expectError(t, e.as("ana", "GET", "/api/deliveries?before=nope"), 400, herald.EINVALID)
}

func TestCreateCarriesCritical(t *testing.T) {
	e := newEnv(t, nil)
	r := e.backend("POST", "/api/notifications", `{"userId":"ana","type":"t","title":"x","critical":true}`)
	if r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	e.inbox.mu.Lock()
	defer e.inbox.mu.Unlock()
	if len(e.inbox.requests) == 0 || !e.inbox.requests[len(e.inbox.requests)-1].Critical {
		t.Fatal("critical did not reach the inbox")
	}
}

// emailNow is a planner that plans one email, due now, for every notification.
type emailNow struct{}

func (emailNow) Plan(*herald.NewNotification, *herald.Preferences, herald.PushTargets, time.Time) herald.Plan {
	return herald.Plan{Deliveries: []*herald.Delivery{{Channel: herald.ChannelEmail, Kind: herald.DeliveryImmediate, DueAt: time.Now()}}}
}

func (emailNow) UsesPush() bool { return false }
