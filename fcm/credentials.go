package fcm

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"

	"github.com/heraldhq/herald"
)

// DefaultTokenURL is Google's OAuth 2 token endpoint, for credentials that
// name none.
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// Credentials is a Google service-account key file, the JSON the Firebase
// console downloads (Project settings → Service accounts → Generate new
// private key).
type Credentials struct {
	Type         string `json:"type"` // "service_account"
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"` // PEM, PKCS #8 RSA
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// ParseCredentials reads a service-account key file and checks it: the
// service_account type, a project id, a client email, an RSA private key and
// an https token URI (http only on a loopback host, for tests). Errors never
// quote the key.
func ParseCredentials(b []byte) (*Credentials, error) {
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, herald.Errorf(herald.EINVALID, "fcm: the credentials file is not a JSON service-account key")
	}
	if c.TokenURI == "" {
		c.TokenURI = DefaultTokenURL
	}
	u, err := url.Parse(c.TokenURI)
	switch {
	case c.Type != "service_account":
		return nil, herald.Errorf(herald.EINVALID, `fcm: the credentials must be a service-account key ("type": "service_account")`)
	case c.ProjectID == "" || !pathSafe(c.ProjectID):
		return nil, herald.Errorf(herald.EINVALID, "fcm: the credentials have no valid project_id")
	case c.ClientEmail == "":
		return nil, herald.Errorf(herald.EINVALID, "fcm: the credentials have no client_email")
	case err != nil || u.Host == "" || u.User != nil || !(u.Scheme == "https" || u.Scheme == "http" && loopback(u.Hostname())):
		return nil, herald.Errorf(herald.EINVALID, "fcm: the credentials' token_uri must be an https URL")
	}
	if _, err := rsaKey([]byte(c.PrivateKey)); err != nil {
		return nil, err
	}
	return &c, nil
}

// rsaKey parses the service account's PEM private key.
func rsaKey(b []byte) (*rsa.PrivateKey, error) {
	bad := herald.Errorf(herald.EINVALID, "fcm: the credentials' private_key must be a PEM RSA private key")
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, bad
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, bad
	}
	rk, ok := key.(*rsa.PrivateKey)
	if err != nil || !ok {
		return nil, bad
	}
	return rk, nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// pathSafe reports whether s can stand in a URL path segment as it is:
// project ids are lower-case letters, digits and hyphens.
func pathSafe(s string) bool {
	if len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
