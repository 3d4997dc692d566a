package jwt

import (
	"context"
	"slices"
	"sync"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
)

// Verifier checks tokens against Herald's secrets and the trusted issuers'
// public keys. It implements herald.TokenVerifier and is safe for concurrent
// use.
type Verifier struct {
	cfg     Config
	own     []Key // Herald's HS256 secrets, Public holding the []byte
	trusted map[string]*TrustedIssuer
	kinds   []herald.TokenKind
	parser  *gojwt.Parser
	// validator checks the times of the claims ownClaims decodes, with
	// the parser's options.
	validator *gojwt.Validator
	macs      []sync.Pool // HMAC hashers of own's secrets, in order; see signedBy
	heads     []string    // the headers Herald's Issuer writes with own's secrets, in order
}

var _ herald.TokenVerifier = (*Verifier)(nil)

// NewVerifier returns a Verifier for c. Secrets are copied, so the caller may
// reuse its slices. A trusted issuer's key that cannot verify anything
// (see Key) is left out; check keys with LoadPEMFiles and ParseJWKS first.
func NewVerifier(c Config) *Verifier {
	v := &Verifier{cfg: c, trusted: make(map[string]*TrustedIssuer), kinds: c.Kinds}
	for _, s := range append([][]byte{c.Secret}, c.PreviousSecrets...) {
		if len(s) > 0 {
			s = append([]byte(nil), s...)
			v.own = append(v.own, Key{ID: hmacKeyID(s), Public: s})
		}
	}
	v.macs = newMACs(v.own)
	v.heads = ownHeaders(v.own)
	for i := range c.Trusted {
		ti := c.Trusted[i]
		ti.Keys = slices.DeleteFunc(slices.Clone(ti.Keys), func(k Key) bool { return k.alg() == "" })
		v.trusted[ti.Name] = &ti
	}
	if len(v.kinds) == 0 {
		v.kinds = []herald.TokenKind{herald.TokenConnection, herald.TokenAccess}
	}
	opts := []gojwt.ParserOption{
		gojwt.WithValidMethods(methods),
		gojwt.WithExpirationRequired(),
		gojwt.WithIssuedAt(),
		gojwt.WithLeeway(c.leeway()),
		gojwt.WithTimeFunc(c.now),
		gojwt.WithStrictDecoding(),
	}
	v.parser = gojwt.NewParser(opts...)
	v.validator = gojwt.NewValidator(opts...)
	return v
}

// errInvalid is the one answer to every bad token. It deliberately says
// nothing about why, so the error cannot leak the token or help forge one.
func errInvalid() error { return herald.Errorf(herald.ETOKEN, "Invalid or expired token") }

// Verify checks token's signature, algorithm, issuer, audience, kind and
// times, and asks Config.Revoked, and returns its claims. An empty token is
// ECREDENTIALS; any other failure is ETOKEN.
func (v *Verifier) Verify(ctx context.Context, token string) (*herald.Claims, error) {
	if token == "" {
		return nil, herald.Errorf(herald.ECREDENTIALS, "Missing authentication credentials")
	}
	if screen(token, v.heads) != nil {
		return nil, errInvalid()
	}
	var tc tokenClaims
	var ownKey bool // verified with one of Herald's secrets
	var err error
	switch v.signedBy(token) { // before the library decodes anything
	case sigForged:
		return nil, errInvalid()
	case sigOwn:
		tc, err = v.ownClaims(token)
		ownKey = true
	default:
		tc, ownKey, err = v.libraryClaims(ctx, token)
	}
	if err != nil {
		return nil, errInvalid()
	}
	return v.claims(ctx, &tc, ownKey)
}

// libraryClaims verifies token with the library: its header, the key its
// issuer and kid pick (see keys), its signature and its times. own says the
// key was one of Herald's secrets.
func (v *Verifier) libraryClaims(ctx context.Context, token string) (tokenClaims, bool, error) {
	var tc tokenClaims
	var own bool
	t, err := v.parser.ParseWithClaims(token, &tc, func(t *gojwt.Token) (any, error) {
		keys, ownKey, err := v.keys(ctx, t, tc.Issuer)
		own = ownKey
		return keys, err
	})
	if err == nil && !t.Valid {
		err = gojwt.ErrTokenInvalidClaims
	}
	return tc, own, err
}

// claims turns verified token claims into Herald's, checking what Herald
// asks beyond the token's signature and times: a valid user id, a kind this
// verifier takes (access and refresh from Herald only), the audience, and
// Config.Revoked.
func (v *Verifier) claims(ctx context.Context, tc *tokenClaims, ownKey bool) (*herald.Claims, error) {
	c := &herald.Claims{
		UserID:    tc.UserID,
		Channels:  tc.Channels,
		ExpiresAt: tc.ExpiresAt.Time,
		ID:        tc.ID,
		Kind:      herald.TokenKind(tc.Type),
		Issuer:    tc.Issuer,
		Audience:  tc.Audience,
		SessionID: tc.SessionID,
	}
	if c.UserID == "" {
		c.UserID = tc.Subject
	}
	if tc.IssuedAt != nil {
		c.IssuedAt = tc.IssuedAt.Time
	}
	if c.Kind == "" {
		c.Kind = herald.TokenConnection
	}
	switch {
	case !herald.ValidUserID(c.UserID):
		return nil, errInvalid()
	case !slices.Contains(v.kinds, c.Kind):
		return nil, errInvalid() // unknown typ, or a kind this verifier does not take
	case c.Kind != herald.TokenConnection && !ownKey:
		return nil, errInvalid() // only Herald issues access and refresh tokens
	case !v.audienceOK(c, ownKey):
		return nil, errInvalid()
	}
	if v.cfg.Revoked != nil {
		revoked, err := v.cfg.Revoked(ctx, c)
		if err != nil {
			return nil, herald.Errorf(herald.EINTERNAL, "Cannot check the token's revocation")
		}
		if revoked {
			return nil, errInvalid()
		}
	}
	return c, nil
}

// keys returns the keys that may verify t, a token claiming issuer iss: the
// issuer's keys of t's algorithm, narrowed to t's kid when it names one. own
// says they are Herald's secrets. The jku, jwk, x5u and x5c headers are
// ignored: a token never picks its own key.
func (v *Verifier) keys(ctx context.Context, t *gojwt.Token, iss string) (gojwt.VerificationKeySet, bool, error) {
	var set gojwt.VerificationKeySet
	kid, hasKid := t.Header["kid"]
	kidStr, ok := kid.(string)
	if hasKid && (!ok || kidStr == "") {
		return set, false, gojwt.ErrTokenUnverifiable
	}
	alg := t.Method.Alg()
	pick := func(keys []Key, alg string) {
		for _, k := range keys {
			if (!hasKid || k.ID == kidStr) && (alg == "" || k.alg() == alg) {
				set.Keys = append(set.Keys, k.Public)
			}
		}
	}
	if alg == algorithm.Alg() {
		// HS256 is Herald's own, checked against its secrets only, and
		// only for tokens of its own issuer.
		if iss == v.cfg.Issuer {
			pick(v.own, "")
		}
		if len(set.Keys) == 0 {
			return set, false, gojwt.ErrTokenUnverifiable
		}
		return set, true, nil
	}
	ti := v.trusted[iss]
	if ti == nil {
		return set, false, gojwt.ErrTokenUnverifiable
	}
	pick(ti.Keys, alg)
	if ti.JWKS != nil {
		pick(ti.JWKS.Keys(), alg)
		// A kid the set lacks may be the issuer's new key: fetch the set
		// again (at most once per MinRefresh) and look once more.
		if len(set.Keys) == 0 && hasKid && ti.JWKS.refreshForKid(ctx, kidStr) {
			pick(ti.JWKS.Keys(), alg)
		}
	}
	if len(set.Keys) == 0 {
		return set, false, gojwt.ErrTokenUnverifiable
	}
	return set, false, nil
}

// audienceOK checks aud against the audience configured for the token's
// issuer; with none configured, any aud (or none) passes.
func (v *Verifier) audienceOK(c *herald.Claims, own bool) bool {
	want := v.cfg.Audience
	if ti := v.trusted[c.Issuer]; !own && ti != nil && ti.Audience != "" {
		want = ti.Audience
	}
	return want == "" || slices.Contains(c.Audience, want)
}
