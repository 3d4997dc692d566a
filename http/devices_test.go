package http_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/memory"
)

// TestDeviceRoutes: users register, list and remove their own phones with
// their connection token, backends any user's with the API key; a token
// another user holds is refused with 409 and stays theirs; malformed
// devices are 400; and no token reaches the log.
func TestDeviceRoutes(t *testing.T) {
	st := memory.NewStore(memory.Config{})
	e := newEnv(t, func(c *heraldhttp.Config) { c.Devices = st })
	const iphone = "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0"
	r := e.asJSON("ana", "POST", "/api/devices", `{"platform":"apns","token":"`+iphone+`","appId":"com.example.app"}`)
	if r.status != 201 || r.json(t)["platform"] != "apns" || r.json(t)["userId"] != "ana" {
		t.Fatalf("POST /api/devices: %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["id"].(string)
	var list struct{ Devices []herald.Device }
	if err := json.Unmarshal(e.as("ana", "GET", "/api/devices").body, &list); err != nil || len(list.Devices) != 1 || list.Devices[0].ID != id || list.Devices[0].AppID != "com.example.app" {
		t.Fatalf("GET /api/devices: %+v, %v", list, err)
	}

	// Bo registering ana's token (as a user or through a backend) is
	// refused, and the phone stays ana's.
	expectError(t, e.asJSON("bo", "POST", "/api/devices", `{"platform":"apns","token":"`+iphone+`"}`), 409, herald.ECONFLICT)
	expectError(t, e.backend("POST", "/api/users/bo/devices", `{"platform":"apns","token":"`+iphone+`"}`), 409, herald.ECONFLICT)
	if err := json.Unmarshal(e.as("bo", "GET", "/api/devices").body, &list); err != nil || len(list.Devices) != 0 {
		t.Fatalf("bo's devices after a refused takeover: %+v, %v", list, err)
	}
	expectError(t, e.as("bo", "DELETE", "/api/devices/"+id), 404, herald.ENOTFOUND)

	// Backends manage any user's devices.
	r = e.backend("POST", "/api/users/bo/devices", `{"platform":"fcm","token":"bo-fcm:APA91b-token"}`)
	if r.status != 201 {
		t.Fatalf("backend POST: %d %s", r.status, r.body)
	}
	boID, _ := r.json(t)["id"].(string)
	if err := json.Unmarshal(e.backend("GET", "/api/users/bo/devices", "").body, &list); err != nil || len(list.Devices) != 1 || list.Devices[0].ID != boID {
		t.Fatalf("backend GET: %+v, %v", list, err)
	}
	if r := e.backend("DELETE", "/api/users/bo/devices/"+boID, ""); r.status != 204 {
		t.Fatalf("backend DELETE: %d %s", r.status, r.body)
	}
	expectError(t, e.backend("DELETE", "/api/users/bo/devices/"+boID, ""), 404, herald.ENOTFOUND)

	for body, want := range map[string]string{
		`{"platform":"sms","token":"x"}`:               "platform",
		`{"platform":"apns","token":"not hex"}`:        "token",
		`{"platform":"fcm","token":""}`:                "token",
		`{"platform":"fcm","token":"a","appId":"a b"}`: "appId",
		`["fcm"]`: "object",
	} {
		if msg := expectError(t, e.asJSON("ana", "POST", "/api/devices", body), 400, herald.EINVALID); !strings.Contains(msg, want) {
			t.Fatalf("POST %s: message %q does not name %q", body, msg, want)
		}
	}
	expectError(t, e.as("ana", "GET", "/api/users/ana/devices"), 401, herald.ETOKEN)
	expectError(t, e.backend("GET", "/api/devices", ""), 401, herald.ETOKEN)

	if r := e.as("ana", "DELETE", "/api/devices/"+id); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if strings.Contains(e.logs.String(), iphone) || strings.Contains(e.logs.String(), "APA91b") {
		t.Fatal("a device token reached the log")
	}
}
