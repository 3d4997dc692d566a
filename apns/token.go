package apns

import (
	"crypto/ecdsa"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// providerToken makes and caches the ES256 provider token APNs takes in the
// authorization header. Apple refuses a token older than an hour and one
// renewed more often than every 20 minutes, so it is renewed after TTL
// (default 40 minutes) and when APNs calls it expired.
type providerToken struct {
	key    *ecdsa.PrivateKey
	keyID  string
	teamID string
	ttl    time.Duration
	now    func() time.Time

	mu     sync.Mutex
	signed string
	issued time.Time
}

// get returns a token issued less than ttl ago, making a new one if needed.
func (p *providerToken) get() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.signed != "" && now.Sub(p.issued) < p.ttl && !now.Before(p.issued) {
		return p.signed, nil
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": p.teamID, "iat": now.Unix()})
	t.Header["kid"] = p.keyID
	s, err := t.SignedString(p.key)
	if err != nil {
		return "", err
	}
	p.signed, p.issued = s, now
	return s, nil
}

// expire drops the cached token if it is still signed, so the next request
// makes a new one.
func (p *providerToken) expire(signed string) {
	p.mu.Lock()
	if p.signed == signed {
		p.signed = ""
	}
	p.mu.Unlock()
}
