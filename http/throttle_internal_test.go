package http

import (
	"net/http"
	"testing"
)

func TestThrottleKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.7:4711", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:4711", "192.0.2.7"},             // an IPv4 client of a dual-stack listener
		{"[2001:db8:1:2:3:4:5:6]:4711", "2001:db8:1:2::/64"}, // one host holds a /64
		{"[2001:db8:1:2:ffff::1]:80", "2001:db8:1:2::/64"},   // so its other addresses share the bucket
		{"[fe80::1%eth0]:4711", "fe80::1%eth0"},              // a zone: kept whole
		{"not-an-address", "not-an-address"},                 // no port: RemoteAddr as given
		{"unix-socket-peer:0", "unix-socket-peer"},           // a host that is not an IP
	}
	for _, tt := range tests {
		if got := throttleKey(&http.Request{RemoteAddr: tt.remote}); got != tt.want {
			t.Errorf("throttleKey(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { throttleKey(&http.Request{RemoteAddr: "192.0.2.7:4711"}) }); n != 0 {
		t.Errorf("an IPv4 key took %v allocations, want none", n)
	}
}
