package http_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/hostiletest"
)

// FuzzRequestBodies posts arbitrary bodies to every route of a fully wired
// Server that reads one, with valid credentials so the body is what decides
// the answer. The answer must never be a 5xx, and must be 2xx or the JSON
// error shape; a body over the route's limit must be 413.
func FuzzRequestBodies(f *testing.F) {
	e := hostileEnv(f)
	routes := hostileRoutes(e)
	var withBody []hostiletest.Route
	for _, name := range slices.Sorted(maps.Keys(routes)) {
		if routes[name].Body != "" {
			withBody = append(withBody, routes[name])
		}
	}
	for i, rt := range withBody {
		f.Add(uint8(i), rt.Body)
		f.Add(uint8(i), strings.Replace(rt.Body, "{", `{"userId":"a","USERID":"b",`, 1))
		f.Add(uint8(i), `{"n":1e999999,"data":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`)
	}
	f.Add(uint8(0), "{\"x\":\"\xff\"}")
	f.Add(uint8(1), `[`)
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := withBody[int(route)%len(withBody)]
		r := httptest.NewRequest(rt.Method, rt.Path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", rt.Auth)
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case w.Code >= 500:
			t.Fatalf("%s %s: %d %s for %q", rt.Method, rt.Path, w.Code, w.Body, body)
		case int64(len(body)) > rt.Limit && w.Code != http.StatusRequestEntityTooLarge:
			t.Fatalf("%s %s: %d for a body of %d bytes over the limit %d", rt.Method, rt.Path, w.Code, len(body), rt.Limit)
		case w.Code < 400:
			return
		}
		var b struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error.Code == "" {
			t.Fatalf("%s %s: %d answer %q is not the error shape", rt.Method, rt.Path, w.Code, w.Body)
		}
	})
}
