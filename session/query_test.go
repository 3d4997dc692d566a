package session

import (
	"net/url"
	"testing"
)

func TestQueryValue(t *testing.T) {
	for _, c := range []struct {
		raw, key, want string
		has            bool
	}{
		{"token=a.b.c&userId=u1", "token", "a.b.c", true},
		{"token=a.b.c&userId=u1", "userId", "u1", true},
		{"userId=u1", "token", "", false},
		{"token&userId=u1", "token", "", true},
		{"token=&userId=u1", "token", "", true},
		{"token=first&token=second", "token", "first", true},
		{"token=bad%zz&token=good", "token", "good", true},
		{"token=x;y&token=z", "token", "z", true},
		{"%74oken=esc", "token", "esc", true},
		{"user+Id=a", "user Id", "a", true},
		{"since=1%32", "since", "12", true},
		{"since=a+b", "since", "a b", true},
		{"&&since=3&", "since", "3", true},
		{"", "since", "", false},
	} {
		got, has := queryValue(c.raw, c.key)
		if got != c.want || has != c.has {
			t.Errorf("queryValue(%q, %q) = %q, %v; want %q, %v", c.raw, c.key, got, has, c.want, c.has)
		}
	}
}

// FuzzQueryValue holds queryValue to what url.ParseQuery makes of the same
// query, for the keys a handshake asks for and any other.
func FuzzQueryValue(f *testing.F) {
	for _, s := range []string{
		"token=eyJhbGciOiJIUzI1NiJ9.e30.sig&userId=alice&since=12",
		"userId=a%20b&token=x+y", "token=%zz&token=ok", "a;b=c&token=t", "%74oken=1&since", "==&=x&token==",
	} {
		f.Add(s, "token")
	}
	f.Fuzz(func(t *testing.T, raw, key string) {
		q, _ := url.ParseQuery(raw)
		got, has := queryValue(raw, key)
		if want := q.Get(key); got != want || has != q.Has(key) {
			t.Fatalf("queryValue(%q, %q) = %q, %v; url.ParseQuery says %q, %v", raw, key, got, has, want, q.Has(key))
		}
	})
}

// The handshake's reads of its URL: the token, the user and the resume
// point, as each connect makes them, by a scan and by url.ParseQuery.
func BenchmarkHandshakeQuery(b *testing.B) {
	raw := "userId=user-000123&token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJ1c2VySWQiOiJ1c2VyLTAwMDEyMyIsImV4cCI6MTc5OTk5OTk5OSwiaWF0IjoxNzk5OTk2Mzk5fQ." +
		"bWFkZS11cC1zaWduYXR1cmUtb2YtdGhpcnR5LXR3by1i"
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u, _ := queryValue(raw, "userId")
			t, _ := queryValue(raw, "token")
			s, _ := queryValue(raw, "since")
			if u == "" || t == "" || s != "" {
				b.Fatal("wrong values")
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			q, _ := url.ParseQuery(raw) // Credentials' call
			u, t := q.Get("userId"), q.Get("token")
			s := url.Values(must(url.ParseQuery(raw))).Get("since") // the handshake's own
			if u == "" || t == "" || s != "" {
				b.Fatal("wrong values")
			}
		}
	})
}

func must(v url.Values, _ error) url.Values { return v }
