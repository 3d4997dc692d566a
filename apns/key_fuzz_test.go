package apns_test

import (
	"testing"

	"github.com/heraldhq/herald/apns"
)

// FuzzParseKey: any bytes as a .p8 file give a P-256 key or an error, never
// a panic.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("not a key"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := apns.ParseKey(b)
		if (k == nil) == (err == nil) {
			t.Fatalf("ParseKey = %v, %v", k, err)
		}
		if k != nil && k.Curve.Params().Name != "P-256" {
			t.Fatalf("curve %s", k.Curve.Params().Name)
		}
	})
}
