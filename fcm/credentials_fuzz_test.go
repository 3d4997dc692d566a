package fcm_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/fcm"
)

// FuzzParseCredentials: any bytes as a service-account file give checked
// credentials or an error that does not quote the key, never a panic.
func FuzzParseCredentials(f *testing.F) {
	f.Add([]byte(`{"type":"service_account","project_id":"p","client_email":"a@b","private_key":"x","token_uri":"https://t/token"}`))
	f.Add([]byte(`{"type":"service_account"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := fcm.ParseCredentials(b)
		if (c == nil) == (err == nil) {
			t.Fatalf("ParseCredentials = %v, %v", c, err)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Fatalf("error quotes the key: %v", err)
		}
		if c != nil && (c.ProjectID == "" || c.ClientEmail == "" || !strings.Contains(c.TokenURI, "://")) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
