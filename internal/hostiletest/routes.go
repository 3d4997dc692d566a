package hostiletest

import (
	"strings"

	heraldhttp "github.com/heraldhq/herald/http"
)

// APIRoutes returns a Route for every pattern the http Server may mount,
// keyed by the pattern as Server.Routes reports it, with apiKey on the
// backend routes, userToken on the user's and a body each route accepts.
// Suites check the table against Server.Routes, so a new route without
// hostile cases fails them.
func APIRoutes(apiKey, userToken string) map[string]Route {
	key, user := "Bearer "+apiKey, "Bearer "+userToken
	small, batch, auth := int64(heraldhttp.DefaultMaxBodyBytes), int64(heraldhttp.DefaultMaxBatchBodyBytes), int64(16<<10)
	sub := `{"endpoint":"https://push.example/send/hostile","keys":{"p256dh":"B` + strings.Repeat("A", 86) + `","auth":"` + strings.Repeat("Q", 22) + `"}}`
	r := func(method, path, auth, body string, limit int64) Route {
		return Route{Method: method, Path: path, Auth: auth, Body: body, Limit: limit}
	}
	opaque := func(rt Route) Route { rt.Opaque = true; return rt }
	optional := func(rt Route) Route { rt.OptionalBody = true; return rt }
	return map[string]Route{
		"GET /healthz":                            r("GET", "/healthz", "", "", small),
		"GET /readyz":                             r("GET", "/readyz", "", "", small),
		"GET /metrics":                            r("GET", "/metrics", key, "", small),
		"POST /api/users/{userId}/messages":       opaque(r("POST", "/api/users/alice/messages", key, `{"type":"x","n":1}`, small)),
		"POST /api/channels/{channel}/messages":   opaque(r("POST", "/api/channels/news/messages", key, `{"type":"x","n":1}`, small)),
		"POST /api/broadcast":                     opaque(r("POST", "/api/broadcast", key, `{"type":"x","n":1}`, small)),
		"GET /api/users/{userId}/presence":        r("GET", "/api/users/alice/presence", key, "", small),
		"GET /api/stats":                          r("GET", "/api/stats", key, "", small),
		"POST /api/notifications":                 r("POST", "/api/notifications", key, `{"userId":"alice","type":"t","title":"T","message":"m"}`, batch),
		"POST /api/events":                        r("POST", "/api/events", key, `{"event":"booking:confirmed","data":{"userId":"alice","vehicleName":"Van","bookingId":7}}`, small),
		"POST /api/tokens":                        r("POST", "/api/tokens", key, `{"userId":"alice","ttl":"5m"}`, small),
		"POST /auth/login":                        r("POST", "/auth/login", "", `{"username":"backend","password":"correct horse battery"}`, auth),
		"POST /auth/refresh":                      r("POST", "/auth/refresh", "", `{"refreshToken":"not.a.token"}`, auth),
		"POST /auth/logout":                       optional(r("POST", "/auth/logout", "", `{"refreshToken":"not.a.token"}`, auth)),
		"GET /api/notifications":                  r("GET", "/api/notifications?limit=5", user, "", small),
		"GET /api/notifications/unread-count":     r("GET", "/api/notifications/unread-count", user, "", small),
		"POST /api/notifications/read-all":        r("POST", "/api/notifications/read-all", user, "", small),
		"POST /api/notifications/{id}/read":       r("POST", "/api/notifications/n1/read", user, "", small),
		"DELETE /api/notifications/{id}":          r("DELETE", "/api/notifications/n1", user, "", small),
		"GET /api/users/{userId}/preferences":     r("GET", "/api/users/alice/preferences", key, "", small),
		"PUT /api/users/{userId}/preferences":     r("PUT", "/api/users/alice/preferences", key, `{"timeZone":"UTC","email":"a@example.com"}`, small),
		"PATCH /api/users/{userId}/preferences":   r("PATCH", "/api/users/alice/preferences", key, `{"email":"a@example.com"}`, small),
		"GET /api/preferences":                    r("GET", "/api/preferences", user, "", small),
		"PUT /api/preferences":                    r("PUT", "/api/preferences", user, `{"timeZone":"UTC","email":"a@example.com"}`, small),
		"PATCH /api/preferences":                  r("PATCH", "/api/preferences", user, `{"email":"a@example.com"}`, small),
		"GET /api/push/key":                       r("GET", "/api/push/key", user, "", small),
		"GET /api/push/subscriptions":             r("GET", "/api/push/subscriptions", user, "", small),
		"POST /api/push/subscriptions":            r("POST", "/api/push/subscriptions", user, sub, small),
		"DELETE /api/push/subscriptions/{id}":     r("DELETE", "/api/push/subscriptions/x1", user, "", small),
		"GET /api/users/{userId}/deliveries":      r("GET", "/api/users/alice/deliveries", key, "", small),
		"GET /api/users/{userId}/devices":         r("GET", "/api/users/alice/devices", key, "", small),
		"POST /api/users/{userId}/devices":        r("POST", "/api/users/alice/devices", key, `{"platform":"fcm","token":"fcm-token:1"}`, small),
		"DELETE /api/users/{userId}/devices/{id}": r("DELETE", "/api/users/alice/devices/x1", key, "", small),
		"GET /api/devices":                        r("GET", "/api/devices", user, "", small),
		"POST /api/devices":                       r("POST", "/api/devices", user, `{"platform":"apns","token":"0a1b2c"}`, small),
		"DELETE /api/devices/{id}":                r("DELETE", "/api/devices/x1", user, "", small),
		"GET /api/deliveries":                     r("GET", "/api/deliveries", user, "", small),
		"GET /api/notifications/{id}/deliveries":  r("GET", "/api/notifications/n1/deliveries", user, "", small),
		// No route: the 404 and 405 answers bound bodies too.
		"(unknown API path)":          r("POST", "/api/nope", key, "", small),
		"(path of a mounted handler)": r("PUT", "/somewhere", "", "", small),
	}
}
